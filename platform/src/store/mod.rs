//! Where the daemon keeps upper file data.
//!
//! - Linux: [`MemStore`], memfds (shmem, swappable, usable as FUSE passthrough backing files)
//!   for larger files and the heap for small ones;
//! - macOS and Windows: the engine's heap store (RAM of the daemon process, freed at exit).

#[cfg(target_os = "linux")]
mod linux;

#[cfg(target_os = "linux")]
pub use linux::{MemStore, SMALL_FILE};

use agentfs_core::store::DataStore;
use std::sync::Arc;

/// The data store of a daemon whose open-file limit is `nofile`.
pub fn for_daemon(nofile: u64) -> Arc<dyn DataStore> {
    #[cfg(target_os = "linux")]
    {
        Arc::new(MemStore::for_fd_limit(nofile))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = nofile;
        Arc::new(agentfs_core::store::heap::HeapStore)
    }
}
