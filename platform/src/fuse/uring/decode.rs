//! Requests as the kernel puts them in a ring entry: `struct fuse_in_header` in the first area
//! of the header buffer, the opcode's first in-argument (its `fuse_*_in` struct; nothing for
//! LOOKUP, UNLINK, RMDIR, SYMLINK and REMOVEXATTR) in the second, and the other in-arguments
//! concatenated in the payload (names NUL-terminated, then values or write data).

use super::abi::{self, Reader};
use crate::fuse::ops::{NewMode, opcode as op};
use agentfs_core::{SetAttr, SetTime, Timestamp};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// `struct fuse_in_header` (its `len` is not needed: the ring says how much payload came).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub opcode: u32,
    pub unique: u64,
    pub nodeid: u64,
    pub uid: u32,
    pub gid: u32,
    pub pid: u32,
}

impl Header {
    pub fn read(in_out: &[u8]) -> Option<Header> {
        let mut r = Reader::new(in_out.get(..abi::IN_HEADER)?);
        let _len = r.u32()?;
        let opcode = r.u32()?;
        let unique = r.u64()?;
        let nodeid = r.u64()?;
        Some(Header { opcode, unique, nodeid, uid: r.u32()?, gid: r.u32()?, pid: r.u32()? })
    }
}

/// A request whose arguments do not fit its opcode's layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

/// One decoded request; names and data borrow the entry's buffers.
#[derive(Debug, PartialEq, Eq)]
pub enum Request<'a> {
    Lookup {
        name: &'a OsStr,
    },
    Getattr,
    Setattr(SetAttr),
    Readlink,
    Symlink {
        name: &'a OsStr,
        target: &'a [u8],
    },
    Mknod {
        name: &'a OsStr,
        mode: NewMode,
        rdev: u32,
    },
    Mkdir {
        name: &'a OsStr,
        mode: NewMode,
    },
    Unlink {
        name: &'a OsStr,
    },
    Rmdir {
        name: &'a OsStr,
    },
    Rename {
        name: &'a OsStr,
        newparent: u64,
        newname: &'a OsStr,
        flags: u32,
    },
    Link {
        ino: u64,
        newname: &'a OsStr,
    },
    Open {
        flags: i32,
    },
    Read {
        fh: u64,
        offset: u64,
        size: u32,
    },
    Write {
        fh: u64,
        offset: u64,
        data: &'a [u8],
        kill_suidgid: bool,
    },
    Statfs,
    Release {
        fh: u64,
    },
    Fsync {
        fh: u64,
        datasync: bool,
    },
    Setxattr {
        name: &'a OsStr,
        value: &'a [u8],
        flags: i32,
    },
    Getxattr {
        name: &'a OsStr,
        size: u32,
    },
    Listxattr {
        size: u32,
    },
    Removexattr {
        name: &'a OsStr,
    },
    Flush,
    Opendir,
    Readdir {
        offset: u64,
        size: u32,
    },
    Readdirplus {
        offset: u64,
        size: u32,
    },
    Releasedir {
        fh: u64,
    },
    Fsyncdir,
    /// GETLK, SETLK, SETLKW.
    Lock,
    Access,
    Create {
        name: &'a OsStr,
        mode: NewMode,
        flags: i32,
    },
    Bmap,
    Destroy,
    Ioctl {
        fh: u64,
    },
    Poll,
    Fallocate {
        fh: u64,
        offset: u64,
        length: u64,
        mode: i32,
    },
    Lseek {
        fh: u64,
        offset: i64,
        whence: i32,
    },
    CopyFileRange(CopyIn),
    /// Anything else (answered ENOSYS, as the classic transport does).
    Unsupported,
}

/// `struct fuse_copy_file_range_in` (the input node is the header's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyIn {
    pub fh_in: u64,
    pub off_in: u64,
    pub nodeid_out: u64,
    pub fh_out: u64,
    pub off_out: u64,
    pub len: u64,
}

/// `FUSE_WRITE_KILL_SUIDGID`.
const WRITE_KILL_SUIDGID: u32 = 1 << 2;
/// `FUSE_FSYNC_FDATASYNC`.
const FSYNC_FDATASYNC: u32 = 1;

/// A reader over the first `size` bytes of the op_in area: the opcode's in-struct.
fn fixed(op_in: &[u8], size: usize) -> Option<Reader<'_>> {
    op_in.get(..size).map(Reader::new)
}

/// The in-struct size of the requests [`file`] decodes.
fn file_in_size(opcode: u32) -> usize {
    match opcode {
        op::GETATTR => abi::GETATTR_IN,
        op::OPEN | op::OPENDIR => abi::OPEN_IN,
        op::RELEASE | op::RELEASEDIR => abi::RELEASE_IN,
        op::FSYNC | op::FSYNCDIR => abi::FSYNC_IN,
        op::IOCTL => abi::IOCTL_IN,
        op::FALLOCATE => abi::FALLOCATE_IN,
        op::LSEEK => abi::LSEEK_IN,
        op::COPY_FILE_RANGE => abi::COPY_FILE_RANGE_IN,
        _ => 0,
    }
}

