//! A mount committed again and again while what it changes changes type: a directory made and
//! committed, then replaced by a file; a symlink committed, then replaced by a directory; a
//! pinned file made a directory and back, a pinned directory made a file and back. Every commit
//! goes through, SRC ends as the mount shows it, and `gc` has nothing to do (before, the second
//! commit stopped half done and blocked every later commit and gc).
#![cfg(unix)]

mod common;

use common::hostile::*;
use common::*;

fn committed(s: &Setup, what: &str) {
    let (code, err) = commit_code(&s.f, &s.f.mnt, &[]);
    assert_eq!(code, 0, "{what}: {err}");
    assert_same(&view(&s.f.src), &view(&s.f.mnt), &format!("{what}: SRC after the commit"));
    let (code, out) = gc_code(&s.f, &[]);
    assert!(code == 0 && out.contains("nothing to clean up"), "{what}: gc: {out}");
}

fn type_changes(place: Place) {
    if !fuse_available() {
        return;
    }
    let Some(s) = place.setup(|src| {
        sh(src, "printf A > a.txt && printf f > f && mkdir d && printf x > d/x");
    }) else {
        return;
    };
    decoy(&s.outside);
    let decoy_before = fingerprint(&s.outside);
    s.mount();
    let m = &s.f.mnt;
    let elsewhere = s.outside.display().to_string();
    let rounds: [(&str, String); 6] = [
        ("a new directory", "mkdir thing && printf x > thing/x".into()),
        (
            "the directory replaced by a file, and another change",
            "rm -r thing && printf f > thing && printf A2 > a.txt".into(),
        ),
        ("a symlink out of SRC", format!("ln -s {elsewhere} link")),
        ("the symlink replaced by a directory", "rm link && mkdir link && printf x > link/evil".into()),
        (
            "a pinned file made a directory, a pinned directory a file",
            "rm f && mkdir f && printf y > f/y && rm -r d && printf file > d".into(),
        ),
        ("and back", "rm -r f && printf back > f && rm d && mkdir d && printf z > d/z".into()),
    ];
    for (what, script) in rounds {
        sh(m, &script);
        committed(&s, &format!("{}: {what}", place.name()));
    }
    let out = s.f.run(&[os("commit"), os("--dry-run"), m.as_os_str()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("(0 changes)"), "{}", String::from_utf8_lossy(&out.stdout));
    assert_same(&fingerprint(&s.outside), &decoy_before, "outside SRC");
    assert!(staging_left(&s.f).is_empty(), "{:?}", staging_left(&s.f));
    s.f.unmount();
}

#[test]
fn type_changes_commit_again_and_again_pinned() {
    type_changes(Place::Tmp(Mode::Pinned));
}

#[test]
fn type_changes_commit_again_and_again_btrfs() {
    type_changes(Place::Loop("btrfs"));
}
