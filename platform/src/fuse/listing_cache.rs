//! Drops directory listings from the kernel's cache, off the request threads: the kernel
//! answers such a notification only once it has dropped the pages, and a reader holding one
//! of them (copying it to a buffer that faults) can make that wait long, which must never
//! hold up a reply (see ops/walkers.rs for why listings are dropped).

use fuser::{INodeNo, Notifier};
use parking_lot::{Condvar, Mutex};
use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Directories waiting to be dropped, at most; past that (the worker is stuck), more are
/// left in the cache, which only costs later walkers a lookup per file.
const MAX_PENDING: usize = 65536;
/// A batch that takes longer than this is logged.
const SLOW_BATCH: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Pending {
    dirs: HashSet<u64>,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
}

/// The worker's inbox; the worker ends when this is dropped.
pub struct ListingCache {
    shared: Arc<Shared>,
}

impl ListingCache {
    pub fn start(notifier: Arc<OnceLock<Notifier>>) -> std::io::Result<ListingCache> {
        let shared = Arc::new(Shared::default());
        let inbox = Arc::clone(&shared);
        std::thread::Builder::new().name("listing-drop".into()).spawn(move || run(&inbox, &notifier))?;
        Ok(ListingCache { shared })
    }

    /// Queues directories `dirs` to drop from the kernel's listing cache.
    pub fn drop_listings(&self, dirs: Vec<u64>) {
        let mut p = self.shared.pending.lock();
        let room = MAX_PENDING.saturating_sub(p.dirs.len());
        if dirs.len() > room {
            tracing::warn!(left = dirs.len() - room, "too many cached listings wait to be dropped; some stay");
        }
        p.dirs.extend(dirs.into_iter().take(room));
        self.shared.wake.notify_one();
    }
}

impl Drop for ListingCache {
    fn drop(&mut self) {
        self.shared.pending.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

fn run(shared: &Shared, notifier: &OnceLock<Notifier>) {
    loop {
        let batch = {
            let mut p = shared.pending.lock();
            while p.dirs.is_empty() && !p.closed {
                shared.wake.wait(&mut p);
            }
            if p.closed {
                return;
            }
            std::mem::take(&mut p.dirs)
        };
        let Some(n) = notifier.get() else { continue };
        let started = Instant::now();
        for &dir in &batch {
            // Offset 0, length 0: every page of the directory, its cached listing.
            if let Err(e) = n.inval_inode(INodeNo(dir), 0, 0) {
                tracing::debug!(dir, %e, "could not drop a cached listing (the kernel may have forgotten the directory)");
            }
        }
        if started.elapsed() > SLOW_BATCH {
            tracing::warn!(dirs = batch.len(), took = ?started.elapsed(), "dropping cached listings was slow");
        }
    }
}