fn name(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(b)
}

/// Decodes the arguments of a request with `opcode`: `op_in` is the op_in area, `payload` the
/// payload the kernel wrote (already cut to its size).
pub fn decode<'a>(opcode: u32, op_in: &'a [u8], payload: &'a [u8]) -> Result<Request<'a>, Malformed> {
    let r = match opcode {
        op::LOOKUP | op::UNLINK | op::RMDIR | op::SYMLINK | op::MKNOD | op::MKDIR | op::RENAME | op::RENAME2 => {
            names(opcode, op_in, payload)
        }
        op::LINK => link(op_in, payload),
        op::CREATE => create(op_in, payload),
        op::SETATTR => setattr(op_in).map(Request::Setattr),
        op::READ | op::READDIR | op::READDIRPLUS => read(opcode, op_in),
        op::WRITE => write(op_in, payload),
        op::SETXATTR | op::GETXATTR | op::LISTXATTR | op::REMOVEXATTR => xattr(opcode, op_in, payload),
        _ => file(opcode, op_in),
    };
    r.ok_or(Malformed)
}

/// Requests about names in the directory of the header's node.
fn names<'a>(opcode: u32, op_in: &'a [u8], payload: &'a [u8]) -> Option<Request<'a>> {
    let in_size = match opcode {
        op::MKNOD => abi::MKNOD_IN,
        op::MKDIR => abi::MKDIR_IN,
        op::RENAME => abi::RENAME_IN,
        op::RENAME2 => abi::RENAME2_IN,
        _ => 0,
    };
    let mut i = fixed(op_in, in_size)?;
    let mut p = Reader::new(payload);
    Some(match opcode {
        op::LOOKUP => Request::Lookup { name: name(p.cstr()?) },
        op::UNLINK => Request::Unlink { name: name(p.cstr()?) },
        op::RMDIR => Request::Rmdir { name: name(p.cstr()?) },
        op::SYMLINK => Request::Symlink { name: name(p.cstr()?), target: p.cstr()? },
        op::MKNOD => {
            let (mode, rdev, umask) = (i.u32()?, i.u32()?, i.u32()?);
            Request::Mknod { name: name(p.cstr()?), mode: NewMode { mode, umask }, rdev }
        }
        op::MKDIR => {
            let (mode, umask) = (i.u32()?, i.u32()?);
            Request::Mkdir { name: name(p.cstr()?), mode: NewMode { mode, umask } }
        }
        _ => {
            let newparent = i.u64()?;
            let flags = if opcode == op::RENAME2 { i.u32()? } else { 0 };
            Request::Rename { name: name(p.cstr()?), newparent, newname: name(p.cstr()?), flags }
        }
    })
}

fn link<'a>(op_in: &'a [u8], payload: &'a [u8]) -> Option<Request<'a>> {
    let ino = fixed(op_in, abi::LINK_IN)?.u64()?;
    Some(Request::Link { ino, newname: name(Reader::new(payload).cstr()?) })
}

fn create<'a>(op_in: &'a [u8], payload: &'a [u8]) -> Option<Request<'a>> {
    let mut i = fixed(op_in, abi::CREATE_IN)?;
    let (flags, mode, umask) = (i.u32()?, i.u32()?, i.u32()?);
    Some(Request::Create {
        name: name(Reader::new(payload).cstr()?),
        mode: NewMode { mode, umask },
        flags: flags as i32,
    })
}

/// `FATTR_*` bits of `fuse_setattr_in.valid`.
mod fattr {
    pub const MODE: u32 = 1 << 0;
    pub const UID: u32 = 1 << 1;
    pub const GID: u32 = 1 << 2;
    pub const SIZE: u32 = 1 << 3;
    pub const ATIME: u32 = 1 << 4;
    pub const MTIME: u32 = 1 << 5;
    pub const ATIME_NOW: u32 = 1 << 7;
    pub const MTIME_NOW: u32 = 1 << 8;
    pub const CTIME: u32 = 1 << 10;
}

/// `struct fuse_setattr_in`: valid, padding, fh, size, lock_owner, atime, mtime, ctime,
/// atimensec, mtimensec, ctimensec, mode, unused4, uid, gid, unused5.
pub fn setattr(op_in: &[u8]) -> Option<SetAttr> {
    let mut r = fixed(op_in, abi::SETATTR_IN)?;
    let valid = r.u32()?;
    r.skip(12)?;
    let size = r.u64()?;
    r.skip(8)?;
    let (atime, mtime, ctime) = (r.u64()? as i64, r.u64()? as i64, r.u64()? as i64);
    let (atimensec, mtimensec, ctimensec) = (r.u32()?, r.u32()?, r.u32()?);
    let mode = r.u32()?;
    r.skip(4)?;
    let (uid, gid) = (r.u32()?, r.u32()?);
    let has = |bit: u32| valid & bit != 0;
    let time = |set: u32, now: u32, secs: i64, nanos: u32| {
        has(set).then(|| if has(now) { SetTime::Now } else { SetTime::At(timestamp(secs, nanos)) })
    };
    Some(SetAttr {
        mode: has(fattr::MODE).then_some(mode),
        uid: has(fattr::UID).then_some(uid),
        gid: has(fattr::GID).then_some(gid),
        size: has(fattr::SIZE).then_some(size),
        atime: time(fattr::ATIME, fattr::ATIME_NOW, atime, atimensec),
        mtime: time(fattr::MTIME, fattr::MTIME_NOW, mtime, mtimensec),
        ctime: has(fattr::CTIME).then(|| timestamp(ctime, ctimensec)),
        ..SetAttr::default()
    })
}

