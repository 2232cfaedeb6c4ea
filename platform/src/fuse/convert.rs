//! Conversions between the engine's types and fuser's.

use crate::errno::to_host;
use agentfs_core::{Attr, Errno, FileKind, OpenFlags, SetTime, Timestamp};
use fuser::{FileAttr, FileType, INodeNo, TimeOrNow};
use std::time::SystemTime;

pub fn file_type(kind: FileKind) -> FileType {
    match kind {
        FileKind::Regular => FileType::RegularFile,
        FileKind::Directory => FileType::Directory,
        FileKind::Symlink => FileType::Symlink,
        FileKind::Fifo => FileType::NamedPipe,
        FileKind::Socket => FileType::Socket,
        FileKind::CharDevice => FileType::CharDevice,
        FileKind::BlockDevice => FileType::BlockDevice,
    }
}

/// The kernel's 32-bit device number: for majors below 4096 the low 32 bits of the user-space
/// dev_t are already in that encoding.
fn rdev32(rdev: u64) -> u32 {
    rdev as u32
}

pub fn file_attr(a: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.blocks,
        atime: a.atime.into(),
        mtime: a.mtime.into(),
        ctime: a.ctime.into(),
        crtime: a.crtime.into(),
        kind: file_type(a.kind),
        perm: a.perm,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: rdev32(a.rdev),
        blksize: a.blksize,
        flags: 0,
    }
}

/// Attributes of a negative entry (node id 0): the kernel caches "no such name" with them.
pub fn negative_attr() -> FileAttr {
    FileAttr {
        ino: INodeNo(0),
        size: 0,
        blocks: 0,
        atime: SystemTime::UNIX_EPOCH,
        mtime: SystemTime::UNIX_EPOCH,
        ctime: SystemTime::UNIX_EPOCH,
        crtime: SystemTime::UNIX_EPOCH,
        kind: FileType::RegularFile,
        perm: 0,
        nlink: 0,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 0,
        flags: 0,
    }
}

pub fn errno(e: Errno) -> fuser::Errno {
    fuser::Errno::from_i32(to_host(e))
}

pub fn set_time(t: TimeOrNow) -> SetTime {
    match t {
        TimeOrNow::Now => SetTime::Now,
        TimeOrNow::SpecificTime(t) => SetTime::At(Timestamp::from(t)),
    }
}

/// Open flags as the engine needs them behind the kernel. The kernel computes the offset of
/// every O_APPEND write itself, so append is dropped; with the writeback cache the kernel also
/// reads through write-only handles (to fill partly written pages), so those may read.
pub fn open_flags(raw: i32, writeback: bool) -> OpenFlags {
    let mut f = super::host::open_flags(raw);
    f.append = false;
    if writeback && f.write {
        f.read = true;
    }
    f
}
