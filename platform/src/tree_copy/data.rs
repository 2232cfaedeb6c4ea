//! Reproducing a regular file's data: cloned (no data block copied) or copied, per OS.
//!
//! - Linux: the new file is made empty, then FICLONE shares the source's blocks (btrfs, XFS,
//!   bcachefs, ZFS 2.2+), or copy_file_range copies them in the kernel.
//! - macOS: `fclonefileat` makes the new file as an APFS clone in one call (it brings the
//!   source's mode, flags and xattrs along); a copy reads and writes.

use super::DataMode;
use rustix::fs::{Mode, OFlags};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// The new file `dst_dir/dst_name`, holding the data of `src` (`size` bytes), open for setting
/// its metadata; and whether its xattrs came with it.
pub struct Reproduced {
    pub fd: OwnedFd,
    pub xattrs_copied: bool,
}

fn create(dst_dir: &OwnedFd, dst_name: &OsStr) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        dst_dir,
        dst_name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )?)
}

fn clone_failed(e: io::Error, rel: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("cannot clone {} ({e}); this filesystem may not support clones", rel.display()))
}

#[cfg(target_os = "linux")]
pub fn reproduce(
    src: &OwnedFd,
    dst_dir: &OwnedFd,
    dst_name: &OsStr,
    size: u64,
    mode: DataMode,
    rel: &Path,
) -> io::Result<Reproduced> {
    let dst = create(dst_dir, dst_name)?;
    match mode {
        DataMode::Reflink => rustix::fs::ioctl_ficlone(&dst, src).map_err(|e| clone_failed(e.into(), rel))?,
        DataMode::Copy => copy_data(src, &dst, size)?,
    }
    Ok(Reproduced { fd: dst, xattrs_copied: false })
}

#[cfg(target_os = "macos")]
pub fn reproduce(
    src: &OwnedFd,
    dst_dir: &OwnedFd,
    dst_name: &OsStr,
    size: u64,
    mode: DataMode,
    rel: &Path,
) -> io::Result<Reproduced> {
    match mode {
        DataMode::Reflink => {
            let keep_owner = rustix::process::geteuid().is_root();
            crate::sys::macos::clone::fclonefileat(src.as_fd(), dst_dir.as_fd(), dst_name, keep_owner)
                .map_err(|e| clone_failed(e, rel))?;
            // The clone has the source's mode, which may not allow writing: metadata is set
            // through a read-only descriptor (the owner may change it through any).
            let fd = rustix::fs::openat(
                dst_dir,
                dst_name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            Ok(Reproduced { fd, xattrs_copied: true })
        }
        DataMode::Copy => {
            let dst = create(dst_dir, dst_name)?;
            read_write_copy(src, &dst)?;
            let _ = size;
            Ok(Reproduced { fd: dst, xattrs_copied: false })
        }
    }
}

/// Copies `size` bytes from `src` to `dst` in the kernel (copy_file_range), or by reading and
/// writing where the kernel cannot (between some filesystems).
#[cfg(target_os = "linux")]
fn copy_data(src: &OwnedFd, dst: &OwnedFd, size: u64) -> io::Result<()> {
    let mut left = size;
    while left > 0 {
        match rustix::fs::copy_file_range(src, None, dst, None, left.min(1 << 30) as usize) {
            Ok(0) => return Ok(()),
            Ok(n) => left -= n as u64,
            Err(
                rustix::io::Errno::XDEV
                | rustix::io::Errno::INVAL
                | rustix::io::Errno::OPNOTSUPP
                | rustix::io::Errno::NOSYS,
            ) if left == size => return read_write_copy(src, dst),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Copies all of `src` into `dst` by reading and writing.
fn read_write_copy(src: &OwnedFd, dst: &OwnedFd) -> io::Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0u64;
    loop {
        let n = rustix::io::pread(src, &mut buf, off)?;
        if n == 0 {
            return Ok(());
        }
        let mut done = 0;
        while done < n {
            done += rustix::io::pwrite(dst.as_fd(), &buf[done..n], off + done as u64)?;
        }
        off += n as u64;
    }
}
