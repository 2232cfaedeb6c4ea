//! Passthrough backing files: a file the kernel reads and writes directly for an open file
//! of the mount, registered on the session's /dev/fuse and known to both by a number.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

/// A registered backing file; the registration ends when the last reference goes.
#[derive(Debug)]
pub struct Backing {
    device: Arc<OwnedFd>,
    id: u32,
}

impl Backing {
    /// Registers `file` as a backing file on `device`.
    pub fn register(device: &Arc<OwnedFd>, file: BorrowedFd<'_>) -> std::io::Result<Backing> {
        let id = fuser::BackingId::create_raw(device.as_fd(), file)?;
        Ok(Backing { device: Arc::clone(device), id })
    }

    /// A backing as if registered on `device` with `id` (for encoding tests; closing it fails
    /// quietly unless `device` is a session's /dev/fuse).
    #[cfg(all(test, target_os = "linux"))]
    pub(crate) fn for_test(device: Arc<OwnedFd>, id: u32) -> Backing {
        Backing { device, id }
    }

    /// The number the kernel knows it by.
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl Drop for Backing {
    fn drop(&mut self) {
        if let Err(e) = crate::sys::fuse_dev::backing_close(self.device.as_fd(), self.id) {
            tracing::warn!(id = self.id, %e, "could not close a passthrough backing file");
        }
    }
}
