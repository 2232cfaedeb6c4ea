//! A commit killed with SIGKILL at a random point, 200 times: after `agentfs gc`, SRC is always
//! either exactly as before the commit or exactly as the mount shows it, and nothing of the
//! commit is left behind: no journal, no staging directory, no lock on SRC. Then 40 times more
//! each on btrfs (snapshot pins), XFS (reflink pins) and ext4 (copy pins) loop images.
#![cfg(unix)]

mod common;

use common::hostile::{Place, flocked, spawn_tracked, staging_left};
use common::*;
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn tree(src: &Path) {
    sh(
        src,
        "mkdir -p a/b c d
         for i in $(seq 1 40); do printf \"file $i\\n\" > a/f$i; done
         for i in $(seq 1 10); do printf \"deep $i\\n\" > a/b/g$i; done
         printf 'keep' > c/keep
         printf 'gone' > d/gone
         head -c 3000000 /dev/zero | tr '\\0' 'z' > big
         ln -s a/f1 link",
    );
}

fn changes(m: &Path) {
    sh(
        m,
        "for i in $(seq 1 40); do printf \"changed $i\\n\" > a/f$i; done
         mkdir -p new/x && for i in $(seq 1 20); do printf \"new $i\\n\" > new/x/n$i; done
         mv a/b renamed-b
         rm -r d
         chmod 700 c
         printf 'tail' >> big
         rm link && ln -s c/keep link",
    );
}

/// Copies `from` over `to` exactly (content, modes, times), emptying `to` first.
fn restore(from: &Path, to: &Path) {
    sh(to, &format!("find . -mindepth 1 -maxdepth 1 -exec rm -rf {{}} + && cp -a {}/. .", from.display()));
}

fn killed_anywhere(place: Place, runs: usize) {
    if !fuse_available() {
        return;
    }
    let Some(s) = place.setup(tree) else { return };
    let f = &s.f;
    let pristine = f.dir.path().join("pristine");
    sh(f.dir.path(), &format!("cp -a {} {}", f.src.display(), pristine.display()));
    s.mount();
    changes(&f.mnt);
    let before = view(&f.src);
    let after = view(&f.mnt);
    assert_ne!(before, after);

    // Full commits, to learn how long one takes (the first commit and a later one differ: the
    // later ones also compare with what the first left).
    let mut full = Duration::ZERO;
    for _ in 0..2 {
        restore(&pristine, &f.src);
        let t = Instant::now();
        let out = f.run(&[os("commit"), f.mnt.as_os_str()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        full = full.max(t.elapsed());
        assert_eq!(view(&f.src), after);
    }

    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let (mut rolled_back, mut finished) = (0, 0);
    for run in 0..runs {
        restore(&pristine, &f.src);
        assert_eq!(view(&f.src), before);
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let delay = Duration::from_micros(rng % (full.as_micros() as u64 * 12 / 10 + 1));
        let mut child = spawn_tracked(
            &f.runtime,
            agentfs_cmd(&f.runtime).arg("commit").arg(&f.mnt).stdout(Stdio::null()).stderr(Stdio::null()),
        );
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let gc = f.run(&[os("gc")]);
        assert!(gc.status.success(), "run {run}: gc failed: {}", String::from_utf8_lossy(&gc.stderr));
        let now = view(&f.src);
        if now == before {
            rolled_back += 1;
        } else if now == after {
            finished += 1;
        } else {
            panic!("{}: run {run} (killed after {delay:?}): SRC is neither before nor after the commit", place.name());
        }
        let journals = f.runtime.with_file_name("state").join("commits");
        let left = fs::read_dir(&journals).map(|r| r.count()).unwrap_or(0);
        assert_eq!(left, 0, "run {run}: a journal is left");
        assert!(staging_left(f).is_empty(), "run {run}: staging left: {:?}", staging_left(f));
        assert!(!flocked(&f.src), "run {run}: SRC is still locked");
    }
    eprintln!(
        "{}: {runs} kills: {rolled_back} rolled back, {finished} finished (a full commit takes {full:?})",
        place.name()
    );
    assert!(rolled_back > 0 && finished > 0, "the kills must land on both sides of the commit point");
    f.unmount();
}

#[test]
fn a_commit_killed_anywhere_is_finished_or_rolled_back_by_gc() {
    killed_anywhere(Place::Tmp(Mode::Pinned), 200);
}

#[test]
fn a_commit_killed_anywhere_on_btrfs() {
    killed_anywhere(Place::Loop("btrfs"), 40);
}

#[test]
fn a_commit_killed_anywhere_on_xfs() {
    killed_anywhere(Place::Loop("xfs"), 40);
}

#[test]
fn a_commit_killed_anywhere_on_ext4() {
    killed_anywhere(Place::Loop("ext4"), 40);
}
