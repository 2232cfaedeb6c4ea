//! One shmem file as file data: a memfd, or an unnamed file of the private tmpfs whose size
//! is the budget (the only kind lent to the kernel for direct writes).

use super::tmpfs::CappedTmpfs;
use crate::errno::from_rustix;
use crate::fd_io::pread_full;
use agentfs_core::Timestamp;
use agentfs_core::store::FileData;
use agentfs_core::{Errno, Result};
use rustix::fs::{FallocateFlags, MemfdFlags, SeekFrom, fallocate, fstat, ftruncate, memfd_create, seek};
use rustix::io::pwrite;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// tmpfs allocates whole pages.
const PAGE: u64 = 4096;

pub struct ShmemFile {
    fd: OwnedFd,
    /// On a filesystem whose size is the budget, so the kernel may write it directly.
    capped: bool,
}

impl ShmemFile {
    /// A new empty file: in `capped` if given, else a memfd.
    pub fn new(capped: Option<&CappedTmpfs>) -> Result<ShmemFile> {
        let Some(tmpfs) = capped else {
            let fd = memfd_create("agentfs-upper", MemfdFlags::CLOEXEC).map_err(from_rustix)?;
            return Ok(ShmemFile { fd, capped: false });
        };
        let fd = tmpfs.create_file().map_err(|e| crate::errno::from_io(&e))?;
        Ok(ShmemFile { fd, capped: true })
    }

    fn check_end(offset: u64, len: u64) -> Result<()> {
        match offset.checked_add(len) {
            Some(e) if e <= agentfs_core::MAX_FILE_SIZE => Ok(()),
            _ => Err(Errno::EFBIG),
        }
    }
}

#[allow(clippy::unnecessary_cast)]
impl FileData for ShmemFile {
    fn len(&self) -> u64 {
        fstat(&self.fd).map(|s| (s.st_size as i64).max(0) as u64).unwrap_or(0)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        pread_full(&self.fd, buf, offset)
    }

    fn write_at(&self, data: &[u8], offset: u64) -> Result<()> {
        Self::check_end(offset, data.len() as u64)?;
        let mut done = 0;
        while done < data.len() {
            match pwrite(&self.fd, &data[done..], offset + done as u64) {
                Ok(0) => return Err(Errno::EIO),
                Ok(n) => done += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(from_rustix(e)),
            }
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<()> {
        Self::check_end(len, 0)?;
        ftruncate(&self.fd, len).map_err(from_rustix)
    }

    fn allocated(&self) -> u64 {
        fstat(&self.fd).map(|s| (s.st_blocks as u64).saturating_mul(512)).unwrap_or(0)
    }

    /// Sum of the holes in the range, rounded out to pages.
    fn growth(&self, offset: u64, len: u64) -> u64 {
        let start = offset / PAGE * PAGE;
        let end = offset.saturating_add(len).div_ceil(PAGE).saturating_mul(PAGE);
        let mut total = 0;
        let mut pos = start;
        while pos < end {
            let hole = match seek(&self.fd, SeekFrom::Hole(pos)) {
                Ok(h) => h,
                Err(_) => return total + (end - pos),
            };
            if hole >= end {
                break;
            }
            match seek(&self.fd, SeekFrom::Data(hole)) {
                Ok(data) => {
                    total += data.min(end) - hole;
                    pos = data;
                }
                Err(_) => return total + (end - hole),
            }
        }
        total
    }

    fn punch_hole(&self, offset: u64, len: u64) -> Result<()> {
        fallocate(&self.fd, FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE, offset, len).map_err(from_rustix)
    }

    fn allocate(&self, offset: u64, len: u64) -> Result<()> {
        Self::check_end(offset, len)?;
        fallocate(&self.fd, FallocateFlags::KEEP_SIZE, offset, len).map_err(from_rustix)
    }

    fn seek_data(&self, offset: u64) -> Result<u64> {
        seek(&self.fd, SeekFrom::Data(offset)).map_err(from_rustix)
    }

    fn seek_hole(&self, offset: u64) -> Result<u64> {
        seek(&self.fd, SeekFrom::Hole(offset)).map_err(from_rustix)
    }

    fn backing_fd(&self) -> Option<BorrowedFd<'_>> {
        self.capped.then(|| self.fd.as_fd())
    }

    fn modified(&self) -> Option<Timestamp> {
        let s = fstat(&self.fd).ok()?;
        Some(Timestamp::new(s.st_mtime as i64, s.st_mtime_nsec as u32))
    }
}
