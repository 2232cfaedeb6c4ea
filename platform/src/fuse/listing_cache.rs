//! Drops directory listings from the kernel's cache, off the request threads: the kernel
//! answers such a notification only once it has dropped the pages, which must never hold up
//! a reply (see ops/walkers.rs for why listings are dropped).

use fuser::{INodeNo, Notifier};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, OnceLock};

/// The worker's inbox; the worker ends when this is dropped.
pub struct ListingCache {
    tx: Sender<Vec<u64>>,
}

impl ListingCache {
    pub fn start(notifier: Arc<OnceLock<Notifier>>) -> std::io::Result<ListingCache> {
        let (tx, rx) = channel::<Vec<u64>>();
        std::thread::Builder::new().name("listing-drop".into()).spawn(move || {
            while let Ok(dirs) = rx.recv() {
                let Some(n) = notifier.get() else { continue };
                for dir in dirs {
                    // Offset 0, length 0: every page of the directory, its cached listing.
                    if let Err(e) = n.inval_inode(INodeNo(dir), 0, 0) {
                        tracing::debug!(dir, %e, "could not drop a cached listing (the kernel may have forgotten the directory)");
                    }
                }
            }
        })?;
        Ok(ListingCache { tx })
    }

    /// Queues directories `dirs` to drop from the kernel's listing cache.
    pub fn drop_listings(&self, dirs: Vec<u64>) {
        if self.tx.send(dirs).is_err() {
            tracing::warn!("the listing cache worker is gone: cached listings without attributes stay");
        }
    }
}
