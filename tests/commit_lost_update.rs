//! No lost update: a change is written, or the commit fails with exit 7 naming the path. SRC and
//! the mount are compared by content, so equal sizes and modification times fool nothing: two
//! mounts changing one file alike in size and mtime, an outside edit that keeps both, and two
//! commits into one SRC at the same time, 50 rounds.
#![cfg(unix)]

mod common;

use common::hostile::*;
use common::*;
use std::fs;
use std::path::Path;

const STAMP: &str = "2020-01-01 00:00:00";

fn two_mounts_changing_one_file_alike(place: Place) {
    if !fuse_available() {
        return;
    }
    let Some(s) = place.setup(|src| {
        sh(src, "printf 'AAAA\\n' > f && printf g > g");
    }) else {
        return;
    };
    let m2 = s.f.dir.path().join("m2");
    fs::create_dir(&m2).unwrap();
    s.mount();
    s.mount_at(&m2);
    let m1 = &s.f.mnt;
    sh(m1, &format!("printf '1111\\n' > f && touch -d '{STAMP}' f"));
    sh(&m2, &format!("printf '2222\\n' > f && touch -d '{STAMP}' f && printf new > other"));
    let (code, err) = commit_code(&s.f, m1, &[]);
    assert_eq!(code, 0, "{}: {err}", place.name());
    let before = fingerprint(&s.f.src);
    let (code, err) = commit_code(&s.f, &m2, &[]);
    assert_eq!(code, 7, "{}: the second commit must not pass as done: {err}", place.name());
    assert!(err.contains(&m2.join("f").display().to_string()), "{}: {err}", place.name());
    assert_same(&fingerprint(&s.f.src), &before, &format!("{}: nothing written", place.name()));
    assert_eq!(fs::read(s.f.src.join("f")).unwrap(), b"1111\n");
    // An outside edit that keeps size and mtime, under a change of the first mount.
    sh(&s.f.src, &format!("printf 'BBBB\\n' > f && touch -d '{STAMP}' f"));
    sh(m1, &format!("printf '3333\\n' > f && touch -d '{STAMP}' f"));
    let before = fingerprint(&s.f.src);
    let (code, err) = commit_code(&s.f, m1, &[]);
    assert_eq!(code, 7, "{}: an outside edit keeping size and mtime: {err}", place.name());
    assert_same(&fingerprint(&s.f.src), &before, &format!("{}: nothing written", place.name()));
    for m in [m1.as_path(), m2.as_path()] {
        let out = s.f.run(&[os("unmount"), m.as_os_str()]);
        assert!(out.status.success());
    }
}

#[test]
fn equal_size_and_mtime_fool_nothing_pinned() {
    two_mounts_changing_one_file_alike(Place::Tmp(Mode::Pinned));
}

#[test]
fn equal_size_and_mtime_fool_nothing_passthrough() {
    two_mounts_changing_one_file_alike(Place::Tmp(Mode::Passthrough));
}

#[test]
fn equal_size_and_mtime_fool_nothing_btrfs() {
    two_mounts_changing_one_file_alike(Place::Loop("btrfs"));
}

#[test]
fn equal_size_and_mtime_fool_nothing_xfs() {
    two_mounts_changing_one_file_alike(Place::Loop("xfs"));
}

#[test]
fn equal_size_and_mtime_fool_nothing_ext4() {
    two_mounts_changing_one_file_alike(Place::Loop("ext4"));
}

/// 50 rounds (20 in the passthrough mode and on the images). Round r: both mounts change `f{r}`
/// (same size, same mtime) and add a file of their own, and commit at the same time. Exactly one
/// wins; the other fails with 7 naming `f{r}` and writes nothing; then it takes SRC's `f{r}` (so
/// the next rounds go on).
fn concurrent(place: Place, rounds: usize) {
    if !fuse_available() {
        return;
    }
    let Some(s) = place.setup(|src| {
        for r in 0..rounds {
            fs::write(src.join(format!("f{r}")), b"base\n").unwrap();
        }
    }) else {
        return;
    };
    let b = s.f.dir.path().join("b");
    fs::create_dir(&b).unwrap();
    s.mount();
    s.mount_at(&b);
    let mounts = [("A", s.f.mnt.clone()), ("B", b.clone())];
    let (mut wins_a, mut wins_b) = (0, 0);
    for r in 0..rounds {
        for (who, m) in &mounts {
            sh(m, &format!("printf '{who}{r:03}\\n' > f{r} && touch -d '{STAMP}' f{r} && printf x > {who}{r}"));
        }
        let results: Vec<(i32, String)> = std::thread::scope(|sc| {
            let hs: Vec<_> = mounts.iter().map(|(_, m)| sc.spawn(|| commit_code(&s.f, m, &[]))).collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let content = fs::read_to_string(s.f.src.join(format!("f{r}"))).unwrap();
        let (winner, loser) = match (results[0].0, results[1].0) {
            (0, 7) => (0, 1),
            (7, 0) => (1, 0),
            _ => panic!("{}: round {r}: one commit must win and the other fail with 7: {results:?}", place.name()),
        };
        let (w, _) = &mounts[winner];
        let (l, lm) = &mounts[loser];
        assert_eq!(content, format!("{w}{r:03}\n"), "round {r}: SRC has the winner's change");
        assert!(s.f.src.join(format!("{w}{r}")).exists(), "round {r}: the winner's new file");
        assert!(!s.f.src.join(format!("{l}{r}")).exists(), "round {r}: the loser wrote nothing");
        assert!(results[loser].1.contains(&format!("f{r}")), "round {r}: {}", results[loser].1);
        if winner == 0 {
            wins_a += 1
        } else {
            wins_b += 1
        }
        // The loser takes SRC's version; its own new file goes with its next commit.
        sh(Path::new("/"), &format!("cp -p {}/f{r} {}/f{r}", s.f.src.display(), lm.display()));
    }
    eprintln!("{}: {rounds} rounds: A won {wins_a}, B won {wins_b}", place.name());
    for (_, m) in &mounts {
        let (code, err) = commit_code(&s.f, m, &[]);
        assert_eq!(code, 0, "{err}");
    }
    for (_, m) in &mounts {
        let out = s.f.run(&[os("unmount"), m.as_os_str()]);
        assert!(out.status.success());
    }
}

#[test]
fn concurrent_commits_into_one_src_lose_nothing() {
    concurrent(Place::Tmp(Mode::Pinned), 50);
}

#[test]
fn concurrent_commits_passthrough() {
    concurrent(Place::Tmp(Mode::Passthrough), 20);
}

#[test]
fn concurrent_commits_btrfs() {
    concurrent(Place::Loop("btrfs"), 20);
}

#[test]
fn concurrent_commits_xfs() {
    concurrent(Place::Loop("xfs"), 20);
}

#[test]
fn concurrent_commits_ext4() {
    concurrent(Place::Loop("ext4"), 20);
}
