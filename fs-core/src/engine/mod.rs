//! The overlay engine: every filesystem operation, by node id, with errnos for errors.
//!
//! Operations that hand out a node (lookup, mknod, mkdir, symlink, link, create, and each entry
//! of readdirplus) count one reference, as FUSE does; [`Engine::forget`] gives references back.
//! Nodes nobody refers to leave memory unless they hold upper state.
//!
//! The upper layer is volatile by design: fsync and flush succeed at once without any I/O,
//! because nothing of the upper layer outlives the mount.
//!
//! Access control is not done here: a frontend checks permissions before calling (the Linux
//! frontend mounts with `default_permissions`, so the kernel does it from the attributes the
//! engine reports). The engine only stamps owners on new objects from the caller.

mod attrs;
mod backing;
mod changes;
mod data;
mod listing;
mod lower_cache;
mod names;
mod prefetch;
mod rename;
mod xattr;

#[cfg(test)]
mod tests;

use crate::budget::Budget;
use crate::dir::{DirBody, Entry, Name};
use crate::errno::{Errno, Result};
use crate::ids::IdMap;
use crate::lower::{Lower, LowerPath};
use crate::node::Node;
use crate::store::DataStore;
use crate::types::{AtimePolicy, Attr, FileKind, OpenFlags, ROOT_ID};
use dashmap::DashMap;
use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub use changes::{Frozen, display_path};
pub use data::NO_HANDLE;
pub use xattr::XattrFlags;

/// Settings of one engine instance.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Bytes of RAM the upper layer may use; past it, writes fail with ENOSPC.
    pub budget_bytes: u64,
    /// `None`: the lower layer is immutable (pinned) and what is read from it is kept for the
    /// life of the mount. `Some(ttl)`: it may change (live): listings of directories the overlay
    /// has not changed, and attributes of nodes holding no upper state, are read again once
    /// older than `ttl`.
    pub lower_ttl: Option<std::time::Duration>,
    /// Whether the frontend opens and releases every file it reads or writes. A FUSE frontend
    /// in no-open mode does not: it reads and writes by inode, and an unlinked file may then be
    /// open without the engine knowing, so its data stays until the kernel forgets it.
    pub tracks_opens: bool,
    /// When a lower file is first read, read this many of the files listed after it ahead
    /// (0: never). Pays off when reads come without a handle and each waits for the daemon.
    pub read_ahead_files: usize,
    /// When accesses update access times, for files and (`dir_atime`) directories.
    pub atime: AtimePolicy,
    pub dir_atime: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            budget_bytes: 4 << 30,
            lower_ttl: None,
            tracks_opens: true,
            read_ahead_files: 0,
            atime: AtimePolicy::Relative,
            dir_atime: true,
        }
    }
}

/// An entry found in a directory's listing (which the finder has locked).
#[derive(Clone, Copy)]
pub(crate) struct Found<'a> {
    pub body: &'a DirBody,
    pub name: &'a std::ffi::OsStr,
    pub entry: &'a Entry,
}

/// An open file.
pub(crate) struct OpenFile {
    node: Arc<Node>,
    flags: OpenFlags,
}

/// Counters for status reports and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineStats {
    /// Nodes in memory.
    pub nodes: usize,
    /// Open file handles.
    pub open_files: usize,
    /// Bytes charged to the RAM budget.
    pub used_bytes: u64,
    pub budget_bytes: u64,
}

/// What the upper layer holds for one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpperState {
    /// Created in the upper layer (no lower origin).
    pub created: bool,
    /// File data lives in the upper layer.
    pub data_in_upper: bool,
    /// Metadata (mode, owner, times, xattrs, links) differs from the lower object.
    pub meta_changed: bool,
}

