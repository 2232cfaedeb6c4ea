//! The real lower layer: a directory tree read through directory file descriptors.
//!
//! Every access is `openat`/`fstatat`/`readlinkat` on one name relative to an open directory,
//! with `O_NOFOLLOW`/`AT_SYMLINK_NOFOLLOW`, starting from the root fd. No path with more than one
//! component is ever resolved by the kernel, so no symlink, whether the last component or a
//! directory on the way, can lead outside the lower root. Directory fds are kept in a small
//! LRU cache; everything else the engine caches itself.

mod dir_cache;
mod file;
mod xattr;
pub use xattr::read_growing;

use crate::errno::from_rustix;
use agentfs_core::lower::{Lower, LowerAttr, LowerEntry, LowerFile, LowerPath};
use agentfs_core::{Errno, FileKind, Result, Timestamp};
use dir_cache::DirCache;
use parking_lot::Mutex;
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat, fstat, openat, readlinkat, statat};
use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

/// The lower layer of a daemon: the tree at `root`, leaving out the top-level names `hidden`
/// and the names `everywhere` at any depth.
pub fn open_for_daemon(
    root: &Path,
    hidden: Vec<std::ffi::OsString>,
    everywhere: Vec<std::ffi::OsString>,
) -> std::io::Result<Arc<dyn Lower>> {
    Ok(Arc::new(DirLower::open_hiding(root, hidden)?.hiding_everywhere(everywhere)))
}

/// Directory fds kept open at most.
const DIR_FDS: usize = 256;

/// A lower layer reading the tree under one root directory.
pub struct DirLower {
    root: Arc<OwnedFd>,
    dirs: Mutex<DirCache>,
    /// Names at the top of the tree that are not part of it (a pins directory inside SRC).
    hidden: Vec<std::ffi::OsString>,
    /// Names that are not part of the tree at any depth (the directories agentfs keeps inside
    /// trees: pins, snapshots, staging).
    hidden_everywhere: Vec<std::ffi::OsString>,
}

impl DirLower {
    /// Opens the tree rooted at `root` (which must be a directory).
    pub fn open(root: &Path) -> std::io::Result<DirLower> {
        DirLower::open_hiding(root, Vec::new())
    }

    /// Opens the tree rooted at `root`, leaving out the top-level entries named in `hidden`.
    pub fn open_hiding(root: &Path, hidden: Vec<std::ffi::OsString>) -> std::io::Result<DirLower> {
        let fd = openat(rustix::fs::CWD, root, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        Ok(DirLower {
            root: Arc::new(fd),
            dirs: Mutex::new(DirCache::new(DIR_FDS)),
            hidden,
            hidden_everywhere: Vec::new(),
        })
    }

    /// Also leaves out every entry named in `names`, at any depth.
    pub fn hiding_everywhere(mut self, names: Vec<std::ffi::OsString>) -> DirLower {
        self.hidden_everywhere = names;
        self
    }

    fn hidden_anywhere(&self, name: &OsStr) -> bool {
        self.hidden_everywhere.iter().any(|h| h.as_os_str() == name)
    }

    /// Whether `path` is a hidden top-level entry or lies below one, or below a name hidden
    /// everywhere (walked up without allocating: this runs on every lookup).
    fn is_hidden(&self, path: &LowerPath) -> bool {
        if self.hidden.is_empty() && self.hidden_everywhere.is_empty() {
            return false;
        }
        let mut cur = path;
        while let Some(parent) = cur.parent() {
            let name = cur.name();
            if self.hidden_anywhere(name) || (parent.is_root() && self.hidden.iter().any(|h| h.as_os_str() == name)) {
                return true;
            }
            cur = parent;
        }
        false
    }

    /// An open fd of the directory at `path`, walking down from the nearest cached ancestor.
    fn dir_fd(&self, path: &LowerPath) -> Result<Arc<OwnedFd>> {
        if self.is_hidden(path) {
            return Err(Errno::ENOENT);
        }
        let mut todo = Vec::new();
        let mut cur = path;
        let mut fd = loop {
            if cur.is_root() {
                break Arc::clone(&self.root);
            }
            if let Some(fd) = self.dirs.lock().get(cur) {
                break fd;
            }
            todo.push(cur);
            match cur.parent() {
                Some(p) => cur = p,
                None => break Arc::clone(&self.root),
            }
        };
        for p in todo.into_iter().rev() {
            let child = Arc::new(open_nofollow(&fd, p.name(), OFlags::DIRECTORY)?);
            self.dirs.lock().put(p.clone(), Arc::clone(&child));
            fd = child;
        }
        Ok(fd)
    }

    /// The parent directory fd and last name of a non-root path.
    fn parent_fd<'p>(&self, path: &'p LowerPath) -> Result<(Arc<OwnedFd>, &'p OsStr)> {
        let parent = path.parent().ok_or(Errno::EINVAL)?;
        if self.is_hidden(path) {
            return Err(Errno::ENOENT);
        }
        Ok((self.dir_fd(parent)?, path.name()))
    }
}

