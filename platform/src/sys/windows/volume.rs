//! Volumes: which filesystem serves a path, where its volume starts, its clusters and space.

use super::file::OPEN_ANY_NO_FOLLOW;
use super::{handle, io_err, wide};
use std::io;
use std::os::windows::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use windows::Win32::Storage::FileSystem::{
    GetDiskFreeSpaceExW, GetDiskFreeSpaceW, GetVolumeInformationByHandleW, GetVolumePathNameW,
};
use windows::core::PCWSTR;

/// FILE_SUPPORTS_BLOCK_REFCOUNTING: the volume can share clusters between files (ReFS v2+).
const SUPPORTS_BLOCK_REFCOUNTING: u32 = 0x0800_0000;

/// The filesystem name (`NTFS`, `ReFS`, `agentfs` for a WinFsp volume of ours) and flags of the
/// volume that serves `path` (a mount point is followed to the volume mounted there).
fn volume_info(path: &Path) -> io::Result<(String, u32)> {
    // `X:` alone names the current directory of drive X; its root is `X:\`.
    let s = path.as_os_str().to_string_lossy();
    let root;
    let path = if s.len() == 2 && s.ends_with(':') {
        root = PathBuf::from(format!("{s}\\"));
        root.as_path()
    } else {
        path
    };
    let f = std::fs::OpenOptions::new().access_mode(0).share_mode(7).custom_flags(0x0200_0000).open(path)?;
    let mut name = [0u16; 64];
    let mut flags = 0u32;
    // SAFETY: the handle is open for the call; the name buffer and the flags are valid for
    // writes of their sizes, which the call is given.
    unsafe { GetVolumeInformationByHandleW(handle(&f), None, None, None, Some(&mut flags), Some(&mut name)) }
        .map_err(io_err)?;
    let len = name.iter().position(|c| *c == 0).unwrap_or(name.len());
    Ok((String::from_utf16_lossy(&name[..len]), flags))
}

/// The filesystem name of the volume serving `path`.
pub fn filesystem_name(path: &Path) -> io::Result<String> {
    volume_info(path).map(|(name, _)| name)
}

/// Whether files on the volume of `path` can be block-cloned (ReFS, Dev Drives).
pub fn supports_block_cloning(path: &Path) -> io::Result<bool> {
    volume_info(path).map(|(_, flags)| flags & SUPPORTS_BLOCK_REFCOUNTING != 0)
}

/// The root of the volume holding `path` (`C:\`, or the folder a volume is mounted on).
pub fn volume_root(path: &Path) -> io::Result<PathBuf> {
    let w = wide(path.as_os_str());
    let mut out = vec![0u16; 32_768];
    // SAFETY: `w` is NUL-terminated and outlives the call; the output buffer's length is given.
    unsafe { GetVolumePathNameW(PCWSTR(w.as_ptr()), &mut out) }.map_err(io_err)?;
    let len = out.iter().position(|c| *c == 0).unwrap_or(out.len());
    Ok(PathBuf::from(String::from_utf16_lossy(&out[..len])))
}

/// The cluster size, in bytes, of the volume whose root is `root`.
pub fn cluster_size(root: &Path) -> io::Result<u64> {
    let w = wide(root.as_os_str());
    let (mut sectors, mut bytes) = (0u32, 0u32);
    // SAFETY: `w` is NUL-terminated and outlives the call; both out-pointers are valid.
    unsafe { GetDiskFreeSpaceW(PCWSTR(w.as_ptr()), Some(&mut sectors), Some(&mut bytes), None, None) }
        .map_err(io_err)?;
    Ok(u64::from(sectors) * u64::from(bytes))
}

/// (total, free) bytes of the volume serving `path`.
pub fn space(path: &Path) -> io::Result<(u64, u64)> {
    let _ = OPEN_ANY_NO_FOLLOW;
    let w = wide(path.as_os_str());
    let (mut free, mut total) = (0u64, 0u64);
    // SAFETY: `w` is NUL-terminated and outlives the call; both out-pointers are valid.
    unsafe { GetDiskFreeSpaceExW(PCWSTR(w.as_ptr()), Some(&mut free), Some(&mut total), None) }.map_err(io_err)?;
    Ok((total, free))
}
