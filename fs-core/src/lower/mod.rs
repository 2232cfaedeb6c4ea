//! The lower layer: an immutable directory tree the engine reads but never writes.
//!
//! The real implementation (in `agentfs-platform`) reads a pinned tree through directory file
//! descriptors; [`fake::FakeLower`] is an in-memory tree for tests.

pub mod fake;

use crate::errno::Result;
use crate::types::{FileKind, Timestamp};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A path inside the lower layer, relative to its root.
///
/// Cheap to clone; children share their parent's allocation. The engine never builds a path from
/// user input: every `LowerPath` names an entry that a lower directory listing returned.
#[derive(Clone)]
pub struct LowerPath(Arc<PathNode>);

struct PathNode {
    parent: Option<LowerPath>,
    name: Box<OsStr>,
    depth: u32,
}

impl LowerPath {
    /// The lower root.
    pub fn root() -> LowerPath {
        LowerPath(Arc::new(PathNode { parent: None, name: OsStr::new("").into(), depth: 0 }))
    }

    /// The entry `name` inside this directory.
    pub fn child(&self, name: &OsStr) -> LowerPath {
        LowerPath(Arc::new(PathNode { parent: Some(self.clone()), name: name.into(), depth: self.0.depth + 1 }))
    }

    pub fn is_root(&self) -> bool {
        self.0.parent.is_none()
    }

    /// The last component ("" for the root).
    pub fn name(&self) -> &OsStr {
        &self.0.name
    }

    pub fn parent(&self) -> Option<&LowerPath> {
        self.0.parent.as_ref()
    }

    /// Number of components below the root.
    pub fn depth(&self) -> u32 {
        self.0.depth
    }

    /// The components from the root down.
    pub fn components(&self) -> Vec<&OsStr> {
        let mut out = Vec::with_capacity(self.0.depth as usize);
        let mut cur = self;
        while let Some(parent) = cur.parent() {
            out.push(cur.name());
            cur = parent;
        }
        out.reverse();
        out
    }

    /// The relative path ("." for the root).
    pub fn to_path_buf(&self) -> PathBuf {
        if self.is_root() {
            return PathBuf::from(".");
        }
        self.components().into_iter().collect()
    }

    /// Whether this path is `dir`'s entry `name`.
    pub fn is_child_of(&self, dir: &LowerPath, name: &OsStr) -> bool {
        self.name() == name && self.parent() == Some(dir)
    }

    /// Identity of this allocation, usable as a cache key while a clone is kept alive.
    pub fn ptr_key(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
}

impl PartialEq for LowerPath {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || (self.0.depth == other.0.depth && self.components() == other.components())
    }
}

impl Eq for LowerPath {}

impl fmt::Debug for LowerPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_path_buf())
    }
}

/// Attributes of a lower object, as the lower filesystem reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LowerAttr {
    pub dev: u64,
    pub ino: u64,
    pub kind: FileKind,
    pub perm: u16,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    pub blocks: u64,
    pub blksize: u32,
    pub atime: Timestamp,
    pub mtime: Timestamp,
    pub ctime: Timestamp,
    pub crtime: Timestamp,
}

/// One entry of a lower directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LowerEntry {
    pub name: OsString,
    pub kind: FileKind,
    /// Device and inode number identify the object; two names with equal (dev, ino) are hardlinks.
    pub dev: u64,
    pub ino: u64,
    /// Attributes, when the implementation had to fetch them anyway (directories, unknown types).
    pub attr: Option<LowerAttr>,
}

/// An open lower regular file.
pub trait LowerFile: Send + Sync {
    /// Reads at `offset`; returns 0 at end of file.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize>;
    /// `SEEK_DATA`: the first data offset at or after `offset`, or ENXIO.
    fn seek_data(&self, offset: u64) -> Result<u64>;
    /// `SEEK_HOLE`: the first hole offset at or after `offset` (the size counts as a hole), or ENXIO.
    fn seek_hole(&self, offset: u64) -> Result<u64>;
    /// Asks the lower filesystem to start reading the first `len` bytes into its cache, without
    /// waiting (a hint: implementations may ignore it).
    fn prefetch(&self, _len: u64) {}
    /// The file descriptor, for kernel passthrough.
    #[cfg(unix)]
    fn backing_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        None
    }
}

/// Read access to an immutable lower tree.
///
/// Every method names objects by [`LowerPath`]; an implementation must never follow a symlink,
/// neither the last component nor any directory on the way, so that nothing outside the lower
/// root is ever reached.
pub trait Lower: Send + Sync {
    /// Attributes of the object at `path`.
    fn stat(&self, path: &LowerPath) -> Result<LowerAttr>;
    /// The entries of the directory at `path`, without "." and "..", in the lower order.
    fn read_dir(&self, path: &LowerPath) -> Result<Vec<LowerEntry>>;
    /// Opens the regular file at `path` for reading.
    fn open(&self, path: &LowerPath) -> Result<Arc<dyn LowerFile>>;
    /// The target of the symlink at `path`, as bytes.
    fn readlink(&self, path: &LowerPath) -> Result<Vec<u8>>;
    /// All extended attributes of the object at `path`.
    fn xattrs(&self, path: &LowerPath, kind: FileKind) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_compose() {
        let root = LowerPath::root();
        let c = root.child(OsStr::new("a")).child(OsStr::new("b"));
        assert_eq!(c.to_path_buf(), PathBuf::from("a/b"));
        assert_eq!(c.depth(), 2);
        assert_eq!(root.to_path_buf(), PathBuf::from("."));
        assert_eq!(c, LowerPath::root().child(OsStr::new("a")).child(OsStr::new("b")));
        assert_ne!(c, root.child(OsStr::new("b")));
    }
}
