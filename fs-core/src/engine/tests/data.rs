//! Semantic 7: sparse files, holes, offsets past 4 GiB, O_APPEND, O_TRUNC, O_EXCL; lseek,
//! copy_file_range, fallocate.

use super::*;
use crate::lower::fake::FakeLower;
use crate::types::FileRef;
use crate::{Errno, FallocMode, SetAttr, Whence};

const GIB: u64 = 1 << 30;

#[test]
fn writes_past_4gib_leave_a_hole_that_reads_as_zeros() {
    let (_l, e) = engine();
    let id = create_file(&e, ROOT_ID, "sparse", b"head");
    write_at(&e, id, 5 * GIB, b"tail");
    let a = e.getattr(id).unwrap();
    assert_eq!(a.size, 5 * GIB + 4);
    assert!(a.blocks * 512 < 1 << 20, "a hole costs no memory: {} blocks", a.blocks);
    let fh = e.open(id, OpenFlags::RDONLY).unwrap();
    let mut buf = [9u8; 8];
    e.read(FileRef::handle(fh), 3 * GIB, &mut buf).unwrap();
    assert_eq!(buf, [0; 8]);
    e.read(FileRef::handle(fh), 5 * GIB, &mut buf).unwrap();
    assert_eq!(&buf[..4], b"tail");
    assert_eq!(e.read(FileRef::handle(fh), 5 * GIB + 4, &mut buf).unwrap(), 0);
    assert_eq!(e.lseek(FileRef::handle(fh), 0, Whence::Data).unwrap(), 0);
    let hole = e.lseek(FileRef::handle(fh), 0, Whence::Hole).unwrap();
    assert!((4..GIB).contains(&hole));
    let data = e.lseek(FileRef::handle(fh), hole, Whence::Data).unwrap();
    assert!(data > 4 * GIB && data <= 5 * GIB);
    assert_eq!(e.lseek(FileRef::handle(fh), 5 * GIB, Whence::Hole).unwrap(), 5 * GIB + 4);
    assert_eq!(e.lseek(FileRef::handle(fh), 5 * GIB + 4, Whence::Data).unwrap_err(), Errno::ENXIO);
    e.release(fh).unwrap();
}

#[test]
fn sparse_lower_files_keep_their_holes_through_copy_up() {
    let mut l = FakeLower::new();
    l.sparse_file("big", 6 * GIB, &[(0, b"start"), (5 * GIB, b"middle")]);
    let (_l, e) = engine_with(l, 64 << 20);
    let id = ino(&e, "big");
    let fh = e.open(id, OpenFlags::RDWR).unwrap();
    assert_eq!(e.lseek(FileRef::handle(fh), 10, Whence::Data).unwrap(), 5 * GIB);
    e.write(FileRef::handle(fh), 6 * GIB - 1, b"!").unwrap();
    assert!(e.stats().used_bytes < 1 << 20, "copy-up skipped the holes");
    let mut buf = [0u8; 6];
    e.read(FileRef::handle(fh), 5 * GIB, &mut buf).unwrap();
    assert_eq!(&buf, b"middle");
    e.read(FileRef::handle(fh), 0, &mut buf).unwrap();
    assert_eq!(&buf[..5], b"start");
    assert_eq!(e.getattr(id).unwrap().size, 6 * GIB);
    e.release(fh).unwrap();
}

#[test]
fn append_handles_always_write_at_the_end() {
    let (_l, e) = engine();
    let id = ino(&e, "README");
    let append = OpenFlags { append: true, ..OpenFlags::WRONLY };
    let a = e.open(id, append).unwrap();
    let b = e.open(id, append).unwrap();
    e.write(FileRef::handle(a), 0, b"A").unwrap();
    e.write(FileRef::handle(b), 0, b"B").unwrap();
    e.write(FileRef::handle(a), 3, b"C").unwrap();
    e.release(a).unwrap();
    e.release(b).unwrap();
    assert_eq!(read_all(&e, id), b"hello world\nABC");
}

#[test]
fn o_trunc_and_o_excl() {
    let (_l, e) = engine();
    let trunc = OpenFlags { truncate: true, ..OpenFlags::RDWR };
    let (a, fh) = e.create(ROOT_ID, os("README"), 0o644, trunc, &ME).unwrap();
    e.release(fh).unwrap();
    assert_eq!(e.getattr(a.ino).unwrap().size, 0);
    let excl = OpenFlags { exclusive: true, ..OpenFlags::RDWR };
    assert_eq!(e.create(ROOT_ID, os("README"), 0o644, excl, &ME).unwrap_err(), Errno::EEXIST);
    let (n, fh) = e.create(ROOT_ID, os("fresh"), 0o640, excl, &ME).unwrap();
    e.release(fh).unwrap();
    assert_eq!(n.perm, 0o640);
    // O_TRUNC on a read-only open does nothing.
    let id = ino(&e, "src/main.rs");
    let fh = e.open(id, OpenFlags { truncate: true, ..OpenFlags::RDONLY }).unwrap();
    e.release(fh).unwrap();
    assert_eq!(e.getattr(id).unwrap().size, 13);
    assert_eq!(e.create(ROOT_ID, os("src"), 0o644, OpenFlags::RDWR, &ME).unwrap_err(), Errno::EISDIR);
}

#[test]
fn handles_enforce_their_access_mode() {
    let (_l, e) = engine();
    let id = ino(&e, "README");
    let ro = e.open(id, OpenFlags::RDONLY).unwrap();
    assert_eq!(e.write(FileRef::handle(ro), 0, b"x").unwrap_err(), Errno::EBADF);
    let wo = e.open(id, OpenFlags::WRONLY).unwrap();
    assert_eq!(e.read(FileRef::handle(wo), 0, &mut [0u8; 4]).unwrap_err(), Errno::EBADF);
    e.release(ro).unwrap();
    e.release(wo).unwrap();
    assert_eq!(e.release(wo).unwrap_err(), Errno::EBADF);
    assert_eq!(e.open(ino(&e, "src"), OpenFlags::WRONLY).unwrap_err(), Errno::EISDIR);
}

