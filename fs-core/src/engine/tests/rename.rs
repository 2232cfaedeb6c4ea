//! Semantic 5: rename of anything, lower directories included: no EXDEV, no copy.

use super::*;
use crate::{Errno, FileKind, RenameFlags};
use std::sync::atomic::Ordering;

const PLAIN: RenameFlags = RenameFlags { noreplace: false, exchange: false, whiteout: false };

#[test]
fn a_lower_directory_with_lower_and_upper_children_moves_whole() {
    let (lower, e) = engine();
    let src = ino(&e, "src");
    create_file(&e, src, "new.rs", b"upper child");
    write_at(&e, ino(&e, "src/lib.rs"), 0, b"PUB");
    // The destination directory is listed once to look for the name; that is all the rename reads.
    names(&e, ino(&e, "docs"));
    let reads_before = lower.counters.read_dir.load(Ordering::Relaxed);
    let opens_before = lower.counters.open.load(Ordering::Relaxed);
    let used_before = e.stats().used_bytes;
    e.rename(ROOT_ID, os("src"), ino(&e, "docs"), os("code"), PLAIN).unwrap();
    // Nothing was read or copied to move it.
    assert_eq!(lower.counters.read_dir.load(Ordering::Relaxed), reads_before);
    assert_eq!(lower.counters.open.load(Ordering::Relaxed), opens_before);
    assert_eq!(e.stats().used_bytes, used_before);
    assert_eq!(lookup(&e, "src").unwrap_err(), Errno::ENOENT);
    assert_eq!(sorted(names(&e, ino(&e, "docs/code"))), ["empty", "lib.rs", "main.rs", "new.rs"]);
    assert_eq!(read_all(&e, ino(&e, "docs/code/new.rs")), b"upper child");
    assert_eq!(read_all(&e, ino(&e, "docs/code/main.rs")), b"fn main() {}\n");
    assert_eq!(read_all(&e, ino(&e, "docs/code/lib.rs")), b"PUB fn f() {}\n");
    assert_eq!(e.lookup(ino(&e, "docs/code"), os("..")).unwrap().ino, ino(&e, "docs"));
}

#[test]
fn an_unlisted_lower_directory_moves_and_lists_later() {
    let (_l, e) = engine();
    let a = ino(&e, "docs/a");
    e.rename(a, os("b"), ROOT_ID, os("b2"), PLAIN).unwrap();
    assert_eq!(names(&e, ino(&e, "b2")), ["deep.txt"]);
    assert_eq!(read_all(&e, ino(&e, "b2/deep.txt")), b"deep");
    assert!(names(&e, a).is_empty());
}

#[test]
fn link_counts_follow_moved_directories() {
    let (_l, e) = engine();
    let docs = ino(&e, "docs");
    let (r0, d0) = (e.getattr(ROOT_ID).unwrap().nlink, e.getattr(docs).unwrap().nlink);
    e.rename(ROOT_ID, os("src"), docs, os("src"), PLAIN).unwrap();
    assert_eq!(e.getattr(ROOT_ID).unwrap().nlink, r0 - 1);
    assert_eq!(e.getattr(docs).unwrap().nlink, d0 + 1);
}

#[test]
fn replacing_a_file_drops_the_old_one() {
    let (_l, e) = engine();
    let old = ino(&e, "README");
    let src = ino(&e, "src");
    e.rename(src, os("main.rs"), ROOT_ID, os("README"), PLAIN).unwrap();
    assert_eq!(read_all(&e, ino(&e, "README")), b"fn main() {}\n");
    assert_eq!(e.getattr(old).map(|a| a.nlink).unwrap_or(0), 0);
}

#[test]
fn noreplace_and_exchange() {
    let (_l, e) = engine();
    let src = ino(&e, "src");
    assert_eq!(e.rename(src, os("main.rs"), src, os("lib.rs"), RenameFlags::NOREPLACE).unwrap_err(), Errno::EEXIST);
    e.rename(src, os("main.rs"), src, os("lib.rs"), RenameFlags::EXCHANGE).unwrap();
    assert_eq!(read_all(&e, ino(&e, "src/lib.rs")), b"fn main() {}\n");
    assert_eq!(read_all(&e, ino(&e, "src/main.rs")), b"pub fn f() {}\n");
    // Exchange a directory and a file across directories.
    e.rename(ROOT_ID, os("docs"), src, os("lib.rs"), RenameFlags::EXCHANGE).unwrap();
    assert_eq!(lookup(&e, "docs").unwrap().kind, FileKind::Regular);
    assert_eq!(lookup(&e, "src/lib.rs").unwrap().kind, FileKind::Directory);
    assert_eq!(read_all(&e, ino(&e, "src/lib.rs/a/b/deep.txt")), b"deep");
    assert_eq!(e.rename(src, os("nope"), ROOT_ID, os("docs"), RenameFlags::EXCHANGE).unwrap_err(), Errno::ENOENT);
    assert_eq!(e.rename(ROOT_ID, os("README"), src, os("nope"), RenameFlags::EXCHANGE).unwrap_err(), Errno::ENOENT);
}

