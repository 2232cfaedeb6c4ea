//! One node per object the overlay shows.
//!
//! Locks, in the only order they are ever taken: a directory body (ancestors before descendants;
//! unrelated directories by id, under the engine's rename lock), then a file body, then the node
//! table's shards, then `meta`. `meta` is a leaf: nothing else is locked while it is held.

use crate::budget::{Budget, Charge, NODE_COST};
use crate::dir::DirBody;
use crate::errno::{Errno, Result};
use crate::lower::{LowerAttr, LowerFile, LowerPath};
use crate::types::{Attr, FileKind, Timestamp};
use crate::upper::UpperFile;
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

pub type Xattrs = BTreeMap<Vec<u8>, Vec<u8>>;

/// Milliseconds since the first call, wrapping after 49 days: a four-byte clock for the age
/// of attributes read from a live lower layer (compare with `wrapping_sub`).
pub fn clock_ms() -> u32 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_millis() as u32
}

/// Metadata of a node: starts as the lower object's, changes in place.
#[derive(Debug)]
pub struct Meta {
    pub perm: u16,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub rdev: u64,
    /// Size and blocks of lower data (for upper data the store knows them).
    pub size: u64,
    pub blocks: u64,
    pub blksize: u32,
    pub atime: Timestamp,
    pub mtime: Timestamp,
    pub ctime: Timestamp,
    pub crtime: Timestamp,
    /// Extended attributes; `None` until read from the lower layer or changed (boxed: most
    /// nodes never need them).
    pub xattrs: Option<Box<Xattrs>>,
    /// Whether metadata differs from the lower object's.
    pub changed: bool,
    /// RAM charged for this node's own bookkeeping, xattrs and symlink target.
    pub charge: Option<Charge>,
    /// When the attributes were read from the lower layer (for a live lower layer), in
    /// [`clock_ms`] milliseconds; 0 for never.
    pub fetched: u32,
}

impl Meta {
    pub fn from_lower(a: &LowerAttr) -> Meta {
        Meta {
            perm: a.perm,
            uid: a.uid,
            gid: a.gid,
            nlink: a.nlink,
            rdev: a.rdev,
            size: a.size,
            blocks: a.blocks,
            blksize: a.blksize,
            atime: a.atime,
            mtime: a.mtime,
            ctime: a.ctime,
            crtime: a.crtime,
            xattrs: None,
            changed: false,
            charge: None,
            fetched: clock_ms().max(1),
        }
    }

    /// Takes fresh lower attributes (live lower layer; the node holds no upper state).
    pub fn refresh_from_lower(&mut self, a: &LowerAttr) {
        let keep = (self.xattrs.take(), self.charge.take());
        // An access recorded through the mount stays (the lower file is read without one).
        let atime = self.atime.max(a.atime);
        *self = Meta::from_lower(a);
        self.atime = atime;
        // Xattrs are re-read on next use.
        self.charge = keep.1;
    }

    pub fn new_upper(perm: u16, uid: u32, gid: u32, nlink: u32, rdev: u64, size: u64) -> Meta {
        let now = Timestamp::now();
        Meta {
            perm,
            uid,
            gid,
            nlink,
            rdev,
            size,
            blocks: 0,
            blksize: 4096,
            atime: now,
            mtime: now,
            ctime: now,
            crtime: now,
            xattrs: None,
            changed: true,
            charge: None,
            fetched: 0,
        }
    }

    /// Records a content change: mtime and ctime become now.
    pub fn touch_modified(&mut self) {
        let now = Timestamp::now();
        self.mtime = now;
        self.ctime = now;
    }

    /// Records a metadata change: ctime becomes now.
    pub fn touch_changed(&mut self) {
        self.ctime = Timestamp::now();
        self.changed = true;
    }

    /// Grows or shrinks this node's RAM charge by `delta` bytes.
    pub fn recharge(&mut self, budget: &Arc<Budget>, delta: i64) -> Result<()> {
        let cur = self.charge.as_ref().map_or(0, Charge::amount);
        let next = cur.saturating_add_signed(delta);
        match &mut self.charge {
            Some(c) => c.resize(next),
            None => {
                self.charge = Some(Charge::new(budget, next)?);
                Ok(())
            }
        }
    }
}

/// File data: still the lower file, or copied up.
pub enum FileBody {
    /// Data is the lower file at the node's origin; `file` is open while the node is.
    Lower {
        file: Option<Arc<dyn LowerFile>>,
    },
    Upper(Arc<UpperFile>),
}

pub enum Body {
    /// Boxed: most nodes are files, and a directory body is large.
    Dir(Box<RwLock<DirBody>>),
    File(RwLock<FileBody>),
    Symlink(Mutex<Option<Arc<[u8]>>>),
    Special,
}

