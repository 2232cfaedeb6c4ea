//! Passthrough backing files: a file the kernel reads and writes directly for an open file
//! of the mount, registered on the session's /dev/fuse and known to both by a number.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

/// A registered backing file; the registration ends when the last reference goes.
#[derive(Debug)]
pub struct Backing {
    /// Closed on drop (Linux; no other host registers backing files).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    device: Arc<OwnedFd>,
    id: u32,
}

impl Backing {
    /// Registers `file` as a backing file on `device`.
    pub fn register(device: &Arc<OwnedFd>, file: BorrowedFd<'_>) -> std::io::Result<Backing> {
        let id = fuser::BackingId::create_raw(device.as_fd(), file)?;
        Ok(Backing { device: Arc::clone(device), id })
    }

    /// The number the kernel knows it by.
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl Drop for Backing {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Err(e) = crate::sys::fuse_dev::backing_close(self.device.as_fd(), self.id) {
            tracing::warn!(id = self.id, %e, "could not close a passthrough backing file");
        }
    }
}