pub struct Engine {
    lower: Arc<dyn Lower>,
    store: Arc<dyn DataStore>,
    budget: Arc<Budget>,
    nodes: DashMap<u64, Arc<Node>>,
    ids: IdMap,
    files: DashMap<u64, Arc<OpenFile>>,
    next_fh: AtomicU64,
    /// Serializes renames between directories, so ancestry cannot change during the check
    /// that a directory is not moved into itself (the same rule as the kernel's s_vfs_rename_mutex).
    rename_lock: Mutex<()>,
    lower_ttl: Option<std::time::Duration>,
    tracks_opens: bool,
    atime: AtimePolicy,
    dir_atime: bool,
    /// See [`Engine::set_frontend_keeps_mtime`].
    frontend_keeps_mtime: AtomicBool,
    /// Lower files opened for reads that come without a handle.
    lower_files: Arc<lower_cache::LowerFileCache>,
    prefetch: Option<prefetch::Prefetcher>,
    /// Taken shared by every change, exclusively by [`Engine::freeze`]. Uncontended but for a
    /// freeze: one atomic add per change, no wait.
    gate: RwLock<()>,
}

impl Engine {
    /// An engine over `lower`, storing upper data in `store`.
    pub fn new(lower: Arc<dyn Lower>, store: Arc<dyn DataStore>, config: Config) -> Result<Engine> {
        let root_path = LowerPath::root();
        let attr = lower.stat(&root_path)?;
        if attr.kind != FileKind::Directory {
            return Err(Errno::ENOTDIR);
        }
        let root = Node::from_lower(ROOT_ID, ROOT_ID, root_path, &attr);
        // The root never leaves memory.
        root.pinned.store(true, Ordering::Release);
        root.lookups.store(1, Ordering::Release);
        let nodes = DashMap::new();
        nodes.insert(ROOT_ID, Arc::new(root));
        let lower_files = Arc::new(lower_cache::LowerFileCache::new(128));
        let prefetch =
            prefetch::Prefetcher::start(config.read_ahead_files, Arc::clone(&lower), Arc::downgrade(&lower_files));
        let budget = Budget::new(config.budget_bytes);
        if store.bounds_itself() {
            let told = Arc::clone(&store);
            budget.watch(budget_step(config.budget_bytes), Box::new(move |b: &Budget| told.budget_used(b)));
        }
        Ok(Engine {
            lower,
            store,
            budget,
            nodes,
            ids: IdMap::new(attr.dev, attr.ino),
            files: DashMap::new(),
            next_fh: AtomicU64::new(1),
            rename_lock: Mutex::new(()),
            lower_ttl: config.lower_ttl,
            tracks_opens: config.tracks_opens,
            atime: config.atime,
            dir_atime: config.dir_atime,
            frontend_keeps_mtime: AtomicBool::new(false),
            prefetch,
            lower_files,
            gate: RwLock::new(()),
        })
    }

    /// Tells the engine that the frontend keeps the modification times of regular files itself
    /// and sets them with `setattr` (a FUSE writeback cache): writes then leave them alone, or
    /// the time a write reaches the engine would overwrite the time it was made.
    pub fn set_frontend_keeps_mtime(&self, on: bool) {
        self.frontend_keeps_mtime.store(on, Ordering::Release);
    }

    /// Gives back the room of the node table once it holds less than a quarter of what it
    /// could (after the kernel forgot most of a big walk): a table keeps its peak capacity, 16
    /// bytes and more per slot, otherwise. Each shard is locked while it is rebuilt. Says
    /// whether it shrank: the table's capacity remembers a peak of nodes that came and went
    /// between two looks.
    pub fn shrink_tables(&self) -> bool {
        const SMALL: usize = 4096;
        let shrink = self.nodes.capacity() > SMALL && self.nodes.len() * 4 < self.nodes.capacity();
        if shrink {
            self.nodes.shrink_to_fit();
        }
        shrink
    }

    /// The most bytes the upper layer held since the last call.
    pub fn take_bytes_peak(&self) -> u64 {
        self.budget.take_peak()
    }

    pub fn stats(&self) -> EngineStats {
        EngineStats {
            nodes: self.nodes.len(),
            open_files: self.files.len(),
            used_bytes: self.budget.used(),
            budget_bytes: self.budget.limit(),
        }
    }

