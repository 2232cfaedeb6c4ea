//! File information as WinFsp wants it (a mirror of `FSP_FSCTL_FILE_INFO`), from the engine's
//! attributes, and Windows times and attributes back to the engine.

use agentfs_core::{Attr, FileKind, Timestamp};

pub const FILE_ATTRIBUTE_READONLY: u32 = 0x0001;
pub const FILE_ATTRIBUTE_HIDDEN: u32 = 0x0002;
pub const FILE_ATTRIBUTE_SYSTEM: u32 = 0x0004;
pub const FILE_ATTRIBUTE_DIRECTORY: u32 = 0x0010;
pub const FILE_ATTRIBUTE_ARCHIVE: u32 = 0x0020;
pub const FILE_ATTRIBUTE_NORMAL: u32 = 0x0080;
pub const FILE_ATTRIBUTE_TEMPORARY: u32 = 0x0100;
pub const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x0400;
pub const FILE_ATTRIBUTE_NOT_CONTENT_INDEXED: u32 = 0x2000;
/// "Do not change the attributes" in SetBasicInfo.
pub const INVALID_FILE_ATTRIBUTES: u32 = u32::MAX;
pub const IO_REPARSE_TAG_SYMLINK: u32 = 0xA000_000C;

/// The attributes kept as they were set (in the engine's xattr
/// [`crate::path_lower::WIN_ATTRIBUTES_XATTR`]); the others follow from the node: directory,
/// reparse point, and read-only from the mode's write bits (for what is not a directory).
pub const KEPT_ATTRIBUTES: u32 = FILE_ATTRIBUTE_HIDDEN
    | FILE_ATTRIBUTE_SYSTEM
    | FILE_ATTRIBUTE_ARCHIVE
    | FILE_ATTRIBUTE_TEMPORARY
    | FILE_ATTRIBUTE_NOT_CONTENT_INDEXED;

/// Seconds between 1601-01-01 (the Windows epoch) and 1970-01-01.
const EPOCH_DIFF: i64 = 11_644_473_600;
const TICKS: i64 = 10_000_000;

/// File information, laid out as WinFsp's `FileInfo`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileInfo {
    pub file_attributes: u32,
    pub reparse_tag: u32,
    pub allocation_size: u64,
    pub file_size: u64,
    pub creation_time: u64,
    pub last_access_time: u64,
    pub last_write_time: u64,
    pub change_time: u64,
    pub index_number: u64,
}

/// A Windows FILETIME (100 ns units since 1601) of a timestamp; 0 before 1601.
pub fn filetime(t: Timestamp) -> u64 {
    let secs = t.secs.saturating_add(EPOCH_DIFF);
    if secs < 0 {
        return 0;
    }
    (secs as u64).saturating_mul(TICKS as u64).saturating_add(u64::from(t.nanos / 100))
}

/// The timestamp of a FILETIME; None for 0 and u64::MAX, which mean "leave it".
pub fn from_filetime(ft: u64) -> Option<Timestamp> {
    if ft == 0 || ft == u64::MAX {
        return None;
    }
    let ft = i64::try_from(ft).ok()?;
    Some(Timestamp::new(ft / TICKS - EPOCH_DIFF, ((ft % TICKS) * 100) as u32))
}

/// The Windows attributes of a node whose kept attributes are `kept` (see [`KEPT_ATTRIBUTES`]).
pub fn attributes(a: &Attr, kept: u32) -> u32 {
    let mut out = kept & KEPT_ATTRIBUTES;
    match a.kind {
        FileKind::Directory => out |= FILE_ATTRIBUTE_DIRECTORY | (kept & FILE_ATTRIBUTE_READONLY),
        FileKind::Symlink => out |= FILE_ATTRIBUTE_REPARSE_POINT,
        _ => {}
    }
    if a.kind != FileKind::Directory && a.perm & 0o222 == 0 {
        out |= FILE_ATTRIBUTE_READONLY;
    }
    if out == 0 { FILE_ATTRIBUTE_NORMAL } else { out }
}

/// What WinFsp is told about a node.
pub fn file_info(a: &Attr, kept: u32) -> FileInfo {
    let size = if a.kind == FileKind::Directory { 0 } else { a.size };
    FileInfo {
        file_attributes: attributes(a, kept),
        reparse_tag: if a.kind == FileKind::Symlink { IO_REPARSE_TAG_SYMLINK } else { 0 },
        allocation_size: size.div_ceil(4096) * 4096,
        file_size: size,
        creation_time: filetime(a.crtime),
        last_access_time: filetime(a.atime),
        last_write_time: filetime(a.mtime),
        change_time: filetime(a.ctime),
        index_number: a.ino,
    }
}

/// The permission bits a read-only flag change gives a node with bits `perm`: read-only takes
/// every write bit away; writable gives the owner's back.
pub fn perm_with_readonly(perm: u16, readonly: bool) -> u16 {
    if readonly {
        perm & !0o222
    } else if perm & 0o222 == 0 {
        perm | 0o200
    } else {
        perm
    }
}
