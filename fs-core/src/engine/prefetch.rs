//! Reading ahead across files. Programs that walk a tree (grep -r, tar c, cp -r, a compiler
//! reading headers) read the files of a directory one after another, in listing order. Without
//! help each read waits for the disk in the daemon while the reader waits for the daemon. So
//! when the first read of a lower file comes, the next few lower files of the same listing are
//! opened and the lower filesystem is asked (asynchronously) for their first bytes: by the time
//! their reads come, the data is in the page cache.
//!
//! The lower layer is immutable, so nothing read ahead can be stale. What is read ahead and
//! never used costs a little disk time; the amount is bounded (a few files, their first
//! [`HEAD`] bytes each).

use super::lower_cache::LowerFileCache;
use crate::lower::{Lower, LowerPath};
use dashmap::DashMap;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Weak};

/// Bytes asked for at the start of each file read ahead (large files get the kernel's own
/// readahead once they are read).
const HEAD: u64 = 256 << 10;
/// Files of listings remembered, at most (about 150 bytes each, so at most about 5 MiB); the
/// oldest listings go first. A program walking a tree lists each directory just before reading
/// its files, so recent listings are what matter.
const FILES: usize = 1 << 15;
/// Files waiting to be read ahead, at most.
const QUEUE: usize = 256;

/// The regular lower files of one directory, in listing order.
pub(super) struct Listing {
    files: Vec<(u64, LowerPath, u64)>,
    /// Files before this index have been read ahead (or read).
    ahead_until: AtomicUsize,
}

struct Job {
    id: u64,
    path: LowerPath,
    size: u64,
}

pub(super) struct Prefetcher {
    /// How many files to keep read ahead of the reader.
    depth: usize,
    jobs: SyncSender<Job>,
    /// File id -> its listing and place in it.
    by_file: DashMap<u64, (Arc<Listing>, usize)>,
    /// Listings remembered, oldest first, and how many files they hold.
    recent: Mutex<(VecDeque<Arc<Listing>>, usize)>,
}

impl Prefetcher {
    /// Starts the worker thread; None if `depth` is 0 or the thread cannot start.
    pub fn start(depth: usize, lower: Arc<dyn Lower>, cache: Weak<LowerFileCache>) -> Option<Prefetcher> {
        if depth == 0 {
            return None;
        }
        let (jobs, rx) = sync_channel(QUEUE);
        let spawned = std::thread::Builder::new().name("read-ahead".into()).spawn(move || work(&rx, &*lower, &cache));
        match spawned {
            Ok(_) => {
                Some(Prefetcher { depth, jobs, by_file: DashMap::new(), recent: Mutex::new((VecDeque::new(), 0)) })
            }
            Err(e) => {
                tracing::warn!(%e, "no read-ahead thread");
                None
            }
        }
    }

    /// Remembers a directory's regular lower files (id, path, size), in listing order.
    pub fn listed(&self, files: Vec<(u64, LowerPath, u64)>) {
        if files.len() < 2 {
            return;
        }
        let listing = Arc::new(Listing { files, ahead_until: AtomicUsize::new(0) });
        for (i, (id, _, _)) in listing.files.iter().enumerate() {
            self.by_file.insert(*id, (Arc::clone(&listing), i));
        }
        let mut recent = self.recent.lock();
        recent.1 += listing.files.len();
        recent.0.push_back(listing);
        while recent.1 > FILES {
            let Some(old) = recent.0.pop_front() else { break };
            recent.1 -= old.files.len();
            for (id, _, _) in &old.files {
                self.by_file.remove_if(id, |_, (l, _)| Arc::ptr_eq(l, &old));
            }
        }
    }

    /// The first read of lower file `id` came: read the next files of its listing ahead.
    pub fn first_read(&self, id: u64) {
        let Some(entry) = self.by_file.get(&id) else { return };
        let (listing, at) = (Arc::clone(&entry.0), entry.1);
        drop(entry);
        let until = (at + 1 + self.depth).min(listing.files.len());
        let from = listing.ahead_until.fetch_max(until, Ordering::AcqRel).max(at + 1);
        for (id, path, size) in listing.files.get(from..until).unwrap_or_default() {
            match self.jobs.try_send(Job { id: *id, path: path.clone(), size: *size }) {
                Ok(()) => {}
                // Behind already: reading ahead further would only add to the wait.
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => return,
            }
        }
    }
}

fn work(rx: &Receiver<Job>, lower: &dyn Lower, cache: &Weak<LowerFileCache>) {
    while let Ok(job) = rx.recv() {
        let Some(cache) = cache.upgrade() else { return };
        match cache.get_or_open(job.id, || lower.open(&job.path)) {
            Ok(f) => f.prefetch(job.size.min(HEAD)),
            Err(e) => tracing::debug!(path = ?job.path, %e, "read-ahead skipped"),
        }
    }
}
