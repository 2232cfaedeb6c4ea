//! Where the daemon keeps upper file data.
//!
//! - Linux: [`MemStore`], memfds (shmem, swappable, usable as FUSE passthrough backing files)
//!   for larger files and the heap for small ones;
//! - macOS and Windows: the engine's heap store (RAM of the daemon process, freed at exit).

#[cfg(target_os = "linux")]
mod linux;

#[cfg(target_os = "linux")]
pub use linux::{CappedTmpfs, MemStore, SMALL_FILE};

use agentfs_core::store::DataStore;
use std::sync::Arc;

/// The data store of a daemon whose open-file limit is `nofile`. With `lend_budget` (Linux,
/// FUSE passthrough asked for), larger files live in a private tmpfs of that size, so they can
/// be lent to the kernel for direct writes; when that tmpfs cannot be made (no CAP_SYS_ADMIN),
/// they stay in memfds and are never lent, and the log says why.
pub fn for_daemon(nofile: u64, lend_budget: Option<u64>) -> Arc<dyn DataStore> {
    #[cfg(target_os = "linux")]
    {
        let capped = lend_budget.and_then(|size| match CappedTmpfs::new(size) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(%e, "no private tmpfs for upper files: the kernel will not write them directly");
                None
            }
        });
        Arc::new(MemStore::for_fd_limit(nofile, capped))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (nofile, lend_budget);
        Arc::new(agentfs_core::store::heap::HeapStore)
    }
}
