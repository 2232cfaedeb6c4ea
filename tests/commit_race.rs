//! A race: one thread swaps a directory of SRC for a symlink (to a directory outside SRC) and
//! back, in a loop, with an atomic exchange, while 200 commits run (and 50 in the passthrough
//! mode and on btrfs, XFS and ext4 images). Whatever each commit meets
//! (a directory, a symlink, one then the other), nothing outside SRC ever changes.
#![cfg(unix)]

mod common;

use common::hostile::*;
use common::*;
use rustix::fs::{CWD, RenameFlags, renameat_with};
use std::fs;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

fn race(place: Place, commits: usize) {
    if !fuse_available() {
        return;
    }
    let Some(s) = place.setup(|src| {
        sh(src, "mkdir d && for i in $(seq 0 199); do printf \"m$i\\n\" > d/m$i; done");
    }) else {
        return;
    };
    let other = OtherFs::new();
    for dir in [s.outside.as_path(), other.path()] {
        decoy(dir);
        sh(&s.f.src, &format!("cp -a d {}/", dir.display()));
    }
    let decoys = (fingerprint(&s.outside), fingerprint(other.path()));
    sh(&s.f.src, &format!("ln -s {}/d dlink", s.outside.display()));
    s.mount();
    let (src, mnt) = (&s.f.src, &s.f.mnt);
    let stop = AtomicBool::new(false);
    let swaps = AtomicUsize::new(0);
    let mut codes = [0usize; 3];
    std::thread::scope(|sc| {
        sc.spawn(|| {
            let (d, l) = (src.join("d"), src.join("dlink"));
            // Each state lasts from 0.1 to 100 ms, so commits meet every interleaving: the
            // symlink at planning, or only after the commit point, or while rolling back.
            let mut rng = 0x9E37_79B9_7F4A_7C15u64;
            while !stop.load(Ordering::Relaxed) {
                renameat_with(CWD, &d, CWD, &l, RenameFlags::EXCHANGE).unwrap();
                swaps.fetch_add(1, Ordering::Relaxed);
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                std::thread::sleep(Duration::from_micros(100 + rng % 100_000));
            }
        });
        for i in 0..commits {
            // Fresh paths each time (a new file, a pinned file changed), and the earlier ones stay.
            sh(mnt, &format!("printf {i} > d/n{i} && printf changed >> d/m{i} && chmod 600 d/m{i}"));
            let (code, err) = commit_code(&s.f, mnt, &[]);
            match code {
                0 => codes[0] += 1,
                7 => {
                    codes[1] += 1;
                    if codes[1] % 40 == 1 {
                        eprintln!("commit {i}: {err}");
                    }
                }
                1 => codes[2] += 1,
                _ => panic!("commit {i}: exit {code}: {err}"),
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    eprintln!(
        "{}: {commits} commits during {} swaps: {} went through, {} conflicts, {} stopped and rolled back",
        place.name(),
        swaps.load(Ordering::Relaxed),
        codes[0],
        codes[1],
        codes[2]
    );
    assert_same(&fingerprint(&s.outside), &decoys.0, "outside SRC");
    assert_same(&fingerprint(other.path()), &decoys.1, "the other filesystem");
    // Settled: d a directory again, gc, and the commit goes through.
    if fs::symlink_metadata(src.join("d")).unwrap().file_type().is_symlink() {
        renameat_with(CWD, src.join("d"), CWD, src.join("dlink"), RenameFlags::EXCHANGE).unwrap();
    }
    let (code, out) = gc_code(&s.f, &[]);
    assert!(code == 0 || out.contains("set aside"), "{out}");
    assert_same(&fingerprint(&s.outside), &decoys.0, "outside SRC, after gc");
    for p in staging_left(&s.f) {
        // Kept by a commit set aside (it could be neither finished nor rolled back).
        eprintln!("kept for a person: {}", p.display());
        sh(std::path::Path::new("/"), &format!("rm -rf '{}'", p.display()));
    }
    s.f.unmount();
}

#[test]
fn swapping_a_directory_for_a_symlink_during_200_commits_writes_nothing_outside() {
    race(Place::Tmp(Mode::Pinned), 200);
}

#[test]
fn the_race_in_passthrough_mode() {
    race(Place::Tmp(Mode::Passthrough), 50);
}

#[test]
fn the_race_on_btrfs() {
    race(Place::Loop("btrfs"), 50);
}

#[test]
fn the_race_on_xfs() {
    race(Place::Loop("xfs"), 50);
}

#[test]
fn the_race_on_ext4() {
    race(Place::Loop("ext4"), 50);
}