/// Opens one name under `dir` read-only, never following a symlink.
fn open_nofollow(dir: &OwnedFd, name: &OsStr, extra: OFlags) -> Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK | extra;
    // O_NOATIME keeps reads from touching the lower tree's access times; the kernel allows it
    // only to the owner (or CAP_FOWNER), so fall back without it.
    #[cfg(target_os = "linux")]
    match openat(dir, name, flags | OFlags::NOATIME, Mode::empty()) {
        Err(rustix::io::Errno::PERM) => {}
        other => return other.map_err(from_rustix),
    }
    openat(dir, name, flags, Mode::empty()).map_err(from_rustix)
}

#[allow(clippy::unnecessary_cast)] // field types differ between targets
fn to_attr(st: &Stat) -> Result<LowerAttr> {
    let kind = FileKind::from_mode(st.st_mode as u32).ok_or(Errno::EIO)?;
    let ctime = Timestamp::new(st.st_ctime as i64, st.st_ctime_nsec as u32);
    Ok(LowerAttr {
        dev: st.st_dev as u64,
        ino: st.st_ino as u64,
        kind,
        perm: (st.st_mode as u32 & 0o7777) as u16,
        nlink: u32::try_from(st.st_nlink as u64).unwrap_or(u32::MAX),
        uid: st.st_uid as u32,
        gid: st.st_gid as u32,
        rdev: st.st_rdev as u64,
        size: (st.st_size as i64).max(0) as u64,
        blocks: st.st_blocks as u64,
        blksize: st.st_blksize as u32,
        atime: Timestamp::new(st.st_atime as i64, st.st_atime_nsec as u32),
        mtime: Timestamp::new(st.st_mtime as i64, st.st_mtime_nsec as u32),
        ctime,
        crtime: ctime,
    })
}

fn kind_of(t: FileType) -> Option<FileKind> {
    Some(match t {
        FileType::RegularFile => FileKind::Regular,
        FileType::Symlink => FileKind::Symlink,
        FileType::Fifo => FileKind::Fifo,
        FileType::Socket => FileKind::Socket,
        FileType::CharacterDevice => FileKind::CharDevice,
        FileType::BlockDevice => FileKind::BlockDevice,
        // Directories are stat'ed to find mount points; unknown types to learn the type.
        _ => return None,
    })
}

impl Lower for DirLower {
    fn stat(&self, path: &LowerPath) -> Result<LowerAttr> {
        if path.is_root() {
            return to_attr(&fstat(&*self.root).map_err(from_rustix)?);
        }
        let (dir, name) = self.parent_fd(path)?;
        to_attr(&statat(&*dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(from_rustix)?)
    }

    fn read_dir(&self, path: &LowerPath) -> Result<Vec<LowerEntry>> {
        let fd = self.dir_fd(path)?;
        #[allow(clippy::unnecessary_cast)]
        let dev = fstat(&*fd).map_err(from_rustix)?.st_dev as u64;
        let mut dir = Dir::read_from(&*fd).map_err(from_rustix)?;
        let mut out = Vec::new();
        while let Some(entry) = dir.read() {
            let entry = entry.map_err(from_rustix)?;
            let bytes = entry.file_name().to_bytes();
            if bytes == b"." || bytes == b".." {
                continue;
            }
            let name = OsStr::from_bytes(bytes);
            if path.is_root() && self.hidden.iter().any(|h| h.as_os_str() == name) {
                continue;
            }
            if self.hidden_anywhere(name) {
                continue;
            }
            match kind_of(entry.file_type()) {
                Some(kind) => out.push(LowerEntry { name: name.to_owned(), kind, dev, ino: entry.ino(), attr: None }),
                None => {
                    match statat(&*fd, name, AtFlags::SYMLINK_NOFOLLOW).map_err(from_rustix).and_then(|s| to_attr(&s)) {
                        Ok(a) => out.push(LowerEntry {
                            name: name.to_owned(),
                            kind: a.kind,
                            dev: a.dev,
                            ino: a.ino,
                            attr: Some(a),
                        }),
                        // Gone since the listing (only possible on a live lower): skip it.
                        Err(Errno::ENOENT) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(out)
    }

    fn open(&self, path: &LowerPath) -> Result<Arc<dyn LowerFile>> {
        let (dir, name) = self.parent_fd(path)?;
        let fd = open_nofollow(&dir, name, OFlags::empty())?;
        Ok(Arc::new(file::RealFile::new(fd)?))
    }

    fn readlink(&self, path: &LowerPath) -> Result<Vec<u8>> {
        let (dir, name) = self.parent_fd(path)?;
        Ok(readlinkat(&*dir, name, Vec::new()).map_err(from_rustix)?.into_bytes())
    }

    fn xattrs(&self, path: &LowerPath, kind: FileKind) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        if path.is_root() {
            return xattr::of_fd(&self.root);
        }
        let (dir, name) = self.parent_fd(path)?;
        xattr::of_entry(&dir, name, kind)
    }
}
