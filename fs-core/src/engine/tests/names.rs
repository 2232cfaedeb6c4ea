//! Semantics 4 and 9: whiteouts, opaque directories, symlinks as data, node creation.

use super::*;
use crate::{Errno, FileKind, S_ISGID, SetAttr};

#[test]
fn deleting_a_lower_entry_hides_it() {
    let (_l, e) = engine();
    let src = ino(&e, "src");
    e.unlink(src, os("main.rs")).unwrap();
    assert_eq!(lookup(&e, "src/main.rs").unwrap_err(), Errno::ENOENT);
    assert_eq!(sorted(names(&e, src)), ["empty", "lib.rs"]);
    assert_eq!(e.unlink(src, os("main.rs")).unwrap_err(), Errno::ENOENT);
}

#[test]
fn a_name_created_over_a_whiteout_is_a_fresh_object() {
    let (_l, e) = engine();
    let src = ino(&e, "src");
    let old = ino(&e, "src/main.rs");
    e.unlink(src, os("main.rs")).unwrap();
    let new = create_file(&e, src, "main.rs", b"");
    assert_ne!(new, old);
    assert_eq!(read_all(&e, new), b"");
    let a = e.getattr(new).unwrap();
    assert_eq!((a.uid, a.gid, a.nlink), (ME.uid, ME.gid, 1));
}

#[test]
fn a_directory_deleted_and_recreated_is_opaque() {
    let (_l, e) = engine();
    let a = ino(&e, "docs/a");
    let b = ino(&e, "docs/a/b");
    e.unlink(b, os("deep.txt")).unwrap();
    e.rmdir(a, os("b")).unwrap();
    let again = e.mkdir(a, os("b"), 0o755, &ME).unwrap();
    assert_ne!(again.ino, b);
    assert!(names(&e, again.ino).is_empty());
    assert_eq!(lookup(&e, "docs/a/b/deep.txt").unwrap_err(), Errno::ENOENT);
}

#[test]
fn rmdir_checks_emptiness_against_the_merged_view() {
    let (_l, e) = engine();
    let docs = ino(&e, "docs");
    assert_eq!(e.rmdir(docs, os("a")).unwrap_err(), Errno::ENOTEMPTY);
    assert_eq!(e.rmdir(ROOT_ID, os("README")).unwrap_err(), Errno::ENOTDIR);
    assert_eq!(e.unlink(ROOT_ID, os("src")).unwrap_err(), Errno::EISDIR);
    let src = ino(&e, "src");
    let links = e.getattr(src).unwrap().nlink;
    e.rmdir(src, os("empty")).unwrap();
    assert_eq!(e.getattr(src).unwrap().nlink, links - 1);
    assert_eq!(e.rmdir(src, os(".")).unwrap_err(), Errno::EINVAL);
}

#[test]
fn creating_in_a_removed_directory_fails() {
    let (_l, e) = engine();
    let d = e.mkdir(ROOT_ID, os("gone"), 0o755, &ME).unwrap().ino;
    e.rmdir(ROOT_ID, os("gone")).unwrap();
    assert_eq!(e.mkdir(d, os("x"), 0o755, &ME).unwrap_err(), Errno::ENOENT);
    assert_eq!(e.getattr(d).unwrap().nlink, 0);
}

#[test]
fn lower_symlinks_are_data_never_followed() {
    let (_l, e) = engine();
    let esc = lookup(&e, "escape").unwrap();
    assert_eq!(esc.kind, FileKind::Symlink);
    assert_eq!(e.readlink(esc.ino).unwrap(), b"../../etc/passwd");
    assert_eq!(esc.size, 16);
    let l = lookup(&e, "link").unwrap();
    assert_eq!(e.readlink(l.ino).unwrap(), b"src/main.rs");
    assert_eq!(e.open(l.ino, OpenFlags::RDONLY).unwrap_err(), Errno::ELOOP);
    assert_eq!(e.readlink(ino(&e, "README")).unwrap_err(), Errno::EINVAL);
}

