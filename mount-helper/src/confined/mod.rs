//! Confined directory handles: how agentfs touches trees that others can change under it (SRC,
//! the target of `commit --to`, staging directories, pins and snapshots).
//!
//! A [`Dir`] is an open directory that lies beneath a root opened once, by [`Dir::open_root`],
//! without following any symlink on the way. Further directories are only made from a `Dir`:
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)`
//! where the kernel has it, else one `O_NOFOLLOW | O_DIRECTORY` open per component that also
//! refuses to cross into another mount (macOS always walks, and tells mounts apart by device).
//! Everything else (create, rename, exchange, link, unlink, metadata) is a `*at` call on the fd
//! of the parent with one plain name, never a path string: a symlink or a swapped directory
//! anywhere cannot lead a write outside the root.

mod meta;
mod resolve;
mod tree;

pub use meta::{Meta, ObjectMeta, set_meta_of};
pub use tree::{Entry, entries};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags, Stat};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// An object's identity: device and inode number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct Identity {
    pub dev: u64,
    pub ino: u64,
}

impl Identity {
    #[allow(clippy::unnecessary_cast)]
    pub fn of(st: &Stat) -> Identity {
        Identity { dev: st.st_dev as u64, ino: st.st_ino as u64 }
    }
}

/// The kind of an object, from its stat.
#[allow(clippy::unnecessary_cast)]
pub fn kind_of(st: &Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode as _)
}

struct RootInfo {
    path: PathBuf,
}

/// An open directory beneath a root (see the module documentation).
pub struct Dir {
    fd: OwnedFd,
    root: Arc<RootInfo>,
    /// Where it is below the root (for messages, and to open it again).
    rel: PathBuf,
}

/// An OS error about one path: says the path, and keeps the errno (see [`errno`]).
#[derive(Debug)]
pub struct PathError {
    pub path: PathBuf,
    pub source: io::Error,
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.source)
    }
}

impl std::error::Error for PathError {}

/// An error about one name or path, with the path in it.
pub fn err_at(path: &Path, e: io::Error) -> io::Error {
    if e.get_ref().is_some_and(|i| i.is::<PathError>()) {
        return e;
    }
    io::Error::new(e.kind(), PathError { path: path.to_path_buf(), source: e })
}

/// The errno of an error, also through [`err_at`].
pub fn errno(e: &io::Error) -> Option<i32> {
    e.raw_os_error().or_else(|| e.get_ref()?.downcast_ref::<PathError>()?.source.raw_os_error())
}

/// The OS's reason of an error, without the path [`err_at`] put in.
pub fn cause(e: &io::Error) -> String {
    match e.get_ref().and_then(|i| i.downcast_ref::<PathError>()) {
        Some(p) => p.source.to_string(),
        None => e.to_string(),
    }
}

/// Permission bits as rustix's `Mode` (whose raw type is 32 bits on Linux, 16 on macOS).
fn mode_of(mode: u32) -> Mode {
    #[allow(clippy::unnecessary_cast)]
    Mode::from_raw_mode(mode as rustix::fs::RawMode)
}

/// Refuses anything but one plain name (no `/`, not `.` or `..`, not empty).
pub fn check_name(name: &OsStr) -> io::Result<&OsStr> {
    let b = name.as_bytes();
    if b.is_empty() || b == b"." || b == b".." || b.contains(&b'/') || b.contains(&0) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{name:?} is not a plain file name")));
    }
    Ok(name)
}

/// Refuses anything but a relative path of plain names (empty: the directory itself).
pub fn check_rel(rel: &Path) -> io::Result<()> {
    if rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Ok(());
    }
    Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{} is not a relative path of plain names", rel.display())))
}

/// Splits a relative path into its parent and last name.
pub fn split(rel: &Path) -> io::Result<(&Path, &OsStr)> {
    check_rel(rel)?;
    match (rel.parent(), rel.file_name()) {
        (Some(p), Some(n)) => Ok((p, n)),
        _ => Err(io::Error::new(io::ErrorKind::InvalidInput, "an empty path has no last name")),
    }
}

impl Dir {
    /// Opens the directory at the absolute path `path` as a root, following no symlink on the
    /// way (a symlink anywhere in `path` is refused with ELOOP).
    pub fn open_root(path: &Path) -> io::Result<Dir> {
        let fd = resolve::open_absolute(path).map_err(|e| err_at(path, e))?;
        Ok(Dir { fd, root: Arc::new(RootInfo { path: path.to_path_buf() }), rel: PathBuf::new() })
    }

    /// The root's path joined with this directory's place below it (for messages only).
    pub fn path(&self) -> PathBuf {
        self.root.path.join(&self.rel)
    }

    /// The path of `name` in this directory (for messages only).
    pub fn path_of(&self, name: &OsStr) -> PathBuf {
        self.path().join(name)
    }

    /// Where this directory is below its root.
    pub fn rel(&self) -> &Path {
        &self.rel
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// A new descriptor of this directory (sharing its open file description).
    pub fn dup_fd(&self) -> io::Result<OwnedFd> {
        rustix::io::fcntl_dupfd_cloexec(&self.fd, 0).map_err(|e| err_at(&self.path(), e.into()))
    }

    /// This directory's descriptor.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// The parent directory of `rel` (below this one) and its last name.
    pub fn parent_of<'p>(&self, rel: &'p Path) -> io::Result<(Dir, &'p OsStr)> {
        let (parent, name) = split(rel)?;
        Ok((self.open_dir(parent)?, name))
    }

    /// The directory at `rel` below this one.
    pub fn open_dir(&self, rel: &Path) -> io::Result<Dir> {
        check_rel(rel)?;
        let fd = resolve::open_beneath(&self.fd, rel).map_err(|e| err_at(&self.path().join(rel), e))?;
        Ok(Dir { fd, root: Arc::clone(&self.root), rel: self.rel.join(rel) })
    }

    /// The same directory through a new fd.
    pub fn reopen(&self) -> io::Result<Dir> {
        self.open_dir(Path::new(""))
    }

    /// This directory's own stat.
    pub fn stat_self(&self) -> io::Result<Stat> {
        rustix::fs::fstat(&self.fd).map_err(|e| err_at(&self.path(), e.into()))
    }

    /// The stat of `name` (not following a symlink), or None if there is nothing there.
    pub fn stat(&self, name: &OsStr) -> io::Result<Option<Stat>> {
        match rustix::fs::statat(&self.fd, check_name(name)?, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(err_at(&self.path_of(name), e.into())),
        }
    }

    /// The identity of what is at `name`, if anything.
    pub fn identity(&self, name: &OsStr) -> io::Result<Option<Identity>> {
        Ok(self.stat(name)?.as_ref().map(Identity::of))
    }

    /// Opens the regular file `name` for reading (or writing), never following a symlink and
    /// never opening anything but a regular file.
    pub fn open_file(&self, name: &OsStr, write: bool) -> io::Result<OwnedFd> {
        let access = if write { OFlags::RDWR } else { OFlags::RDONLY };
        let flags = access | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        let fail = |e: rustix::io::Errno| err_at(&self.path_of(name), e.into());
        #[cfg(target_os = "linux")]
        let fd = match rustix::fs::openat(&self.fd, check_name(name)?, flags | OFlags::NOATIME, Mode::empty()) {
            Err(rustix::io::Errno::PERM) => rustix::fs::openat(&self.fd, name, flags, Mode::empty()).map_err(fail)?,
            other => other.map_err(fail)?,
        };
        // macOS has no O_NOATIME.
        #[cfg(not(target_os = "linux"))]
        let fd = rustix::fs::openat(&self.fd, check_name(name)?, flags, Mode::empty()).map_err(fail)?;
        if kind_of(&rustix::fs::fstat(&fd).map_err(fail)?) != FileType::RegularFile {
            return Err(err_at(&self.path_of(name), io::Error::other("not a regular file")));
        }
        Ok(fd)
    }

    /// Creates the regular file `name` (which must not exist) for reading and writing.
    pub fn create_file(&self, name: &OsStr, mode: u32) -> io::Result<OwnedFd> {
        let flags = OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        rustix::fs::openat(&self.fd, check_name(name)?, flags, mode_of(mode))
            .map_err(|e| err_at(&self.path_of(name), e.into()))
    }

    pub fn mkdir(&self, name: &OsStr, mode: u32) -> io::Result<()> {
        rustix::fs::mkdirat(&self.fd, check_name(name)?, mode_of(mode))
            .map_err(|e| err_at(&self.path_of(name), e.into()))
    }

    pub fn symlink(&self, target: &[u8], name: &OsStr) -> io::Result<()> {
        rustix::fs::symlinkat(OsStr::from_bytes(target), &self.fd, check_name(name)?)
            .map_err(|e| err_at(&self.path_of(name), e.into()))
    }

    /// Makes a FIFO, socket or device node.
    pub fn mknod(&self, name: &OsStr, kind: FileType, rdev: u64) -> io::Result<()> {
        agentfs_platform::os::fs::mknodat(&self.fd, check_name(name)?, kind, 0o600, rdev)
            .map_err(|e| err_at(&self.path_of(name), e))
    }

    pub fn readlink(&self, name: &OsStr) -> io::Result<Vec<u8>> {
        rustix::fs::readlinkat(&self.fd, check_name(name)?, Vec::new())
            .map(|c| c.into_bytes())
            .map_err(|e| err_at(&self.path_of(name), e.into()))
    }

    /// Renames `name` to `to/to_name`, which must not exist.
    pub fn move_to(&self, name: &OsStr, to: &Dir, to_name: &OsStr) -> io::Result<()> {
        self.rename(name, to, to_name, RenameFlags::NOREPLACE)
    }

    /// Swaps `name` and `to/to_name` in one step (both must exist).
    pub fn exchange(&self, name: &OsStr, to: &Dir, to_name: &OsStr) -> io::Result<()> {
        self.rename(name, to, to_name, RenameFlags::EXCHANGE)
    }

    fn rename(&self, name: &OsStr, to: &Dir, to_name: &OsStr, how: RenameFlags) -> io::Result<()> {
        rustix::fs::renameat_with(&self.fd, check_name(name)?, &to.fd, check_name(to_name)?, how)
            .map_err(|e| err_at(&to.path_of(to_name), e.into()))
    }

    /// Makes `to/to_name` another name of the object at `name` (a symlink itself, never its
    /// target).
    pub fn link_to(&self, name: &OsStr, to: &Dir, to_name: &OsStr) -> io::Result<()> {
        rustix::fs::linkat(&self.fd, check_name(name)?, &to.fd, check_name(to_name)?, AtFlags::empty())
            .map_err(|e| err_at(&to.path_of(to_name), e.into()))
    }

    pub fn unlink(&self, name: &OsStr) -> io::Result<()> {
        rustix::fs::unlinkat(&self.fd, check_name(name)?, AtFlags::empty())
            .map_err(|e| err_at(&self.path_of(name), e.into()))
    }

    pub fn rmdir(&self, name: &OsStr) -> io::Result<()> {
        rustix::fs::unlinkat(&self.fd, check_name(name)?, AtFlags::REMOVEDIR)
            .map_err(|e| err_at(&self.path_of(name), e.into()))
    }

    /// Removes whatever is at `name`, a whole tree for a directory (never following a
    /// symlink); nothing there is fine.
    pub fn remove_tree(&self, name: &OsStr) -> io::Result<()> {
        tree::remove(self, check_name(name)?)
    }

    /// The metadata of the object at `name` (xattrs too, except for symlinks).
    pub fn meta(&self, name: &OsStr) -> io::Result<Option<ObjectMeta>> {
        meta::read(self, check_name(name)?)
    }

    /// Sets the metadata of the object at `name`, if it is still `who`.
    pub fn set_meta(&self, name: &OsStr, who: Identity, m: &Meta) -> io::Result<()> {
        meta::set(self, check_name(name)?, who, m)
    }

    /// Makes everything in this directory's filesystem durable.
    pub fn syncfs(&self) -> io::Result<()> {
        agentfs_platform::os::fs::sync_filesystem(&self.fd).map_err(|e| err_at(&self.path(), e))
    }
}

#[cfg(test)]
mod tests;
