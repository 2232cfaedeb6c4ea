//! ReFS block cloning: a file's clusters shared with another file on the same volume
//! (`FSCTL_DUPLICATE_EXTENTS_TO_FILE`).

use super::{handle, io_err};
use std::fs::File;
use std::io;
use windows::Win32::System::IO::DeviceIoControl;
use windows::Win32::System::Ioctl::{
    DUPLICATE_EXTENTS_DATA, FSCTL_DUPLICATE_EXTENTS_TO_FILE, FSCTL_GET_INTEGRITY_INFORMATION,
    FSCTL_GET_INTEGRITY_INFORMATION_BUFFER, FSCTL_SET_INTEGRITY_INFORMATION, FSCTL_SET_INTEGRITY_INFORMATION_BUFFER,
    FSCTL_SET_SPARSE,
};

/// Makes `[offset, offset + len)` of `dst` share the clusters of the same range of `src`.
/// Both must be on one ReFS volume with the same integrity setting; `offset` and `len` must be
/// cluster multiples and `len` under 4 GiB (see `clone_tree::clone_ranges`); `dst` must already
/// have its final size.
pub fn duplicate_extents(src: &File, dst: &File, offset: u64, len: u64) -> io::Result<()> {
    let bad = || io::Error::new(io::ErrorKind::InvalidInput, "clone range past 2^63");
    let data = DUPLICATE_EXTENTS_DATA {
        FileHandle: handle(src),
        SourceFileOffset: i64::try_from(offset).map_err(|_| bad())?,
        TargetFileOffset: i64::try_from(offset).map_err(|_| bad())?,
        ByteCount: i64::try_from(len).map_err(|_| bad())?,
    };
    let size = std::mem::size_of::<DUPLICATE_EXTENTS_DATA>() as u32;
    // SAFETY: both handles are open for the call (the Files outlive it); the input buffer is a
    // valid DUPLICATE_EXTENTS_DATA of the size given; there is no output buffer.
    unsafe {
        DeviceIoControl(
            handle(dst),
            FSCTL_DUPLICATE_EXTENTS_TO_FILE,
            Some((&data as *const DUPLICATE_EXTENTS_DATA).cast()),
            size,
            None,
            0,
            None,
            None,
        )
    }
    .map_err(io_err)
}

/// Marks `f` sparse (a clone of a sparse file must be sparse too).
pub fn set_sparse(f: &File) -> io::Result<()> {
    // SAFETY: the handle is open for the call; no buffers.
    unsafe { DeviceIoControl(handle(f), FSCTL_SET_SPARSE, None, 0, None, 0, None, None) }.map_err(io_err)
}

/// Gives `dst` the integrity-stream setting of `src` (block cloning needs them equal).
pub fn copy_integrity(src: &File, dst: &File) -> io::Result<()> {
    let mut got = FSCTL_GET_INTEGRITY_INFORMATION_BUFFER::default();
    let got_size = std::mem::size_of::<FSCTL_GET_INTEGRITY_INFORMATION_BUFFER>() as u32;
    // SAFETY: the handle is open for the call; the output buffer is valid for writes of the
    // size given.
    unsafe {
        DeviceIoControl(
            handle(src),
            FSCTL_GET_INTEGRITY_INFORMATION,
            None,
            0,
            Some((&mut got as *mut FSCTL_GET_INTEGRITY_INFORMATION_BUFFER).cast()),
            got_size,
            None,
            None,
        )
    }
    .map_err(io_err)?;
    let set = FSCTL_SET_INTEGRITY_INFORMATION_BUFFER {
        ChecksumAlgorithm: got.ChecksumAlgorithm,
        Reserved: 0,
        Flags: got.Flags,
    };
    let set_size = std::mem::size_of::<FSCTL_SET_INTEGRITY_INFORMATION_BUFFER>() as u32;
    // SAFETY: the handle is open for the call; the input buffer is valid for the size given.
    unsafe {
        DeviceIoControl(
            handle(dst),
            FSCTL_SET_INTEGRITY_INFORMATION,
            Some((&set as *const FSCTL_SET_INTEGRITY_INFORMATION_BUFFER).cast()),
            set_size,
            None,
            0,
            None,
            None,
        )
    }
    .map_err(io_err)
}
