//! Semantics 1, 2 and 10: reading never copies up; only data changes copy data; fsync is free.

use super::*;
use crate::types::FileRef;
use crate::{Errno, FallocMode, SetAttr, SetTime, Timestamp, XattrFlags};
use std::sync::atomic::Ordering;

#[test]
fn reading_a_lower_file_creates_no_upper_state() {
    let (lower, e) = engine();
    let id = ino(&e, "src/main.rs");
    assert_eq!(read_all(&e, id), b"fn main() {}\n");
    let fh = e.open(id, OpenFlags::RDWR).unwrap();
    let mut buf = [0u8; 4];
    e.read(FileRef::handle(fh), 3, &mut buf).unwrap();
    assert_eq!(&buf, b"main");
    e.release(fh).unwrap();
    let st = e.upper_state(id).unwrap();
    assert!(!st.data_in_upper && !st.meta_changed && !st.created, "{st:?}");
    assert_eq!(e.stats().used_bytes, 0);
    assert_eq!(lower.counters.open.load(Ordering::Relaxed), 2, "one lower open per engine open");
}

#[test]
fn metadata_changes_copy_no_data() {
    let (_l, e) = engine();
    let id = ino(&e, "README");
    let t = Timestamp::new(1_234_567_890, 5);
    e.setattr(id, &SetAttr { mode: Some(0o600), ..Default::default() }).unwrap();
    e.setattr(id, &SetAttr { uid: Some(7), gid: Some(8), ..Default::default() }).unwrap();
    e.setattr(id, &SetAttr { atime: Some(SetTime::At(t)), mtime: Some(SetTime::At(t)), ..Default::default() }).unwrap();
    e.setxattr(id, os("user.x"), b"1", XattrFlags::default()).unwrap();
    let st = e.upper_state(id).unwrap();
    assert!(st.meta_changed && !st.data_in_upper, "{st:?}");
    let a = e.getattr(id).unwrap();
    assert_eq!((a.perm, a.uid, a.gid, a.mtime, a.atime, a.size), (0o600, 7, 8, t, t, 12));
    assert_eq!(read_all(&e, id), b"hello world\n");
}

#[test]
fn each_data_change_copies_up() {
    let (_l, e) = engine();
    // write
    let a = ino(&e, "README");
    write_at(&e, a, 6, b"W");
    assert!(e.upper_state(a).unwrap().data_in_upper);
    assert_eq!(read_all(&e, a), b"hello World\n");
    // truncate
    let b = ino(&e, "src/main.rs");
    e.setattr(b, &SetAttr { size: Some(2), ..Default::default() }).unwrap();
    assert!(e.upper_state(b).unwrap().data_in_upper);
    assert_eq!(read_all(&e, b), b"fn");
    // fallocate
    let c = ino(&e, "src/lib.rs");
    let fh = e.open(c, OpenFlags::RDWR).unwrap();
    e.fallocate(FileRef::handle(fh), 0, 100, FallocMode::Allocate { keep_size: false }).unwrap();
    e.release(fh).unwrap();
    assert!(e.upper_state(c).unwrap().data_in_upper);
    let data = read_all(&e, c);
    assert_eq!(data.len(), 100);
    assert_eq!(&data[..14], b"pub fn f() {}\n");
}

#[test]
fn opening_for_write_alone_does_not_copy() {
    let (_l, e) = engine();
    let id = ino(&e, "README");
    let fh = e.open(id, OpenFlags::RDWR).unwrap();
    e.fsync(FileRef::handle(fh), false).unwrap();
    e.flush(FileRef::handle(fh)).unwrap();
    e.release(fh).unwrap();
    assert!(!e.upper_state(id).unwrap().data_in_upper);
}

#[test]
fn truncate_to_the_same_size_copies_nothing() {
    let (_l, e) = engine();
    let id = ino(&e, "README");
    e.setattr(id, &SetAttr { size: Some(12), ..Default::default() }).unwrap();
    assert!(!e.upper_state(id).unwrap().data_in_upper);
    assert_eq!(e.stats().used_bytes, 0);
}

#[test]
fn o_trunc_does_not_read_the_lower_file() {
    let (lower, e) = engine();
    let id = ino(&e, "README");
    let before = lower.counters.open.load(Ordering::Relaxed);
    let fh = e.open(id, OpenFlags { truncate: true, ..OpenFlags::WRONLY }).unwrap();
    e.write(FileRef::handle(fh), 0, b"new").unwrap();
    e.release(fh).unwrap();
    assert_eq!(lower.counters.open.load(Ordering::Relaxed), before);
    assert_eq!(read_all(&e, id), b"new");
}

#[test]
fn fsync_succeeds_without_io_and_checks_the_handle() {
    let (_l, e) = engine();
    let id = create_file(&e, ROOT_ID, "f", b"x");
    let fh = e.open(id, OpenFlags::RDWR).unwrap();
    e.fsync(FileRef::handle(fh), true).unwrap();
    e.release(fh).unwrap();
    assert_eq!(e.fsync(FileRef::handle(fh), false), Err(Errno::EBADF));
}
