//! What identifies a file on its volume, per OS: (device, inode, link count) from `stat` on
//! Unix; (volume serial number, file index, link count) from `GetFileInformationByHandle` on
//! Windows, where std does not expose them yet. Two names with the same identity are hardlinks.

use std::fs::Metadata;
use std::io;
use std::path::Path;

/// The identity of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
    pub nlink: u32,
}

/// The identity of the object at `path` (never following a final symlink), whose metadata is
/// `md` (from `symlink_metadata`).
#[cfg(unix)]
pub fn of(_path: &Path, md: &Metadata) -> io::Result<FileId> {
    use std::os::unix::fs::MetadataExt;
    Ok(FileId { dev: md.dev(), ino: md.ino(), nlink: u32::try_from(md.nlink()).unwrap_or(u32::MAX) })
}

/// See the Unix version: Windows opens the object (without following a reparse point) to ask.
#[cfg(windows)]
pub fn of(path: &Path, _md: &Metadata) -> io::Result<FileId> {
    let (dev, ino, nlink) = crate::sys::windows::file::identity(path)?;
    Ok(FileId { dev, ino, nlink })
}