#[test]
fn new_symlinks_and_special_nodes() {
    let (_l, e) = engine();
    let s = e.symlink(ROOT_ID, os("s"), b"anything/../x", &ME).unwrap();
    assert_eq!((s.kind, s.perm, s.size), (FileKind::Symlink, 0o777, 13));
    assert_eq!(e.readlink(s.ino).unwrap(), b"anything/../x");
    assert_eq!(e.symlink(ROOT_ID, os("t"), b"", &ME).unwrap_err(), Errno::ENOENT);
    let fifo = e.mknod(ROOT_ID, os("fifo"), 0o010644, 0, &ME).unwrap();
    assert_eq!((fifo.kind, fifo.perm), (FileKind::Fifo, 0o644));
    let sock = e.mknod(ROOT_ID, os("sock"), 0o140600, 0, &ME).unwrap();
    assert_eq!(sock.kind, FileKind::Socket);
    assert_eq!(e.mknod(ROOT_ID, os("dev"), 0o020600, 0x0103, &ME).unwrap_err(), Errno::EPERM);
    let dev = e.mknod(ROOT_ID, os("dev"), 0o020600, 0x0103, &Caller::ROOT).unwrap();
    assert_eq!((dev.kind, dev.rdev, dev.uid), (FileKind::CharDevice, 0x0103, 0));
    let blk = e.mknod(ROOT_ID, os("blk"), 0o060600, 0x0801, &Caller::ROOT).unwrap();
    assert_eq!(blk.kind, FileKind::BlockDevice);
    let reg = e.mknod(ROOT_ID, os("reg"), 0o644, 0, &ME).unwrap();
    assert_eq!((reg.kind, reg.size), (FileKind::Regular, 0));
    assert_eq!(e.mknod(ROOT_ID, os("reg"), 0o644, 0, &ME).unwrap_err(), Errno::EEXIST);
}

#[test]
fn names_are_validated() {
    let (_l, e) = engine();
    let long = "n".repeat(256);
    assert_eq!(e.mkdir(ROOT_ID, os(&long), 0o755, &ME).unwrap_err(), Errno::ENAMETOOLONG);
    assert_eq!(e.lookup(ROOT_ID, os(&long)).unwrap_err(), Errno::ENAMETOOLONG);
    assert_eq!(e.mkdir(ROOT_ID, os("a/b"), 0o755, &ME).unwrap_err(), Errno::EINVAL);
    assert_eq!(e.mkdir(ROOT_ID, os("src"), 0o755, &ME).unwrap_err(), Errno::EEXIST);
    assert_eq!(e.lookup(ino(&e, "README"), os("x")).unwrap_err(), Errno::ENOTDIR);
    assert_eq!(e.lookup(ROOT_ID, os("..")).unwrap().ino, ROOT_ID);
    let src = ino(&e, "src");
    assert_eq!(e.lookup(ino(&e, "src/empty"), os("..")).unwrap().ino, src);
}

#[test]
fn owners_come_from_the_caller_and_setgid_directories_pass_their_group() {
    let (_l, e) = engine();
    let d = e.mkdir(ROOT_ID, os("shared"), 0o775, &Caller::ROOT).unwrap();
    e.setattr(d.ino, &SetAttr { gid: Some(50), mode: Some(0o2775), ..Default::default() }).unwrap();
    let f = e.mknod(d.ino, os("f"), 0o644, 0, &ME).unwrap();
    assert_eq!((f.uid, f.gid), (1000, 50));
    let sub = e.mkdir(d.ino, os("sub"), 0o755, &ME).unwrap();
    assert_eq!((sub.gid, sub.perm & S_ISGID), (50, S_ISGID));
    let plain = e.mkdir(ROOT_ID, os("plain"), 0o755, &ME).unwrap();
    assert_eq!((plain.uid, plain.gid, plain.nlink), (1000, 1000, 2));
}

#[test]
fn directory_link_counts_follow_subdirectories() {
    let (_l, e) = engine();
    let root_links = e.getattr(ROOT_ID).unwrap().nlink;
    e.mkdir(ROOT_ID, os("n1"), 0o755, &ME).unwrap();
    assert_eq!(e.getattr(ROOT_ID).unwrap().nlink, root_links + 1);
    create_file(&e, ROOT_ID, "f1", b"");
    assert_eq!(e.getattr(ROOT_ID).unwrap().nlink, root_links + 1);
    e.rmdir(ROOT_ID, os("n1")).unwrap();
    assert_eq!(e.getattr(ROOT_ID).unwrap().nlink, root_links);
}

#[test]
fn a_removed_directory_cannot_be_listed_or_climbed_out_of() {
    let (_l, e) = engine();
    let d = e.mkdir(ROOT_ID, os("gone"), 0o755, &ME).unwrap().ino;
    e.rmdir(ROOT_ID, os("gone")).unwrap();
    assert_eq!(e.readdir(d, 0, |_| true).unwrap_err(), Errno::ENOENT);
    assert_eq!(e.readdirplus(d, 0, |_, _| true).unwrap_err(), Errno::ENOENT);
    assert_eq!(e.lookup(d, os("..")).unwrap_err(), Errno::ENOENT);
    assert_eq!(e.lookup(d, os("x")).unwrap_err(), Errno::ENOENT);
}