    /// What the upper layer holds for node `id`; `None` if the node is not in memory (then it
    /// holds nothing).
    pub fn upper_state(&self, id: u64) -> Option<UpperState> {
        let node = self.nodes.get(&id).map(|n| Arc::clone(&n))?;
        let data_in_upper = node.upper_data().is_some();
        let meta_changed = node.meta.lock().changed;
        Some(UpperState { created: node.origin.is_none(), data_in_upper, meta_changed })
    }

    /// The node `id`, which the caller holds a reference to.
    fn node(&self, id: u64) -> Result<Arc<Node>> {
        match self.nodes.get(&id) {
            Some(n) => Ok(Arc::clone(&n)),
            None => Err(Errno::ESTALE),
        }
    }

    /// Marks `node` as holding upper state, so it stays in memory while linked.
    ///
    /// Done under the node table's shard lock, which eviction also takes: a node is either
    /// pinned before eviction looks at it, or already gone (then this is a bug: ESTALE).
    fn pin(&self, node: &Arc<Node>) -> Result<()> {
        if node.pinned.load(Ordering::Acquire) {
            return Ok(());
        }
        match self.nodes.get(&node.id) {
            Some(n) if Arc::ptr_eq(&n, node) => {
                node.pinned.store(true, Ordering::Release);
                Ok(())
            }
            _ => {
                tracing::error!(id = node.id, "pinning a node that is no longer in the table");
                Err(Errno::EIO)
            }
        }
    }

    /// The node an entry of directory `dir_id` points to, built from the lower layer if not in
    /// memory. `count` adds a kernel reference and `pin` marks it as holding upper state, both
    /// atomically with respect to eviction.
    fn resolve(&self, dir_id: u64, found: Found<'_>, count: bool, pin: bool) -> Result<Arc<Node>> {
        let Found { body, name, entry } = found;
        let take = |n: &Arc<Node>| {
            if count {
                n.lookups.fetch_add(1, Ordering::AcqRel);
            }
            if pin {
                n.pinned.store(true, Ordering::Release);
            }
            Arc::clone(n)
        };
        if let Some(n) = self.nodes.get(&entry.id) {
            return Ok(take(&n));
        }
        let Some(origin) = body.origin_of(name, entry) else {
            tracing::error!(id = entry.id, "an upper node is missing from the node table");
            return Err(Errno::EIO);
        };
        let attr = self.lower.stat(&origin)?;
        let node = Arc::new(Node::from_lower(entry.id, dir_id, origin, &attr));
        let mut added = false;
        let n = Arc::clone(&self.nodes.entry(entry.id).or_insert_with(|| {
            added = true;
            node
        }));
        if added {
            self.adopt(dir_id);
        }
        Ok(take(&n))
    }

    /// Counts a new resident child of directory `dir_id`. Called with the directory's listing
    /// locked (as every lookup through it is), so it cannot be leaving memory meanwhile.
    fn adopt(&self, dir_id: u64) {
        match self.nodes.get(&dir_id) {
            Some(d) => {
                d.children.fetch_add(1, Ordering::AcqRel);
            }
            None => tracing::error!(dir = dir_id, "a node was reached through a directory not in memory"),
        }
    }

