//! A small cache of open lower files for reads that come without a handle (so a file read in
//! many small requests is opened once, and the number of open descriptors stays bounded).
//!
//! Sharded by node id, so concurrent readers of different files rarely meet on a lock.

use crate::errno::Result;
use crate::lower::LowerFile;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

const SHARDS: usize = 16;

/// Open files of one shard, and their ids oldest first.
#[derive(Default)]
struct Shard {
    files: HashMap<u64, Arc<dyn LowerFile>>,
    order: VecDeque<u64>,
}

pub struct LowerFileCache {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
}

impl LowerFileCache {
    /// A cache holding about `capacity` open files.
    pub fn new(capacity: usize) -> LowerFileCache {
        LowerFileCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, id: u64) -> &Mutex<Shard> {
        // Ids are handed out in sequence: the low bits spread them evenly.
        &self.shards[(id % SHARDS as u64) as usize]
    }

    /// The cached file of node `id`, or the one `open` makes (then cached, dropping the oldest).
    pub fn get_or_open(
        &self,
        id: u64,
        open: impl FnOnce() -> Result<Arc<dyn LowerFile>>,
    ) -> Result<Arc<dyn LowerFile>> {
        let shard = self.shard(id);
        if let Some(f) = shard.lock().files.get(&id) {
            return Ok(Arc::clone(f));
        }
        let f = open()?;
        let mut g = shard.lock();
        if g.files.insert(id, Arc::clone(&f)).is_none() {
            g.order.push_back(id);
        }
        while g.order.len() > self.per_shard {
            if let Some(old) = g.order.pop_front() {
                g.files.remove(&old);
            }
        }
        Ok(f)
    }

    /// Forgets node `id` (its data moved to the upper layer, or it left memory).
    pub fn remove(&self, id: u64) {
        let mut g = self.shard(id).lock();
        if g.files.remove(&id).is_some() {
            g.order.retain(|x| *x != id);
        }
    }
}