#[test]
fn type_and_emptiness_rules() {
    let (_l, e) = engine();
    let src = ino(&e, "src");
    assert_eq!(e.rename(ROOT_ID, os("docs"), ROOT_ID, os("README"), PLAIN).unwrap_err(), Errno::ENOTDIR);
    assert_eq!(e.rename(ROOT_ID, os("README"), ROOT_ID, os("docs"), PLAIN).unwrap_err(), Errno::EISDIR);
    assert_eq!(e.rename(ROOT_ID, os("docs"), ROOT_ID, os("src"), PLAIN).unwrap_err(), Errno::ENOTEMPTY);
    // An empty lower directory can be replaced.
    e.rename(ROOT_ID, os("docs"), src, os("empty"), PLAIN).unwrap();
    assert_eq!(read_all(&e, ino(&e, "src/empty/a/b/deep.txt")), b"deep");
    assert_eq!(e.rename(ROOT_ID, os("missing"), ROOT_ID, os("x"), PLAIN).unwrap_err(), Errno::ENOENT);
}

#[test]
fn a_directory_cannot_move_into_itself() {
    let (_l, e) = engine();
    let docs = ino(&e, "docs");
    let b = ino(&e, "docs/a/b");
    assert_eq!(e.rename(ROOT_ID, os("docs"), b, os("x"), PLAIN).unwrap_err(), Errno::EINVAL);
    assert_eq!(e.rename(ROOT_ID, os("docs"), docs, os("x"), PLAIN).unwrap_err(), Errno::EINVAL);
    // Replacing an ancestor of the source is refused as not empty.
    let a = ino(&e, "docs/a");
    // Like Linux: the ancestor check comes before the type check.
    assert_eq!(e.rename(b, os("deep.txt"), docs, os("a"), PLAIN).unwrap_err(), Errno::ENOTEMPTY);
    e.mkdir(b, os("inner"), 0o755, &ME).unwrap();
    assert_eq!(e.rename(ino(&e, "docs/a/b/inner"), os("."), docs, os("a"), PLAIN).unwrap_err(), Errno::EINVAL);
    let inner = ino(&e, "docs/a/b/inner");
    e.mkdir(inner, os("deeper"), 0o755, &ME).unwrap();
    assert_eq!(e.rename(inner, os("deeper"), a, os("b"), PLAIN).unwrap_err(), Errno::ENOTEMPTY);
}

#[test]
fn renaming_hardlinks_onto_each_other_does_nothing() {
    let (_l, e) = engine();
    let hl = ino(&e, "hl");
    e.rename(hl, os("one"), hl, os("two"), PLAIN).unwrap();
    assert_eq!(sorted(names(&e, hl)), ["one", "two"]);
    e.rename(hl, os("one"), hl, os("one"), PLAIN).unwrap();
    assert_eq!(e.rename(hl, os("zzz"), hl, os("zzz"), PLAIN).unwrap_err(), Errno::ENOENT);
}

/// RENAME_WHITEOUT leaves a character device 0:0 owned by the caller where the source was.
#[test]
fn a_whiteout_rename_leaves_a_whiteout_behind() {
    let (_l, e) = engine();
    let whiteout = RenameFlags { whiteout: true, ..RenameFlags::default() };
    e.rename_as(ROOT_ID, os("README"), ROOT_ID, os("moved"), whiteout, &ME).unwrap();
    let w = lookup(&e, "README").unwrap();
    assert_eq!((w.kind, w.rdev, w.perm, w.uid), (FileKind::CharDevice, 0, 0, ME.uid));
    assert_eq!(read_all(&e, lookup(&e, "moved").unwrap().ino), b"hello world\n");
    let both = RenameFlags { whiteout: true, exchange: true, ..RenameFlags::default() };
    assert_eq!(e.rename_as(ROOT_ID, os("moved"), ROOT_ID, os("link"), both, &ME), Err(Errno::EINVAL));
}