    /// Drops `node` from memory if nothing refers to it and it holds nothing worth keeping,
    /// then tries its directory, which may have been kept only for it, and so on up.
    fn maybe_evict(&self, node: &Arc<Node>) {
        let mut next = Some(Arc::clone(node));
        while let Some(n) = next.take() {
            if n.id == ROOT_ID || !self.evict(&n) {
                return;
            }
            let parent = n.parent.load(Ordering::Acquire);
            if let Some(p) = self.nodes.get(&parent).map(|p| Arc::clone(&p)) {
                let _ = p.children.fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| Some(c.saturating_sub(1)));
                next = Some(p);
            }
        }
    }

    /// Removes `n` from the node table if it may go; returns whether it went. A directory goes
    /// with its listing, which must still be the lower one (or the directory was removed); its
    /// listing is locked meanwhile, so no child is being reached through it.
    fn evict(&self, n: &Arc<Node>) -> bool {
        if !n.evictable() {
            return false;
        }
        let gone = match &n.body {
            crate::node::Body::Dir(d) => {
                let Some(body) = d.try_write() else { return false };
                if body.is_changed() && !n.dead.load(Ordering::Acquire) {
                    return false;
                }
                self.nodes.remove_if(&n.id, |_, x| Arc::ptr_eq(x, n) && x.evictable()).is_some()
            }
            _ => self.nodes.remove_if(&n.id, |_, x| Arc::ptr_eq(x, n) && x.evictable()).is_some(),
        };
        if gone {
            self.lower_files.remove(n.id);
        }
        gone
    }

    /// The lower listing at `path`, as directory entries.
    fn lower_entries(&self, path: &LowerPath) -> Result<Vec<(Name, u64, FileKind)>> {
        Ok(self
            .lower
            .read_dir(path)?
            .into_iter()
            .map(|e| (Name::from(e.name.as_os_str()), self.ids.lower(e.dev, e.ino), e.kind))
            .collect())
    }

    /// Whether a loaded directory must read its live lower listing again.
    fn dir_stale(&self, body: &DirBody) -> bool {
        self.lower_ttl.is_some_and(|ttl| body.is_stale(ttl))
    }

    /// Reads the lower listing of a directory if that has not happened yet (or again, when a
    /// live lower listing is old and the overlay has not changed the directory).
    fn load_dir(&self, node: &Node, body: &mut DirBody) -> Result<()> {
        if body.is_loaded() {
            if self.dir_stale(body) {
                if let Some(origin) = &node.origin {
                    body.reload(self.lower_entries(origin)?);
                }
            }
            return Ok(());
        }
        let Some(path) = body.pending_lower().cloned() else {
            body.load(Vec::new());
            return Ok(());
        };
        body.load(self.lower_entries(&path)?);
        Ok(())
    }

    /// The loaded entries of a directory, for reading.
    fn dir_read<'a>(&self, node: &'a Node) -> Result<RwLockReadGuard<'a, DirBody>> {
        let lock = node.dir()?;
        let guard = lock.read();
        if guard.is_loaded() && !self.dir_stale(&guard) {
            return Ok(guard);
        }
        drop(guard);
        let mut w = lock.write();
        self.load_dir(node, &mut w)?;
        Ok(RwLockWriteGuard::downgrade(w))
    }

    /// The loaded entries of a directory, for changing.
    fn dir_write<'a>(&self, node: &'a Node) -> Result<RwLockWriteGuard<'a, DirBody>> {
        let mut w = node.dir()?.write();
        self.load_dir(node, &mut w)?;
        Ok(w)
    }

    /// With a live lower layer, reads the attributes of a node holding no upper state again
    /// once they are older than the TTL. Returns the current attributes.
    fn fresh_attr(&self, node: &Node) -> Attr {
        if let (Some(ttl), Some(origin)) = (self.lower_ttl, &node.origin) {
            let stale = !node.pinned.load(Ordering::Acquire) && {
                let fetched = node.meta.lock().fetched;
                fetched == 0 || u128::from(crate::node::clock_ms().wrapping_sub(fetched)) > ttl.as_millis()
            };
            if stale {
                if let Ok(a) = self.lower.stat(origin) {
                    if a.kind == node.kind {
                        node.meta.lock().refresh_from_lower(&a);
                        if let crate::node::Body::Symlink(t) = &node.body {
                            *t.lock() = None;
                        }
                    }
                }
            }
        }
        node.attr()
    }

    fn budget(&self) -> &Arc<Budget> {
        &self.budget
    }
}

/// How far the budget's use moves before a store that bounds itself is told: the limit it
/// keeps may lag by that much (1/256 of the budget, at least 64 KiB).
fn budget_step(limit: u64) -> u64 {
    (limit / 256).max(64 << 10)
}
