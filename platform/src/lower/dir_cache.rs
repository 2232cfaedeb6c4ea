//! A small LRU cache of open directory fds, keyed by lower path.

use agentfs_core::lower::LowerPath;
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::Arc;

struct Slot {
    /// Kept so the key (the path's allocation) cannot be reused while cached.
    path: LowerPath,
    fd: Arc<OwnedFd>,
    used: u64,
}

pub struct DirCache {
    slots: HashMap<usize, Slot>,
    tick: u64,
    capacity: usize,
}

impl DirCache {
    pub fn new(capacity: usize) -> DirCache {
        DirCache { slots: HashMap::with_capacity(capacity), tick: 0, capacity }
    }

    pub fn get(&mut self, path: &LowerPath) -> Option<Arc<OwnedFd>> {
        self.tick += 1;
        let slot = self.slots.get_mut(&path.ptr_key())?;
        if slot.path != *path {
            return None;
        }
        slot.used = self.tick;
        Some(Arc::clone(&slot.fd))
    }

    pub fn put(&mut self, path: LowerPath, fd: Arc<OwnedFd>) {
        if self.slots.len() >= self.capacity {
            if let Some(oldest) = self.slots.iter().min_by_key(|(_, s)| s.used).map(|(k, _)| *k) {
                self.slots.remove(&oldest);
            }
        }
        self.tick += 1;
        self.slots.insert(path.ptr_key(), Slot { path, fd, used: self.tick });
    }
}
