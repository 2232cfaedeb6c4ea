//! A lower layer read by path with std::fs: the lower layer of Windows, which has no `openat`.
//! It builds on every OS, so it is tested on Linux like the rest of the engine's lower layers.
//!
//! Every object is named by joining the root and a [`LowerPath`] whose components all came from
//! listings, and final symlinks are never followed (`symlink_metadata`, `read_link`, and on
//! Windows files opened with `FILE_FLAG_OPEN_REPARSE_POINT`). Unlike the Unix `DirLower`, a
//! directory on the way that is replaced by a symlink or junction while the mount runs would
//! be followed: pins are private copies nobody changes, so that only concerns live mounts.
//!
//! Attributes on Windows: the mode is 0o755/0o644, without write bits for read-only files;
//! uid and gid are 0; the change time is the last write time. Windows file attributes
//! (hidden, system, archive...) are offered as the xattr [`WIN_ATTRIBUTES_XATTR`].

mod file;

use crate::file_id;
use agentfs_core::lower::{Lower, LowerAttr, LowerEntry, LowerFile, LowerPath};
use agentfs_core::{Errno, FileKind, Result, Timestamp};
use std::ffi::OsString;
use std::fs::{self, Metadata};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The xattr holding an object's Windows file attributes (little-endian u32), where there are any.
pub const WIN_ATTRIBUTES_XATTR: &[u8] = b"user.agentfs.attributes";

/// A lower layer reading the tree under `root` by path.
pub struct PathLower {
    root: PathBuf,
    /// Names at the top of the tree that are not part of it (a pins directory inside SRC).
    hidden: Vec<OsString>,
    /// Names that are not part of the tree at any depth (agentfs's own directories).
    hidden_everywhere: Vec<OsString>,
}

/// The lower layer of a daemon on Windows: the tree at `root`, leaving out the top-level names
/// `hidden` and the names `everywhere` at any depth.
pub fn open_for_daemon(
    root: &Path,
    hidden: Vec<OsString>,
    everywhere: Vec<OsString>,
) -> std::io::Result<Arc<dyn Lower>> {
    let mut lower = PathLower::open(root, hidden)?;
    lower.hidden_everywhere = everywhere;
    Ok(Arc::new(lower))
}

/// An engine error for a std I/O error.
pub fn errno_of(e: &std::io::Error) -> Errno {
    #[cfg(unix)]
    if let Some(raw) = e.raw_os_error() {
        return crate::errno::from_raw(raw);
    }
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound => Errno::ENOENT,
        K::PermissionDenied => Errno::EACCES,
        K::AlreadyExists => Errno::EEXIST,
        K::NotADirectory => Errno::ENOTDIR,
        K::IsADirectory => Errno::EISDIR,
        K::DirectoryNotEmpty => Errno::ENOTEMPTY,
        K::InvalidInput | K::InvalidFilename => Errno::EINVAL,
        K::OutOfMemory => Errno::ENOMEM,
        K::Unsupported => Errno::EOPNOTSUPP,
        _ => Errno::EIO,
    }
}

fn err(e: std::io::Error) -> Errno {
    errno_of(&e)
}

impl PathLower {
    /// Opens the tree rooted at `root` (a directory), leaving out the top-level names `hidden`.
    pub fn open(root: &Path, hidden: Vec<OsString>) -> std::io::Result<PathLower> {
        let md = fs::metadata(root)?;
        if !md.is_dir() {
            return Err(std::io::Error::new(std::io::ErrorKind::NotADirectory, "the lower root is not a directory"));
        }
        Ok(PathLower { root: root.to_path_buf(), hidden, hidden_everywhere: Vec::new() })
    }

    fn is_hidden(&self, path: &LowerPath) -> bool {
        path.components().first().is_some_and(|c| self.hidden.iter().any(|h| h.as_os_str() == *c))
            || path.components().iter().any(|c| self.hidden_everywhere.iter().any(|h| h.as_os_str() == *c))
    }

    /// The real path of `path`.
    fn real(&self, path: &LowerPath) -> Result<PathBuf> {
        if self.is_hidden(path) {
            return Err(Errno::ENOENT);
        }
        let mut p = self.root.clone();
        for c in path.components() {
            p.push(c);
        }
        Ok(p)
    }
}