pub struct Node {
    pub id: u64,
    pub kind: FileKind,
    /// The lower object this node shows, if it came from the lower layer.
    pub origin: Option<LowerPath>,
    /// The id of the directory holding it (for a file with several names, the one it was
    /// reached through).
    pub parent: AtomicU64,
    /// Nodes in memory whose `parent` is this directory: while there are any, it stays in
    /// memory (so every resident node's parent chain is resident too).
    pub children: AtomicU32,
    /// References the kernel holds (lookup replies not yet forgotten).
    pub lookups: AtomicU64,
    /// Open file handles.
    pub opens: AtomicU32,
    /// Open file handles that may write.
    pub writers: AtomicU32,
    /// Holds state the lower layer cannot give back: must stay in memory while linked.
    pub pinned: AtomicBool,
    /// Unlinked (nlink 0) or removed: may go once nothing refers to it.
    pub dead: AtomicBool,
    pub meta: Mutex<Meta>,
    pub body: Body,
}

impl Node {
    /// A node showing the lower object at `origin`.
    pub fn from_lower(id: u64, parent: u64, origin: LowerPath, attr: &LowerAttr) -> Node {
        let body = match attr.kind {
            FileKind::Directory => Body::Dir(Box::new(RwLock::new(DirBody::from_lower(origin.clone())))),
            FileKind::Regular => Body::File(RwLock::new(FileBody::Lower { file: None })),
            FileKind::Symlink => Body::Symlink(Mutex::new(None)),
            _ => Body::Special,
        };
        Node {
            id,
            kind: attr.kind,
            origin: Some(origin),
            parent: AtomicU64::new(parent),
            children: AtomicU32::new(0),
            lookups: AtomicU64::new(0),
            opens: AtomicU32::new(0),
            writers: AtomicU32::new(0),
            pinned: AtomicBool::new(false),
            dead: AtomicBool::new(false),
            meta: Mutex::new(Meta::from_lower(attr)),
            body,
        }
    }

    /// A node created in the upper layer, charged to `budget`.
    pub fn new_upper(
        id: u64,
        parent: u64,
        kind: FileKind,
        mut meta: Meta,
        body: Body,
        budget: &Arc<Budget>,
    ) -> Result<Node> {
        let extra = match &body {
            Body::Symlink(t) => t.lock().as_ref().map_or(0, |t| t.len() as u64),
            _ => 0,
        };
        meta.charge = Some(Charge::new(budget, NODE_COST + extra)?);
        Ok(Node {
            id,
            kind,
            origin: None,
            parent: AtomicU64::new(parent),
            children: AtomicU32::new(0),
            lookups: AtomicU64::new(0),
            opens: AtomicU32::new(0),
            writers: AtomicU32::new(0),
            pinned: AtomicBool::new(true),
            dead: AtomicBool::new(false),
            meta: Mutex::new(meta),
            body,
        })
    }

    pub fn dir(&self) -> Result<&RwLock<DirBody>> {
        match &self.body {
            Body::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    pub fn file(&self) -> Result<&RwLock<FileBody>> {
        match &self.body {
            Body::File(f) => Ok(f),
            Body::Dir(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    /// The upper data, if the file was copied up or created in the upper layer.
    pub fn upper_data(&self) -> Option<Arc<UpperFile>> {
        match &self.body {
            Body::File(f) => match &*f.read() {
                FileBody::Upper(d) => Some(Arc::clone(d)),
                FileBody::Lower { .. } => None,
            },
            _ => None,
        }
    }

    /// Takes in a change the kernel made directly to lent upper data (see
    /// [`UpperFile::lend`]): the modification and change times become its time.
    pub fn absorb_kernel_change(&self, data: Option<&UpperFile>) {
        if let Some(t) = data.and_then(UpperFile::kernel_change) {
            let mut m = self.meta.lock();
            m.mtime = t;
            m.ctime = t;
        }
    }

    /// Current attributes.
    pub fn attr(&self) -> Attr {
        let data = self.upper_data();
        self.absorb_kernel_change(data.as_deref());
        let m = self.meta.lock();
        let (size, blocks) = match &data {
            Some(d) => (d.len(), d.allocated().div_ceil(512)),
            None => (m.size, m.blocks),
        };

        Attr {
            ino: self.id,
            kind: self.kind,
            perm: m.perm,
            nlink: m.nlink,
            uid: m.uid,
            gid: m.gid,
            rdev: m.rdev,
            size,
            blocks,
            blksize: m.blksize,
            atime: m.atime,
            mtime: m.mtime,
            ctime: m.ctime,
            crtime: m.crtime,
        }
    }

    /// Whether the node may leave memory: nobody refers to it, and it holds nothing the lower
    /// layer could not rebuild (or it is gone from the tree anyway). A directory also needs
    /// no child in memory; whether its listing is still the lower one is checked by the caller,
    /// with the listing locked.
    pub fn evictable(&self) -> bool {
        let unreferenced = self.lookups.load(Ordering::Acquire) == 0 && self.opens.load(Ordering::Acquire) == 0;
        if !unreferenced {
            return false;
        }
        if self.dead.load(Ordering::Acquire) {
            return true;
        }
        !self.pinned.load(Ordering::Acquire)
            && (self.kind != FileKind::Directory || self.children.load(Ordering::Acquire) == 0)
    }
}
