//! Semantic 6: merged listings with stable offsets.

use super::*;
use crate::{Errno, FileKind};
use std::collections::HashSet;
use std::sync::atomic::Ordering;

#[test]
fn listing_merges_upper_and_lower_and_hides_deleted_entries() {
    let (_l, e) = engine();
    let src = ino(&e, "src");
    create_file(&e, src, "new.rs", b"");
    e.unlink(src, os("lib.rs")).unwrap();
    let mut all = Vec::new();
    e.readdir(src, 0, |d| {
        all.push((d.name.to_string_lossy().into_owned(), d.kind));
        true
    })
    .unwrap();
    assert_eq!(all[0], (".".into(), FileKind::Directory));
    assert_eq!(all[1], ("..".into(), FileKind::Directory));
    let rest: HashSet<_> = all[2..].iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(rest, HashSet::from(["main.rs", "empty", "new.rs"]));
}

#[test]
fn an_upper_entry_replaces_the_lower_one_of_the_same_name() {
    let (_l, e) = engine();
    e.unlink(ROOT_ID, os("README")).unwrap();
    e.mkdir(ROOT_ID, os("README"), 0o755, &ME).unwrap();
    let n = names(&e, ROOT_ID);
    assert_eq!(n.iter().filter(|x| *x == "README").count(), 1);
    assert_eq!(lookup(&e, "README").unwrap().kind, FileKind::Directory);
}

#[test]
fn lower_listings_are_read_once() {
    let (lower, e) = engine();
    let src = ino(&e, "src");
    for _ in 0..5 {
        names(&e, src);
        let _ = lookup(&e, "src/missing");
    }
    // root and src
    assert_eq!(lower.counters.read_dir.load(Ordering::Relaxed), 2);
}

#[test]
fn offsets_stay_valid_while_entries_come_and_go() {
    let mut l = crate::lower::fake::FakeLower::new();
    for i in 0..50 {
        l.file(&format!("d/f{i:02}"), b"");
    }
    let (_l, e) = engine_with(l, 1 << 20);
    let d = ino(&e, "d");
    // Read the first 20 entries.
    let mut first = Vec::new();
    let mut cookie = 0;
    e.readdir(d, 0, |x| {
        if first.len() == 22 {
            return false;
        }
        cookie = x.offset;
        first.push(x.name.to_string_lossy().into_owned());
        true
    })
    .unwrap();
    // Change the directory: remove two seen and two unseen names, add three.
    for n in [&first[3], &first[10]] {
        e.unlink(d, os(n)).unwrap();
    }
    let unseen: Vec<String> = names(&e, d).into_iter().filter(|n| !first.contains(n)).take(2).collect();
    for n in &unseen {
        e.unlink(d, os(n)).unwrap();
    }
    for n in ["new1", "new2", "new3"] {
        create_file(&e, d, n, b"");
    }
    let mut rest = Vec::new();
    e.readdir(d, cookie, |x| {
        rest.push(x.name.to_string_lossy().into_owned());
        true
    })
    .unwrap();
    let seen: HashSet<&String> = first.iter().collect();
    for n in &rest {
        assert!(!seen.contains(n), "{n} listed twice");
    }
    for i in 0..50 {
        let n = format!("f{i:02}");
        let removed = unseen.contains(&n) || n == first[3] || n == first[10];
        if !removed {
            assert!(seen.contains(&n) || rest.contains(&n), "{n} skipped");
        }
    }
    // Entries that appeared after the listing began are not part of it (POSIX leaves it open;
    // a listing that could grow while read might never end), but the next listing has them.
    for n in ["new1", "new2", "new3"] {
        assert!(!rest.iter().any(|r| r == n), "{n} appeared after the listing began");
        assert!(names(&e, d).iter().any(|r| r == n));
    }
}

#[test]
fn readdirplus_counts_references_only_for_taken_entries() {
    let (_l, e) = engine();
    let src = ino(&e, "src");
    let mut taken = Vec::new();
    e.readdirplus(src, 0, |d, a| {
        assert_eq!(d.ino, a.ino);
        if taken.len() == 3 {
            return false;
        }
        taken.push(a.ino);
        true
    })
    .unwrap();
    assert_eq!(taken.len(), 3);
    // "." and ".." plus one real entry; forgetting that one entry's reference evicts it.
    let child = taken[2];
    let nodes = e.stats().nodes;
    e.forget(child, 1);
    let kind = e.getattr(child).map(|a| a.kind);
    if kind != Ok(FileKind::Directory) {
        assert_eq!(e.stats().nodes, nodes - 1);
        assert_eq!(kind.unwrap_err(), Errno::ESTALE);
    }
}

#[test]
fn readdir_of_a_file_is_enotdir() {
    let (_l, e) = engine();
    assert_eq!(e.readdir(ino(&e, "README"), 0, |_| true).unwrap_err(), Errno::ENOTDIR);
    assert_eq!(e.opendir(ino(&e, "README")).unwrap_err(), Errno::ENOTDIR);
    let fh = e.opendir(ROOT_ID).unwrap();
    e.releasedir(fh).unwrap();
}

#[test]
fn entries_listed_without_attributes_are_not_looked_at_and_keep_their_inode_numbers() {
    let (_l, e) = engine();
    let nodes = e.stats().nodes;
    let mut listed = Vec::new();
    e.readdirplus_where(
        ROOT_ID,
        0,
        |kind| kind == FileKind::Directory,
        |d, a| {
            assert_eq!(a.is_some(), d.kind == FileKind::Directory, "{:?}", d.name);
            if let Some(a) = a {
                assert_eq!(a.ino, d.ino);
            }
            listed.push((d.name.clone(), d.ino, d.kind));
            true
        },
    )
    .unwrap();
    let dirs = listed.iter().filter(|(n, _, k)| *k == FileKind::Directory && n != "." && n != "..").count();
    assert!(listed.iter().any(|(_, _, k)| *k != FileKind::Directory), "the fixture has files at the root");
    // Only the directories were made nodes (one reference each).
    assert_eq!(e.stats().nodes, nodes + dirs);
    // A later lookup of a file gives the inode number the listing showed.
    for (name, ino, kind) in &listed {
        if *kind != FileKind::Directory {
            let a = e.lookup(ROOT_ID, name).unwrap();
            assert_eq!((a.ino, a.kind), (*ino, *kind), "{name:?}");
        }
    }
}
