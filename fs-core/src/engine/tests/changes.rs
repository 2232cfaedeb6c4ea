//! The list of changes against the lower layer, and the freeze.

use super::{ME, create_file, engine, ino, lookup, os, write_at};
use crate::changes::{Change, ChangeKind};
use crate::{Engine, FileKind, ROOT_ID, RenameFlags, SetAttr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

fn summary(e: &Engine) -> Vec<(String, String)> {
    e.changes()
        .unwrap()
        .into_iter()
        .map(|Change { path, what, .. }| {
            let what = match what {
                ChangeKind::Removed => "removed".to_string(),
                ChangeKind::Created => "created".to_string(),
                ChangeKind::Moved { from, data, meta } => format!("moved from {from:?} data={data} meta={meta}"),
                ChangeKind::Modified { data, meta } => format!("modified data={data} meta={meta}"),
            };
            (path.display().to_string(), what)
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn nothing_read_or_listed_is_a_change() {
    let (_, e) = engine();
    let readme = ino(&e, "README");
    super::read_all(&e, readme);
    super::names(&e, ino(&e, "src"));
    assert!(e.changes().unwrap().is_empty());
}

#[test]
fn every_kind_of_change_is_listed_in_order() {
    let (_, e) = engine();
    let src = ino(&e, "src");
    create_file(&e, ROOT_ID, "new.txt", b"new");
    write_at(&e, ino(&e, "README"), 0, b"HELLO");
    e.setattr(ino(&e, "src/lib.rs"), &SetAttr { mode: Some(0o600), ..SetAttr::default() }).unwrap();
    e.unlink(src, os("main.rs")).unwrap();
    e.rename(ROOT_ID, os("docs"), ROOT_ID, os("documents"), RenameFlags::default()).unwrap();
    e.mkdir(ROOT_ID, os("made"), 0o755, &ME).unwrap();
    create_file(&e, ino(&e, "made"), "inner", b"x");
    assert_eq!(
        summary(&e),
        pairs(&[
            ("docs", "removed"),
            ("README", "modified data=true meta=false"),
            // A rename changes the ctime: metadata.
            ("documents", "moved from \"docs\" data=false meta=true"),
            ("made", "created"),
            ("made/inner", "created"),
            ("new.txt", "created"),
            ("src/main.rs", "removed"),
            ("src/lib.rs", "modified data=false meta=true"),
        ])
    );
}

#[test]
fn a_replaced_name_is_removed_then_made_again_and_a_moved_file_keeps_its_origin() {
    let (_, e) = engine();
    let src = ino(&e, "src");
    e.rename(src, os("lib.rs"), src, os("main.rs"), RenameFlags::default()).unwrap();
    write_at(&e, ino(&e, "src/main.rs"), 0, b"P");
    let got = summary(&e);
    assert_eq!(
        got,
        pairs(&[
            ("src/lib.rs", "removed"),
            ("src/main.rs", "removed"),
            ("src/main.rs", "moved from \"src/lib.rs\" data=true meta=true"),
        ])
    );
}

#[test]
fn changes_inside_a_moved_directory_are_relative_to_its_origin() {
    let (_, e) = engine();
    e.rename(ROOT_ID, os("src"), ROOT_ID, os("code"), RenameFlags::default()).unwrap();
    let code = ino(&e, "code");
    e.unlink(code, os("lib.rs")).unwrap();
    create_file(&e, code, "extra.rs", b"");
    let got = summary(&e);
    assert!(got.contains(&("code/lib.rs".into(), "removed".into())), "{got:?}");
    assert!(got.contains(&("code/extra.rs".into(), "created".into())), "{got:?}");
    assert!(!got.iter().any(|(p, _)| p == "code/main.rs"), "untouched children are not changes: {got:?}");
}

#[test]
fn hardlinks_of_a_new_file_share_one_node() {
    let (_, e) = engine();
    let id = create_file(&e, ROOT_ID, "a", b"1");
    e.link(id, ROOT_ID, os("b")).unwrap();
    let c = e.changes().unwrap();
    let ids: Vec<u64> = c.iter().filter(|c| c.what == ChangeKind::Created).map(|c| c.id).collect();
    assert_eq!(ids, vec![id, id]);
    assert_eq!(c[0].kind, FileKind::Regular);
    assert_eq!(c[0].path, PathBuf::from("a"));
}

#[test]
fn a_partly_copied_file_shows_only_what_was_written() {
    let mut l = crate::lower::fake::FakeLower::new();
    l.file("big", &vec![3u8; 3 << 20]).file("small", b"untouched");
    let (_, e) = super::engine_with(l, 64 << 20);
    let id = ino(&e, "big");
    write_at(&e, id, 1 << 20, b"xyz");
    match e.upper_layout(id).unwrap() {
        Some(crate::upper::Layout::Partial { len, limit, written }) => {
            assert_eq!((len, limit), (3 << 20, 3 << 20));
            assert_eq!(written, vec![(1 << 20, (1 << 20) + 3)]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.upper_layout(ino(&e, "small")).unwrap(), None, "still the lower file");
    let id = create_file(&e, ROOT_ID, "fresh", b"abc");
    assert_eq!(e.upper_layout(id).unwrap(), Some(crate::upper::Layout::Whole { len: 3 }));
}

#[test]
fn a_freeze_holds_every_change_until_it_ends_but_not_reads() {
    let (_, e) = engine();
    let e = Arc::new(e);
    let readme = ino(&e, "README");
    let frozen = e.freeze();
    let writer = {
        let e = Arc::clone(&e);
        std::thread::spawn(move || create_file(&e, ROOT_ID, "late", b"x"))
    };
    std::thread::sleep(Duration::from_millis(100));
    assert!(!writer.is_finished(), "a change waits while frozen");
    assert!(lookup(&e, "late").is_err());
    assert_eq!(super::read_all(&e, readme), b"hello world\n", "reads go on");
    drop(frozen);
    writer.join().unwrap();
    assert!(lookup(&e, "late").is_ok());
}

/// The change walk keeps no frame on the stack: a 5,000-level chain of directories in the upper
/// layer is walked on a thread with a 256 KiB stack.
#[test]
fn a_deep_tree_is_walked_without_recursion() {
    let (_l, e) = engine();
    let mut dir = ROOT_ID;
    for _ in 0..5000 {
        dir = e.mkdir(dir, os("d"), 0o755, &ME).unwrap().ino;
    }
    create_file(&e, dir, "leaf", b"x");
    let e = std::sync::Arc::new(e);
    let walker = std::sync::Arc::clone(&e);
    let n = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || walker.changes().unwrap())
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(n.len(), 5001);
    assert_eq!(n.last().unwrap().path.components().count(), 5001);
}
