//! What identifies a file: volume serial number, file index and link count.

use super::{handle, io_err};
use std::io;
use std::os::windows::fs::OpenOptionsExt;
use std::path::Path;
use windows::Win32::Storage::FileSystem::{BY_HANDLE_FILE_INFORMATION, GetFileInformationByHandle};

/// FILE_FLAG_BACKUP_SEMANTICS (directories can be opened) | FILE_FLAG_OPEN_REPARSE_POINT (a
/// symlink or junction itself, not its target).
pub const OPEN_ANY_NO_FOLLOW: u32 = 0x0200_0000 | 0x0020_0000;
/// FILE_READ_ATTRIBUTES: all an identity query needs.
const READ_ATTRIBUTES: u32 = 0x80;

/// (volume serial number, file index, number of links) of the object at `path`, never
/// following a final reparse point.
pub fn identity(path: &Path) -> io::Result<(u64, u64, u32)> {
    let f = std::fs::OpenOptions::new()
        .access_mode(READ_ATTRIBUTES)
        .share_mode(7)
        .custom_flags(OPEN_ANY_NO_FOLLOW)
        .open(path)?;
    let mut info = BY_HANDLE_FILE_INFORMATION::default();
    // SAFETY: the handle is open for the call (`f` outlives it) and `info` is a valid place for
    // the structure the call fills.
    unsafe { GetFileInformationByHandle(handle(&f), &mut info) }.map_err(io_err)?;
    let index = (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow);
    Ok((u64::from(info.dwVolumeSerialNumber), index, info.nNumberOfLinks))
}
