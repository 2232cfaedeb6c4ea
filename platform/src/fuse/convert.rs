//! Conversions between the engine's types and fuser's.

use crate::errno::to_host;
use agentfs_core::{Attr, Errno, FileKind, OpenFlags, SetTime, Timestamp};
use fuser::{FileAttr, FileType, INodeNo, TimeOrNow};

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