fn kind_of(md: &Metadata) -> Result<FileKind> {
    let t = md.file_type();
    if t.is_symlink() {
        return Ok(FileKind::Symlink);
    }
    if t.is_dir() {
        return Ok(FileKind::Directory);
    }
    if t.is_file() {
        return Ok(FileKind::Regular);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        FileKind::from_mode(md.mode()).ok_or(Errno::EIO)
    }
    #[cfg(not(unix))]
    {
        Err(Errno::EIO)
    }
}

fn timestamp(t: std::io::Result<std::time::SystemTime>) -> Timestamp {
    t.map(Timestamp::from).unwrap_or_default()
}

/// Attributes of the object at `path` whose metadata is `md`.
fn to_attr(path: &Path, md: &Metadata) -> Result<LowerAttr> {
    let kind = kind_of(md)?;
    let id = file_id::of(path, md).map_err(err)?;
    let mtime = timestamp(md.modified());
    let mut a = LowerAttr {
        dev: id.dev,
        ino: id.ino,
        kind,
        perm: 0,
        nlink: id.nlink,
        uid: 0,
        gid: 0,
        rdev: 0,
        size: md.len(),
        blocks: md.len().div_ceil(512),
        blksize: 4096,
        atime: timestamp(md.accessed()),
        mtime,
        ctime: mtime,
        crtime: md.created().map(Timestamp::from).unwrap_or(mtime),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        a.perm = (md.mode() & 0o7777) as u16;
        a.uid = md.uid();
        a.gid = md.gid();
        a.rdev = md.rdev();
        a.blocks = md.blocks();
        a.blksize = u32::try_from(md.blksize()).unwrap_or(4096);
        a.ctime = Timestamp::new(md.ctime(), md.ctime_nsec() as u32);
    }
    #[cfg(not(unix))]
    {
        let write = if md.permissions().readonly() { 0 } else { 0o200 };
        a.perm = match kind {
            FileKind::Directory => 0o755,
            FileKind::Symlink => 0o777,
            _ => 0o444 | write,
        };
    }
    Ok(a)
}

impl Lower for PathLower {
    fn stat(&self, path: &LowerPath) -> Result<LowerAttr> {
        let p = self.real(path)?;
        let md = fs::symlink_metadata(&p).map_err(err)?;
        to_attr(&p, &md)
    }

    fn read_dir(&self, path: &LowerPath) -> Result<Vec<LowerEntry>> {
        let dir = self.real(path)?;
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(err)? {
            let entry = entry.map_err(err)?;
            let name = entry.file_name();
            if (path.is_root() && self.hidden.contains(&name)) || self.hidden_everywhere.contains(&name) {
                continue;
            }
            let p = entry.path();
            match fs::symlink_metadata(&p).map_err(err).and_then(|md| to_attr(&p, &md)) {
                Ok(a) => out.push(LowerEntry { name, kind: a.kind, dev: a.dev, ino: a.ino, attr: Some(a) }),
                // Gone since the listing (only possible on a live lower): skip it.
                Err(Errno::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn open(&self, path: &LowerPath) -> Result<Arc<dyn LowerFile>> {
        Ok(Arc::new(file::PathFile::open(&self.real(path)?)?))
    }

    fn readlink(&self, path: &LowerPath) -> Result<Vec<u8>> {
        let target = fs::read_link(self.real(path)?).map_err(err)?;
        Ok(target.into_os_string().into_encoded_bytes())
    }

    fn xattrs(&self, path: &LowerPath, _kind: FileKind) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let p = self.real(path)?;
        #[cfg(windows)]
        {
            use std::os::windows::fs::MetadataExt;
            let attrs = fs::symlink_metadata(&p).map_err(err)?.file_attributes();
            Ok(vec![(WIN_ATTRIBUTES_XATTR.to_vec(), attrs.to_le_bytes().to_vec())])
        }
        #[cfg(not(windows))]
        {
            // Unix trees are read by `DirLower`, which has the xattrs; this reader keeps none.
            let _ = p;
            Ok(Vec::new())
        }
    }
}

#[cfg(test)]
mod tests;