/// A time as the kernel sends it, nanoseconds carried into seconds past a whole second (the
/// kernel never sends that, but fuser's decoding did the same).
fn timestamp(secs: i64, nanos: u32) -> Timestamp {
    const NANOS: u32 = 1_000_000_000;
    Timestamp::new(secs.saturating_add(i64::from(nanos / NANOS)), nanos % NANOS)
}

/// `struct fuse_read_in`: fh, offset, size, read_flags, lock_owner, flags, padding.
fn read(opcode: u32, op_in: &[u8]) -> Option<Request<'static>> {
    let mut r = fixed(op_in, abi::READ_IN)?;
    let (fh, offset, size) = (r.u64()?, r.u64()?, r.u32()?);
    Some(match opcode {
        op::READ => Request::Read { fh, offset, size },
        op::READDIR => Request::Readdir { offset, size },
        _ => Request::Readdirplus { offset, size },
    })
}

/// `struct fuse_write_in`: fh, offset, size, write_flags, lock_owner, flags, padding; then
/// the data.
fn write<'a>(op_in: &'a [u8], payload: &'a [u8]) -> Option<Request<'a>> {
    let mut r = fixed(op_in, abi::WRITE_IN)?;
    let (fh, offset, size, write_flags) = (r.u64()?, r.u64()?, r.u32()?, r.u32()?);
    let data = Reader::new(payload).bytes(size as usize)?;
    Some(Request::Write { fh, offset, data, kill_suidgid: write_flags & WRITE_KILL_SUIDGID != 0 })
}

/// `struct fuse_setxattr_in { size, flags }` then name and value; `struct fuse_getxattr_in
/// { size, padding }` then name (GETXATTR) or nothing (LISTXATTR); REMOVEXATTR: the name.
fn xattr<'a>(opcode: u32, op_in: &'a [u8], payload: &'a [u8]) -> Option<Request<'a>> {
    let in_size = match opcode {
        op::SETXATTR => abi::SETXATTR_IN,
        op::GETXATTR | op::LISTXATTR => abi::GETXATTR_IN,
        _ => 0,
    };
    let mut i = fixed(op_in, in_size)?;
    let mut p = Reader::new(payload);
    Some(match opcode {
        op::SETXATTR => {
            let (size, flags) = (i.u32()?, i.u32()?);
            Request::Setxattr { name: name(p.cstr()?), value: p.bytes(size as usize)?, flags: flags as i32 }
        }
        op::GETXATTR => Request::Getxattr { size: i.u32()?, name: name(p.cstr()?) },
        op::LISTXATTR => Request::Listxattr { size: i.u32()? },
        _ => Request::Removexattr { name: name(p.cstr()?) },
    })
}

/// Requests about open files and the rest, whose arguments are one in-struct.
fn file(opcode: u32, op_in: &[u8]) -> Option<Request<'static>> {
    let mut r = fixed(op_in, file_in_size(opcode))?;
    Some(match opcode {
        op::GETATTR => Request::Getattr,
        op::READLINK => Request::Readlink,
        op::STATFS => Request::Statfs,
        op::OPEN => Request::Open { flags: r.u32()? as i32 },
        op::OPENDIR => Request::Opendir,
        op::RELEASE => Request::Release { fh: r.u64()? },
        op::RELEASEDIR => Request::Releasedir { fh: r.u64()? },
        op::FSYNC => Request::Fsync { fh: r.u64()?, datasync: r.u32()? & FSYNC_FDATASYNC != 0 },
        op::FSYNCDIR => Request::Fsyncdir,
        op::FLUSH => Request::Flush,
        op::GETLK | op::SETLK | op::SETLKW => Request::Lock,
        op::ACCESS => Request::Access,
        op::BMAP => Request::Bmap,
        op::DESTROY => Request::Destroy,
        op::IOCTL => Request::Ioctl { fh: r.u64()? },
        op::POLL => Request::Poll,
        op::FALLOCATE => {
            let (fh, offset, length, mode) = (r.u64()?, r.u64()?, r.u64()?, r.u32()?);
            Request::Fallocate { fh, offset, length, mode: mode as i32 }
        }
        op::LSEEK => Request::Lseek { fh: r.u64()?, offset: r.u64()? as i64, whence: r.u32()? as i32 },
        op::COPY_FILE_RANGE => Request::CopyFileRange(CopyIn {
            fh_in: r.u64()?,
            off_in: r.u64()?,
            nodeid_out: r.u64()?,
            fh_out: r.u64()?,
            off_out: r.u64()?,
            len: r.u64()?,
        }),
        _ => Request::Unsupported,
    })
}
