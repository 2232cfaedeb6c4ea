//! The decoder and encoder against hand-built byte buffers laid out as the kernel's structs
//! (include/uapi/linux/fuse.h): every field at the offset the kernel reads or writes it.

use super::abi::{self, Writer};
use super::decode::{CopyIn, Header, Malformed, Request, decode};
use super::encode;
use crate::fuse::backing::Backing;
use crate::fuse::ops::{AttrOut, EntryOut, NewMode, OpenOut, fopen, opcode as op};
use agentfs_core::{Attr, DirEntry, FileKind, SetAttr, SetTime, StatFs, Timestamp};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::time::Duration;

/// Builds a little-endian struct field by field.
#[derive(Default)]
struct Bytes(Vec<u8>);

impl Bytes {
    fn u32(mut self, v: u32) -> Bytes {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Bytes {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// The op_in area: the struct, then whatever an earlier request left (never read).
    fn op_in(self) -> [u8; abi::RING_OP_IN] {
        let mut a = [0xa5u8; abi::RING_OP_IN];
        a[..self.0.len()].copy_from_slice(&self.0);
        a
    }
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn none() -> [u8; abi::RING_OP_IN] {
    Bytes::default().op_in()
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

#[test]
fn the_in_header_is_read_at_the_kernels_offsets() {
    let b = Bytes::default().u32(80).u32(op::LOOKUP).u64(0x1122).u64(7).u32(1000).u32(100).u32(4242).u32(0);
    assert_eq!(b.0.len(), abi::IN_HEADER);
    let h = Header::read(&b.0).unwrap();
    assert_eq!(h, Header { opcode: op::LOOKUP, unique: 0x1122, nodeid: 7, uid: 1000, gid: 100, pid: 4242 });
    assert_eq!(Header::read(&b.0[..39]), None);
}

#[test]
fn names_come_from_the_payload() {
    assert_eq!(decode(op::LOOKUP, &none(), b"file\0"), Ok(Request::Lookup { name: os("file") }));
    assert_eq!(decode(op::UNLINK, &none(), b"f\0"), Ok(Request::Unlink { name: os("f") }));
    assert_eq!(decode(op::RMDIR, &none(), b"d\0"), Ok(Request::Rmdir { name: os("d") }));
    assert_eq!(
        decode(op::SYMLINK, &none(), b"link\0../target\0"),
        Ok(Request::Symlink { name: os("link"), target: b"../target" })
    );
    // A name must end with its NUL inside what the kernel sent.
    assert_eq!(decode(op::LOOKUP, &none(), b"file"), Err(Malformed));
    assert_eq!(decode(op::SYMLINK, &none(), b"link\0target"), Err(Malformed));
    // Any bytes but NUL and '/' are a name; checking them is the engine's job.
    assert_eq!(
        decode(op::LOOKUP, &none(), b"\xff\xfe\0"),
        Ok(Request::Lookup { name: OsStr::from_bytes(b"\xff\xfe") })
    );
}

#[test]
fn mknod_mkdir_create_link_and_renames() {
    // fuse_mknod_in { mode, rdev, umask, padding }
    let mknod = Bytes::default().u32(0o010644).u32(0x0801).u32(0o022).u32(0).op_in();
    assert_eq!(
        decode(op::MKNOD, &mknod, b"fifo\0"),
        Ok(Request::Mknod { name: os("fifo"), mode: NewMode { mode: 0o010644, umask: 0o022 }, rdev: 0x0801 })
    );
    // fuse_mkdir_in { mode, umask }
    let mkdir = Bytes::default().u32(0o755).u32(0o027).op_in();
    assert_eq!(
        decode(op::MKDIR, &mkdir, b"d\0"),
        Ok(Request::Mkdir { name: os("d"), mode: NewMode { mode: 0o755, umask: 0o027 } })
    );
    // fuse_create_in { flags, mode, umask, open_flags }
    let create = Bytes::default().u32(0o102).u32(0o100600).u32(0o022).u32(0).op_in();
    assert_eq!(
        decode(op::CREATE, &create, b"new\0"),
        Ok(Request::Create { name: os("new"), mode: NewMode { mode: 0o100600, umask: 0o022 }, flags: 0o102 })
    );
    // fuse_link_in { oldnodeid }: the header's node is the new parent.
    let link = Bytes::default().u64(55).op_in();
    assert_eq!(decode(op::LINK, &link, b"other\0"), Ok(Request::Link { ino: 55, newname: os("other") }));
    // fuse_rename_in { newdir }; fuse_rename2_in { newdir, flags, padding }
    let rename = Bytes::default().u64(9).op_in();
    assert_eq!(
        decode(op::RENAME, &rename, b"a\0b\0"),
        Ok(Request::Rename { name: os("a"), newparent: 9, newname: os("b"), flags: 0 })
    );
    let rename2 = Bytes::default().u64(9).u32(2).u32(0).op_in();
    assert_eq!(
        decode(op::RENAME2, &rename2, b"a\0b\0"),
        Ok(Request::Rename { name: os("a"), newparent: 9, newname: os("b"), flags: 2 })
    );
    assert_eq!(decode(op::RENAME2, &rename2, b"a\0b"), Err(Malformed));
}

/// fuse_setattr_in: valid, padding, fh, size, lock_owner, atime, mtime, ctime, atimensec,
/// mtimensec, ctimensec, mode, unused4, uid, gid, unused5.
fn setattr_in(valid: u32) -> [u8; abi::RING_OP_IN] {
    let b = Bytes::default().u32(valid).u32(0).u64(3).u64(4096).u64(0).u64(100).u64(200).u64(300);
    let b = b.u32(1).u32(2).u32(3).u32(0o4755).u32(0).u32(1000).u32(1001).u32(0);
    assert_eq!(b.0.len(), abi::SETATTR_IN);
    b.op_in()
}

#[test]
fn setattr_takes_exactly_the_valid_fields() {
    let all = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 10);
    let Ok(Request::Setattr(s)) = decode(op::SETATTR, &setattr_in(all), b"") else { panic!() };
    assert_eq!(
        s,
        SetAttr {
            mode: Some(0o4755),
            uid: Some(1000),
            gid: Some(1001),
            size: Some(4096),
            atime: Some(SetTime::At(Timestamp::new(100, 1))),
            mtime: Some(SetTime::At(Timestamp::new(200, 2))),
            ctime: Some(Timestamp::new(300, 3)),
            ..SetAttr::default()
        }
    );
    // ATIME with ATIME_NOW, MTIME with MTIME_NOW; FATTR_FH and FATTR_LOCKOWNER change nothing.
    let now = (1 << 4) | (1 << 5) | (1 << 7) | (1 << 8) | (1 << 6) | (1 << 9);
    let Ok(Request::Setattr(s)) = decode(op::SETATTR, &setattr_in(now), b"") else { panic!() };
    assert_eq!(s, SetAttr { atime: Some(SetTime::Now), mtime: Some(SetTime::Now), ..SetAttr::default() });
    let Ok(Request::Setattr(s)) = decode(op::SETATTR, &setattr_in(0), b"") else { panic!() };
    assert_eq!(s, SetAttr::default());
    // A time before 1970 arrives as the two's complement of its seconds.
    let b = Bytes::default().u32(1 << 5).u32(0).u64(0).u64(0).u64(0).u64(0).u64((-2i64) as u64).u64(0);
    let b = b.u32(0).u32(5).u32(0).u32(0).u32(0).u32(0).u32(0).u32(0);
    let Ok(Request::Setattr(s)) = decode(op::SETATTR, &b.op_in(), b"") else { panic!() };
    assert_eq!(s.mtime, Some(SetTime::At(Timestamp::new(-2, 5))));
    // Nanoseconds past a second carry into the seconds.
    let b = Bytes::default().u32(1 << 10).u32(0).u64(0).u64(0).u64(0).u64(0).u64(0).u64(10);
    let b = b.u32(0).u32(0).u32(2_500_000_000).u32(0).u32(0).u32(0).u32(0).u32(0);
    let Ok(Request::Setattr(s)) = decode(op::SETATTR, &b.op_in(), b"") else { panic!() };
    assert_eq!(s.ctime, Some(Timestamp::new(12, 500_000_000)));
}

#[test]
fn reads_writes_and_listings() {
    // fuse_read_in { fh, offset, size, read_flags, lock_owner, flags, padding }
    let read = Bytes::default().u64(7).u64(1 << 40).u32(65536).u32(0).u64(0).u32(0).u32(0).op_in();
    assert_eq!(decode(op::READ, &read, b""), Ok(Request::Read { fh: 7, offset: 1 << 40, size: 65536 }));
    assert_eq!(decode(op::READDIR, &read, b""), Ok(Request::Readdir { offset: 1 << 40, size: 65536 }));
    assert_eq!(decode(op::READDIRPLUS, &read, b""), Ok(Request::Readdirplus { offset: 1 << 40, size: 65536 }));
    // fuse_write_in { fh, offset, size, write_flags, lock_owner, flags, padding }, then data.
    let write =
        |size: u32, flags: u32| Bytes::default().u64(7).u64(10).u32(size).u32(flags).u64(0).u32(2).u32(0).op_in();
    assert_eq!(
        decode(op::WRITE, &write(5, 1 << 2), b"hello, and more"),
        Ok(Request::Write { fh: 7, offset: 10, data: b"hello", kill_suidgid: true })
    );
    assert_eq!(
        decode(op::WRITE, &write(0, 1), b""),
        Ok(Request::Write { fh: 7, offset: 10, data: b"", kill_suidgid: false })
    );
    assert_eq!(decode(op::WRITE, &write(6, 0), b"hello"), Err(Malformed), "more data than came");
}

#[test]
fn xattrs() {
    // fuse_setxattr_in { size, flags } (without FUSE_SETXATTR_EXT), name, value.
    let set = Bytes::default().u32(3).u32(1).op_in();
    assert_eq!(
        decode(op::SETXATTR, &set, b"user.x\0abc"),
        Ok(Request::Setxattr { name: os("user.x"), value: b"abc", flags: 1 })
    );
    assert_eq!(decode(op::SETXATTR, &set, b"user.x\0ab"), Err(Malformed));
    // fuse_getxattr_in { size, padding }
    let get = Bytes::default().u32(256).u32(0).op_in();
    assert_eq!(decode(op::GETXATTR, &get, b"user.x\0"), Ok(Request::Getxattr { name: os("user.x"), size: 256 }));
    assert_eq!(decode(op::LISTXATTR, &get, b""), Ok(Request::Listxattr { size: 256 }));
    assert_eq!(decode(op::REMOVEXATTR, &none(), b"user.x\0"), Ok(Request::Removexattr { name: os("user.x") }));
}

#[test]
fn open_files() {
    // fuse_open_in { flags, open_flags }
    let open = Bytes::default().u32(0o100002).u32(0).op_in();
    assert_eq!(decode(op::OPEN, &open, b""), Ok(Request::Open { flags: 0o100002 }));
    assert_eq!(decode(op::OPENDIR, &open, b""), Ok(Request::Opendir));
    // fuse_release_in { fh, flags, release_flags, lock_owner }
    let release = Bytes::default().u64(12).u32(0).u32(1).u64(99).op_in();
    assert_eq!(decode(op::RELEASE, &release, b""), Ok(Request::Release { fh: 12 }));
    assert_eq!(decode(op::RELEASEDIR, &release, b""), Ok(Request::Releasedir { fh: 12 }));
    // fuse_fsync_in { fh, fsync_flags, padding }
    let fsync = |flags: u32| Bytes::default().u64(12).u32(flags).u32(0).op_in();
    assert_eq!(decode(op::FSYNC, &fsync(1), b""), Ok(Request::Fsync { fh: 12, datasync: true }));
    assert_eq!(decode(op::FSYNC, &fsync(0), b""), Ok(Request::Fsync { fh: 12, datasync: false }));
    // fuse_fallocate_in { fh, offset, length, mode, padding }
    let falloc = Bytes::default().u64(12).u64(4096).u64(8192).u32(3).u32(0).op_in();
    assert_eq!(
        decode(op::FALLOCATE, &falloc, b""),
        Ok(Request::Fallocate { fh: 12, offset: 4096, length: 8192, mode: 3 })
    );
    // fuse_lseek_in { fh, offset, whence, padding }
    let lseek = Bytes::default().u64(12).u64(5 << 30).u32(4).u32(0).op_in();
    assert_eq!(decode(op::LSEEK, &lseek, b""), Ok(Request::Lseek { fh: 12, offset: 5 << 30, whence: 4 }));
    // fuse_copy_file_range_in { fh_in, off_in, nodeid_out, fh_out, off_out, len, flags }
    let copy = Bytes::default().u64(1).u64(2).u64(3).u64(4).u64(5).u64(6).u64(0).op_in();
    assert_eq!(
        decode(op::COPY_FILE_RANGE, &copy, b""),
        Ok(Request::CopyFileRange(CopyIn { fh_in: 1, off_in: 2, nodeid_out: 3, fh_out: 4, off_out: 5, len: 6 }))
    );
    // fuse_ioctl_in { fh, flags, cmd, arg, in_size, out_size }
    let ioctl = Bytes::default().u64(12).u32(0).u32(0x8004_6601).u64(0).u32(0).u32(4).op_in();
    assert_eq!(decode(op::IOCTL, &ioctl, b""), Ok(Request::Ioctl { fh: 12 }));
}

#[test]
fn the_rest_and_the_unknown() {
    for (code, req) in [
        (op::GETATTR, Request::Getattr),
        (op::READLINK, Request::Readlink),
        (op::STATFS, Request::Statfs),
        (op::FLUSH, Request::Flush),
        (op::FSYNCDIR, Request::Fsyncdir),
        (op::GETLK, Request::Lock),
        (op::SETLK, Request::Lock),
        (op::SETLKW, Request::Lock),
        (op::ACCESS, Request::Access),
        (op::BMAP, Request::Bmap),
        (op::POLL, Request::Poll),
        (op::DESTROY, Request::Destroy),
        (op::STATX, Request::Unsupported),
        (op::TMPFILE, Request::Unsupported),
        (op::COPY_FILE_RANGE_64, Request::Unsupported),
        (4096, Request::Unsupported),
        (u32::MAX, Request::Unsupported),
    ] {
        assert_eq!(decode(code, &none(), b""), Ok(req), "opcode {code}");
    }
}

fn attr() -> Attr {
    Attr {
        ino: 0x0102_0304_0506_0708,
        kind: FileKind::Regular,
        perm: 0o4754,
        nlink: 3,
        uid: 1000,
        gid: 1001,
        rdev: 0x0000_0000_0000_0801,
        size: 1 << 33,
        blocks: 17,
        blksize: 4096,
        atime: Timestamp::new(1_700_000_001, 11),
        mtime: Timestamp::new(-1, 999_999_999),
        ctime: Timestamp::new(1_700_000_003, 33),
        crtime: Timestamp::new(5, 5),
    }
}

/// `struct fuse_attr` at `at`.
fn check_attr(b: &[u8], at: usize) {
    let a = attr();
    assert_eq!(u64_at(b, at), a.ino);
    assert_eq!(u64_at(b, at + 8), a.size);
    assert_eq!(u64_at(b, at + 16), a.blocks);
    assert_eq!(u64_at(b, at + 24), 1_700_000_001);
    assert_eq!(u64_at(b, at + 32) as i64, -1);
    assert_eq!(u64_at(b, at + 40), 1_700_000_003);
    assert_eq!((u32_at(b, at + 48), u32_at(b, at + 52), u32_at(b, at + 56)), (11, 999_999_999, 33));
    assert_eq!(u32_at(b, at + 60), 0o104754, "mode: type and permission bits");
    assert_eq!((u32_at(b, at + 64), u32_at(b, at + 68), u32_at(b, at + 72)), (3, 1000, 1001));
    assert_eq!((u32_at(b, at + 76), u32_at(b, at + 80), u32_at(b, at + 84)), (0x0801, 4096, 0));
}

fn entry() -> EntryOut {
    EntryOut { attr: attr(), entry_ttl: Duration::new(365 * 86400, 5), attr_ttl: Duration::new(1, 500_000_000) }
}

/// Encodes with `f` into a fresh buffer; returns the bytes written.
fn encoded(f: impl FnOnce(&mut Writer<'_>) -> Result<(), abi::Full>) -> Vec<u8> {
    let mut buf = vec![0xeeu8; 4096];
    let mut w = Writer::new(&mut buf);
    f(&mut w).unwrap();
    let n = w.len();
    buf.truncate(n);
    buf
}

#[test]
fn entry_and_attr_replies() {
    // fuse_entry_out { nodeid, generation, entry_valid, attr_valid, entry_valid_nsec,
    // attr_valid_nsec, attr }
    let b = encoded(|w| encode::entry_out(w, &entry()));
    assert_eq!(b.len(), abi::ENTRY_OUT);
    assert_eq!((u64_at(&b, 0), u64_at(&b, 8)), (attr().ino, 0));
    assert_eq!((u64_at(&b, 16), u64_at(&b, 24)), (365 * 86400, 1));
    assert_eq!((u32_at(&b, 32), u32_at(&b, 36)), (5, 500_000_000));
    check_attr(&b, 40);
    // fuse_attr_out { attr_valid, attr_valid_nsec, dummy, attr }
    let b = encoded(|w| encode::attr_out(w, &AttrOut { attr: attr(), ttl: Duration::new(2, 7) }));
    assert_eq!(b.len(), abi::ATTR_OUT);
    assert_eq!((u64_at(&b, 0), u32_at(&b, 8), u32_at(&b, 12)), (2, 7, 0));
    check_attr(&b, 16);
    // A negative entry: node id 0, cached for its ttl.
    let mut neg = entry();
    neg.attr.ino = 0;
    assert_eq!(u64_at(&encoded(|w| encode::entry_out(w, &neg)), 0), 0);
}

#[test]
fn open_replies_carry_flags_and_the_backing_id() {
    // fuse_open_out { fh, open_flags, backing_id }
    let plain = OpenOut { fh: 77, flags: fopen::KEEP_CACHE, backing: None };
    let b = encoded(|w| encode::open_out(w, &plain));
    assert_eq!((b.len(), u64_at(&b, 0), u32_at(&b, 8), u32_at(&b, 12)), (abi::OPEN_OUT, 77, 2, 0));
    let dev = rustix::fs::open("/dev/null", rustix::fs::OFlags::RDONLY, rustix::fs::Mode::empty()).unwrap();
    let backing = Arc::new(Backing::for_test(Arc::new(dev), 42));
    let through = OpenOut { fh: 78, flags: fopen::PASSTHROUGH, backing: Some(backing) };
    let b = encoded(|w| encode::open_out(w, &through));
    assert_eq!((u64_at(&b, 0), u32_at(&b, 8), u32_at(&b, 12)), (78, 1 << 7, 42));
    // CREATE: fuse_entry_out then fuse_open_out.
    let b = encoded(|w| encode::entry_out(w, &entry()).and_then(|()| encode::open_out(w, &plain)));
    assert_eq!(b.len(), abi::ENTRY_OUT + abi::OPEN_OUT);
    assert_eq!(u64_at(&b, abi::ENTRY_OUT), 77);
}

#[test]
fn small_replies() {
    let b = encoded(|w| encode::write_out(w, 65536));
    assert_eq!((b.len(), u32_at(&b, 0), u32_at(&b, 4)), (abi::WRITE_OUT, 65536, 0));
    let b = encoded(|w| encode::getxattr_out(w, 300));
    assert_eq!((b.len(), u32_at(&b, 0), u32_at(&b, 4)), (abi::GETXATTR_OUT, 300, 0));
    let b = encoded(|w| encode::lseek_out(w, 5 << 30));
    assert_eq!((b.len(), u64_at(&b, 0)), (abi::LSEEK_OUT, 5 << 30));
    let b = encoded(encode::ioctl_out);
    assert_eq!(b, [0u8; abi::IOCTL_OUT]);
    // fuse_kstatfs { blocks, bfree, bavail, files, ffree, bsize, namelen, frsize, padding, spare[6] }
    let st = StatFs {
        blocks: 1,
        bfree: 2,
        bavail: 3,
        files: 4,
        ffree: 5,
        bsize: 4096,
        namelen: 255,
        frsize: 512,
        budget_bytes: 0,
        used_bytes: 0,
    };
    let b = encoded(|w| encode::statfs_out(w, &st));
    assert_eq!(b.len(), abi::STATFS_OUT);
    assert_eq!((0..5).map(|i| u64_at(&b, i * 8)).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    assert_eq!((u32_at(&b, 40), u32_at(&b, 44), u32_at(&b, 48)), (4096, 255, 512));
    assert!(b[52..].iter().all(|&x| x == 0));
}

fn dirent(name: &str, kind: FileKind) -> DirEntry {
    DirEntry { ino: 9, offset: 3, kind, name: name.into() }
}

#[test]
fn directory_records_are_aligned_to_8_bytes_and_stop_when_full() {
    // fuse_dirent { ino, off, namelen, type, name[] }
    let mut buf = [0xeeu8; 60];
    let mut w = Writer::new(&mut buf);
    encode::dirent(&mut w, &dirent("abc", FileKind::Regular)).unwrap();
    assert_eq!(w.len(), 32);
    encode::dirent(&mut w, &dirent("12345678", FileKind::Directory)).unwrap_err();
    assert_eq!(w.len(), 32, "a record that does not fit is not written at all");
    assert_eq!((u64_at(&buf, 0), u64_at(&buf, 8), u32_at(&buf, 16), u32_at(&buf, 20)), (9, 3, 3, 8));
    assert_eq!(&buf[24..32], b"abc\0\0\0\0\0");
    let b = encoded(|w| encode::dirent(w, &dirent("12345678", FileKind::Directory)));
    assert_eq!((b.len(), u32_at(&b, 20)), (32, 4), "a name filling the record needs no padding; DT_DIR");
    let b = encoded(|w| encode::dirent(w, &dirent("l", FileKind::Symlink)));
    assert_eq!(u32_at(&b, 20), 10, "DT_LNK");
    // fuse_direntplus { fuse_entry_out, fuse_dirent }, name
    let b = encoded(|w| encode::direntplus(w, &dirent("abc", FileKind::Regular), Some(&entry())));
    assert_eq!(b.len(), 160);
    check_attr(&b, 40);
    assert_eq!((u64_at(&b, 128), u64_at(&b, 136), u32_at(&b, 144), u32_at(&b, 148)), (9, 3, 3, 8));
    assert_eq!(&b[152..160], b"abc\0\0\0\0\0");
    let mut small = [0u8; 159];
    assert!(
        encode::direntplus(&mut Writer::new(&mut small), &dirent("abc", FileKind::Regular), Some(&entry())).is_err()
    );
    // Without attributes: node id 0 and nothing else in fuse_entry_out, the dirent as before.
    let b = encoded(|w| encode::direntplus(w, &dirent("abc", FileKind::Regular), None));
    assert_eq!(b.len(), 160);
    assert!(b[..128].iter().all(|&x| x == 0));
    assert_eq!((u64_at(&b, 128), u64_at(&b, 136), u32_at(&b, 144), u32_at(&b, 148)), (9, 3, 3, 8));
}

#[test]
fn the_out_header_and_payload_size() {
    let mut header = [0xeeu8; abi::RING_HEADER];
    encode::finish(&mut header, 0xabcd, 0, 128);
    // fuse_out_header { len, error, unique }
    assert_eq!((u32_at(&header, 0), u32_at(&header, 4) as i32, u64_at(&header, 8)), (144, 0, 0xabcd));
    // fuse_uring_ent_in_out { flags, commit_id, payload_sz, padding, reserved } at 256.
    assert_eq!(u32_at(&header, 256 + 16), 128);
    assert_eq!(&header[256..272], &[0xee; 16], "flags and commit_id are the kernel's");
    encode::finish(&mut header, 0xabce, -2, 128);
    assert_eq!((u32_at(&header, 0), u32_at(&header, 4) as i32, u64_at(&header, 8)), (16, -2, 0xabce));
    assert_eq!(u32_at(&header, 256 + 16), 0, "an error carries no payload");
}
