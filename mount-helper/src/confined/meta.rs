//! Reading and setting the metadata of one object of a confined directory.
//!
//! The object is opened with `O_PATH | O_NOFOLLOW` from its parent's fd and checked to be the
//! very object planned for (device and inode); owner and times are then set on that fd
//! (`AT_EMPTY_PATH`), mode and xattrs through its `/proc/self/fd` entry, which leads to that
//! inode and nowhere else. A symlink keeps its mode and xattrs (Linux has none to set).
//!
//! macOS has neither `O_PATH`, `AT_EMPTY_PATH` nor `/proc/self/fd`: see `meta/macos.rs`.

#[cfg(target_os = "linux")]
use super::{Dir, Identity, err_at, kind_of};
use rustix::fs::Stat;
#[cfg(target_os = "linux")]
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps, XattrFlags};
#[cfg(target_os = "linux")]
use std::ffi::OsStr;
#[cfg(target_os = "linux")]
use std::io;
#[cfg(target_os = "linux")]
use std::os::fd::{AsRawFd, OwnedFd};
#[cfg(target_os = "linux")]
use std::os::unix::ffi::OsStrExt;
#[cfg(target_os = "linux")]
use std::path::PathBuf;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
pub use macos::{read, set, set_meta_of};

pub type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

/// Metadata to set on an object (or that an object has).
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Meta {
    pub perm: u16,
    pub uid: u32,
    pub gid: u32,
    pub atime: (i64, u32),
    pub mtime: (i64, u32),
    /// Sorted by name; `None` for symlinks (left as they are).
    pub xattrs: Option<Xattrs>,
}

impl Meta {
    /// Whether owner, mode and xattrs are the same (times aside: they move with every write).
    pub fn same_apart_from_times(&self, other: &Meta) -> bool {
        self.perm == other.perm && self.uid == other.uid && self.gid == other.gid && self.xattrs == other.xattrs
    }
}

/// An object as it is: its stat and its metadata.
#[derive(Clone)]
pub struct ObjectMeta {
    pub st: Stat,
    pub meta: Meta,
}

#[cfg(target_os = "linux")]
fn proc_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

#[cfg(target_os = "linux")]
fn open_path(dir: &Dir, name: &OsStr) -> io::Result<OwnedFd> {
    let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::openat(dir.fd(), name, flags, Mode::empty()).map_err(|e| err_at(&dir.path_of(name), e.into()))
}

/// Reads a list or value through `get`: from 1 KiB, up to 4 MiB.
fn read_growing(get: impl FnMut(&mut [u8]) -> rustix::io::Result<usize>) -> rustix::io::Result<Vec<u8>> {
    agentfs_platform::lower::read_growing(1024, 4 << 20, get)
}

/// Every xattr of the inode behind `fd` (none where the filesystem has none), sorted.
#[cfg(target_os = "linux")]
fn read_xattrs(fd: &OwnedFd) -> io::Result<Xattrs> {
    let p = proc_path(fd);
    let list = match read_growing(|b| rustix::fs::listxattr(&p, b)) {
        Ok(l) => l,
        Err(rustix::io::Errno::OPNOTSUPP) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for name in list.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        match read_growing(|b| rustix::fs::getxattr(&p, OsStr::from_bytes(name), b)) {
            Ok(v) => out.push((name.to_vec(), v)),
            Err(rustix::io::Errno::NODATA) => {}
            Err(e) => return Err(e.into()),
        }
    }
    out.sort();
    Ok(out)
}

#[allow(clippy::unnecessary_cast)]
fn meta_of(st: &Stat, xattrs: Option<Xattrs>) -> Meta {
    Meta {
        perm: (st.st_mode as u32 & 0o7777) as u16,
        uid: st.st_uid as u32,
        gid: st.st_gid as u32,
        atime: (st.st_atime as i64, st.st_atime_nsec as u32),
        mtime: (st.st_mtime as i64, st.st_mtime_nsec as u32),
        xattrs,
    }
}

#[cfg(target_os = "linux")]
pub fn read(dir: &Dir, name: &OsStr) -> io::Result<Option<ObjectMeta>> {
    let fd = match rustix::fs::openat(dir.fd(), name, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
    {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(e) => return Err(err_at(&dir.path_of(name), e.into())),
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| err_at(&dir.path_of(name), e.into()))?;
    let xattrs = if kind_of(&st) == FileType::Symlink {
        None
    } else {
        Some(read_xattrs(&fd).map_err(|e| err_at(&dir.path_of(name), e))?)
    };
    Ok(Some(ObjectMeta { meta: meta_of(&st, xattrs), st }))
}

#[cfg(target_os = "linux")]
pub fn set(dir: &Dir, name: &OsStr, who: Identity, m: &Meta) -> io::Result<()> {
    let fd = open_path(dir, name)?;
    let st = rustix::fs::fstat(&fd).map_err(|e| err_at(&dir.path_of(name), e.into()))?;
    if Identity::of(&st) != who {
        let e = io::Error::other("it is no longer the object the commit planned for");
        return Err(err_at(&dir.path_of(name), e));
    }
    set_meta_of(&fd, &st, m).map_err(|e| err_at(&dir.path_of(name), e))
}

/// Sets owner (as root), mode and xattrs (not on symlinks), then times, on the object behind
/// `fd` (an `O_PATH` fd, or any other), whose stat is `st`.
#[cfg(target_os = "linux")]
pub fn set_meta_of(fd: &OwnedFd, st: &Stat, m: &Meta) -> io::Result<()> {
    let is_symlink = kind_of(st) == FileType::Symlink;
    let now = meta_of(st, None);
    if rustix::process::geteuid().is_root() && (now.uid != m.uid || now.gid != m.gid) {
        let (u, g) = (rustix::fs::Uid::from_raw(m.uid), rustix::fs::Gid::from_raw(m.gid));
        rustix::fs::chownat(fd, "", Some(u), Some(g), AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW)?;
    }
    if !is_symlink {
        // Always: a chown clears set-id bits.
        rustix::fs::chmodat(rustix::fs::CWD, proc_path(fd), Mode::from_raw_mode(m.perm.into()), AtFlags::empty())?;
    }
    if let (false, Some(want)) = (is_symlink, &m.xattrs) {
        set_xattrs(fd, want)?;
    }
    let ts = |(s, n): (i64, u32)| Timespec { tv_sec: s, tv_nsec: n as _ };
    let times = Timestamps { last_access: ts(m.atime), last_modification: ts(m.mtime) };
    rustix::fs::utimensat(fd, "", &times, AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(())
}

/// Makes the xattrs of the inode behind `fd` exactly `want`, touching only what differs.
#[cfg(target_os = "linux")]
fn set_xattrs(fd: &OwnedFd, want: &Xattrs) -> io::Result<()> {
    let have = read_xattrs(fd)?;
    if &have == want {
        return Ok(());
    }
    let p = proc_path(fd);
    for (k, _) in have.iter().filter(|(k, _)| !want.iter().any(|(w, _)| w == k)) {
        rustix::fs::removexattr(&p, OsStr::from_bytes(k))?;
    }
    for (k, v) in want.iter().filter(|kv| !have.contains(kv)) {
        rustix::fs::setxattr(&p, OsStr::from_bytes(k), v, XattrFlags::empty())?;
    }
    Ok(())
}