#[test]
fn extending_truncate_reads_zeros_and_shrinking_frees() {
    let (_l, e) = engine();
    let id = ino(&e, "README");
    e.setattr(id, &SetAttr { size: Some(20), ..Default::default() }).unwrap();
    let data = read_all(&e, id);
    assert_eq!(&data[..12], b"hello world\n");
    assert_eq!(&data[12..], &[0u8; 8]);
    e.setattr(id, &SetAttr { size: Some(5), ..Default::default() }).unwrap();
    assert_eq!(read_all(&e, id), b"hello");
    assert_eq!(e.setattr(ino(&e, "src"), &SetAttr { size: Some(0), ..Default::default() }).unwrap_err(), Errno::EISDIR);
    assert_eq!(e.setattr(id, &SetAttr { size: Some(u64::MAX), ..Default::default() }).unwrap_err(), Errno::EFBIG);
}

#[test]
fn fallocate_modes() {
    let (_l, e) = engine();
    let id = create_file(&e, ROOT_ID, "f", &[7u8; 10_000]);
    let fh = e.open(id, OpenFlags::RDWR).unwrap();
    e.fallocate(FileRef::handle(fh), 0, 20_000, FallocMode::Allocate { keep_size: true }).unwrap();
    assert_eq!(e.getattr(id).unwrap().size, 10_000);
    e.fallocate(FileRef::handle(fh), 100, 200, FallocMode::PunchHole).unwrap();
    e.fallocate(FileRef::handle(fh), 9_000, 2_000, FallocMode::ZeroRange { keep_size: false }).unwrap();
    assert_eq!(e.getattr(id).unwrap().size, 11_000);
    e.release(fh).unwrap();
    let data = read_all(&e, id);
    assert!(data[100..300].iter().all(|b| *b == 0));
    assert!(data[9_000..].iter().all(|b| *b == 0));
    assert_eq!(data[99], 7);
    assert_eq!(data[8_999], 7);
    let ro = e.open(id, OpenFlags::RDONLY).unwrap();
    assert_eq!(e.fallocate(FileRef::handle(ro), 0, 1, FallocMode::PunchHole).unwrap_err(), Errno::EBADF);
    e.release(ro).unwrap();
}

#[test]
fn copy_file_range_between_lower_and_upper_files() {
    let (_l, e) = engine();
    let src = e.open(ino(&e, "README"), OpenFlags::RDONLY).unwrap();
    let dst_id = create_file(&e, ROOT_ID, "copy", b"");
    let dst = e.open(dst_id, OpenFlags::WRONLY).unwrap();
    assert_eq!(e.copy_file_range(FileRef::new(0, src), 6, FileRef::new(dst_id, dst), 2, 100).unwrap(), 6);
    e.release(src).unwrap();
    e.release(dst).unwrap();
    assert_eq!(read_all(&e, dst_id), b"\0\0world\n");
    let same = e.open(dst_id, OpenFlags::RDWR).unwrap();
    assert_eq!(
        e.copy_file_range(FileRef::new(dst_id, same), 0, FileRef::new(dst_id, same), 2, 4).unwrap_err(),
        Errno::EINVAL
    );
    e.release(same).unwrap();
}

#[test]
fn lseek_on_lower_files() {
    let (_l, e) = engine();
    let fh = e.open(ino(&e, "README"), OpenFlags::RDONLY).unwrap();
    assert_eq!(e.lseek(FileRef::handle(fh), 3, Whence::Data).unwrap(), 3);
    assert_eq!(e.lseek(FileRef::handle(fh), 3, Whence::Hole).unwrap(), 12);
    assert_eq!(e.lseek(FileRef::handle(fh), 12, Whence::Data).unwrap_err(), Errno::ENXIO);
    e.release(fh).unwrap();
}

/// A FUSE kernel in no-open mode sends every request about an open file with handle 0: each
/// such operation must work on the node alone, on lower, copied-up and new files alike.
#[test]
fn every_operation_on_an_open_file_works_without_a_handle() {
    let (_l, e) = engine();
    let new = create_file(&e, ROOT_ID, "new", b"0123456789");
    for id in [lookup(&e, "README").unwrap().ino, lookup(&e, "src/main.rs").unwrap().ino, new] {
        let f = FileRef::inode(id);
        e.fsync(f, false).unwrap();
        e.fsync(f, true).unwrap();
        e.flush(f).unwrap();
        assert_eq!(e.lseek(f, 0, Whence::Data).unwrap(), 0);
        assert_eq!(e.write(f, 2, b"ab").unwrap(), 2);
        e.fallocate(f, 0, 64, FallocMode::Allocate { keep_size: true }).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(e.read(f, 0, &mut buf).unwrap(), 4);
        assert_eq!(&buf[2..], b"ab");
        assert_eq!(e.copy_file_range(f, 0, FileRef::inode(new), 20, 4).unwrap(), 4);
        e.fsync(f, false).unwrap();
    }
    // A handle names one node; a stale or foreign handle is EBADF, never another file.
    let fh = e.open(new, OpenFlags::RDONLY).unwrap();
    assert_eq!(e.fsync(FileRef::new(ROOT_ID, fh), false), Err(Errno::EBADF));
    e.release(fh).unwrap();
    assert_eq!(e.fsync(FileRef::new(new, fh), false), Err(Errno::EBADF));
    assert_eq!(e.fsync(FileRef::handle(0), false), Err(Errno::EBADF));
}
