//! An open lower regular file.

use crate::errno::from_rustix;
use crate::fd_io::pread_full;
use agentfs_core::lower::LowerFile;
use agentfs_core::{Errno, Result};
use rustix::fs::{FileType, SeekFrom, fstat, seek};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

pub struct RealFile {
    fd: OwnedFd,
}

impl RealFile {
    /// Wraps an fd, refusing anything but a regular file.
    pub fn new(fd: OwnedFd) -> Result<RealFile> {
        let st = fstat(&fd).map_err(from_rustix)?;
        #[allow(clippy::unnecessary_cast)]
        if FileType::from_raw_mode(st.st_mode as _) != FileType::RegularFile {
            return Err(Errno::EINVAL);
        }
        Ok(RealFile { fd })
    }
}

impl LowerFile for RealFile {
    // macOS has no posix_fadvise (its F_RDADVISE is left for the macOS frontend): a no-op there.
    #[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
    fn prefetch(&self, len: u64) {
        #[cfg(target_os = "linux")]
        if let Some(len) = std::num::NonZeroU64::new(len) {
            let _ = rustix::fs::fadvise(&self.fd, 0, Some(len), rustix::fs::Advice::WillNeed);
        }
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        pread_full(&self.fd, buf, offset)
    }

    fn seek_data(&self, offset: u64) -> Result<u64> {
        seek(&self.fd, SeekFrom::Data(offset)).map_err(from_rustix)
    }

    fn seek_hole(&self, offset: u64) -> Result<u64> {
        seek(&self.fd, SeekFrom::Hole(offset)).map_err(from_rustix)
    }

    fn backing_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.fd.as_fd())
    }
}
