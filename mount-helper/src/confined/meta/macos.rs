//! macOS: metadata without `O_PATH`, `AT_EMPTY_PATH` or `/proc/self/fd`.
//!
//! Regular files and directories are opened read-only from their parent's fd
//! (`O_NOFOLLOW | O_NONBLOCK | O_NOCTTY`), symlinks with `O_SYMLINK` (the link itself, never its
//! target); the fd is checked to be the very object planned for (device and inode), and owner,
//! mode, xattrs and times are set on that fd. Opening needs read permission, which Linux's
//! `O_PATH` does not.
//!
//! FIFOs, sockets and device nodes cannot be opened without side effects (or at all): they are
//! checked with `fstatat` and set by name with the `*at` calls and `AT_SYMLINK_NOFOLLOW`. No
//! symlink is followed, but an object put at that name between the check and the call would
//! get the change instead (Linux acts on the checked fd itself). Their xattrs are not read
//! (none, as the lower layer shows them on macOS), and wanting some is an error.

use super::{Meta, ObjectMeta, Xattrs, meta_of, read_growing};
use crate::confined::{Dir, Identity, err_at, kind_of};
use agentfs_platform::os::fs::perm_mode;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat, Timespec, Timestamps, XattrFlags};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

/// Whether objects of `kind` are opened (else they are handled by name).
fn opens(kind: FileType) -> bool {
    matches!(kind, FileType::RegularFile | FileType::Directory | FileType::Symlink)
}

/// Opens the object `name` of `dir`, of kind `kind` (a file, directory or symlink), itself.
fn open_object(dir: &Dir, name: &OsStr, kind: FileType) -> rustix::io::Result<OwnedFd> {
    let base = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let flags = match kind {
        FileType::Symlink => base | OFlags::SYMLINK,
        FileType::Directory => base | OFlags::NOFOLLOW | OFlags::DIRECTORY,
        _ => base | OFlags::NOFOLLOW,
    };
    rustix::fs::openat(dir.fd(), name, flags, Mode::empty())
}

fn changed() -> io::Error {
    io::Error::other("it is no longer the object the commit planned for")
}

/// Every xattr of the inode behind `fd` (none where the filesystem has none), sorted.
fn read_xattrs(fd: &OwnedFd) -> io::Result<Xattrs> {
    let list = match read_growing(|b| rustix::fs::flistxattr(fd, b)) {
        Ok(l) => l,
        Err(Errno::NOTSUP | Errno::OPNOTSUPP) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for name in list.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        match read_growing(|b| rustix::fs::fgetxattr(fd, OsStr::from_bytes(name), b)) {
            Ok(v) => out.push((name.to_vec(), v)),
            Err(Errno::NOATTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    out.sort();
    Ok(out)
}

pub fn read(dir: &Dir, name: &OsStr) -> io::Result<Option<ObjectMeta>> {
    let fail = |e: Errno| err_at(&dir.path_of(name), e.into());
    let st = match rustix::fs::statat(dir.fd(), name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(None),
        Err(e) => return Err(fail(e)),
    };
    let kind = kind_of(&st);
    if kind == FileType::Symlink {
        return Ok(Some(ObjectMeta { meta: meta_of(&st, None), st }));
    }
    if !opens(kind) {
        return Ok(Some(ObjectMeta { meta: meta_of(&st, Some(Vec::new())), st }));
    }
    let fd = match open_object(dir, name, kind) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        Err(e) => return Err(fail(e)),
    };
    let st = rustix::fs::fstat(&fd).map_err(fail)?;
    if kind_of(&st) != kind {
        return Err(err_at(&dir.path_of(name), io::Error::other("it changed while it was read")));
    }
    let xattrs = read_xattrs(&fd).map_err(|e| err_at(&dir.path_of(name), e))?;
    Ok(Some(ObjectMeta { meta: meta_of(&st, Some(xattrs)), st }))
}

pub fn set(dir: &Dir, name: &OsStr, who: Identity, m: &Meta) -> io::Result<()> {
    let fail = |e: io::Error| err_at(&dir.path_of(name), e);
    let st = rustix::fs::statat(dir.fd(), name, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| fail(e.into()))?;
    if Identity::of(&st) != who {
        return Err(fail(changed()));
    }
    let kind = kind_of(&st);
    if !opens(kind) {
        return set_by_name(dir, name, &st, m).map_err(fail);
    }
    let fd = open_object(dir, name, kind).map_err(|e| fail(e.into()))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| fail(e.into()))?;
    if Identity::of(&st) != who {
        return Err(fail(changed()));
    }
    set_meta_of(&fd, &st, m).map_err(fail)
}

fn times(m: &Meta) -> Timestamps {
    let ts = |(s, n): (i64, u32)| Timespec { tv_sec: s, tv_nsec: n as _ };
    Timestamps { last_access: ts(m.atime), last_modification: ts(m.mtime) }
}

fn owner_changes(st: &Stat, m: &Meta) -> bool {
    let now = meta_of(st, None);
    rustix::process::geteuid().is_root() && (now.uid != m.uid || now.gid != m.gid)
}

/// Sets owner (as root), mode and xattrs (not on symlinks), then times, on the object behind
/// `fd` (a regular file, a directory, or a symlink opened with `O_SYMLINK`), whose stat is `st`.
pub fn set_meta_of(fd: &OwnedFd, st: &Stat, m: &Meta) -> io::Result<()> {
    let is_symlink = kind_of(st) == FileType::Symlink;
    if owner_changes(st, m) {
        let (u, g) = (rustix::fs::Uid::from_raw(m.uid), rustix::fs::Gid::from_raw(m.gid));
        rustix::fs::fchown(fd, Some(u), Some(g))?;
    }
    if !is_symlink {
        // Always: a chown clears set-id bits.
        rustix::fs::fchmod(fd, perm_mode(m.perm))?;
    }
    if let (false, Some(want)) = (is_symlink, &m.xattrs) {
        set_xattrs(fd, want)?;
    }
    rustix::fs::futimens(fd, &times(m))?;
    Ok(())
}

/// A FIFO, socket or device node (see the module documentation).
fn set_by_name(dir: &Dir, name: &OsStr, st: &Stat, m: &Meta) -> io::Result<()> {
    if m.xattrs.as_ref().is_some_and(|x| !x.is_empty()) {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "macOS cannot set extended attributes on a FIFO, socket or device node without opening it",
        ));
    }
    if owner_changes(st, m) {
        let (u, g) = (rustix::fs::Uid::from_raw(m.uid), rustix::fs::Gid::from_raw(m.gid));
        rustix::fs::chownat(dir.fd(), name, Some(u), Some(g), AtFlags::SYMLINK_NOFOLLOW)?;
    }
    rustix::fs::chmodat(dir.fd(), name, perm_mode(m.perm), AtFlags::SYMLINK_NOFOLLOW)?;
    rustix::fs::utimensat(dir.fd(), name, &times(m), AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(())
}

/// Makes the xattrs of the inode behind `fd` exactly `want`, touching only what differs.
fn set_xattrs(fd: &OwnedFd, want: &Xattrs) -> io::Result<()> {
    let have = read_xattrs(fd)?;
    if &have == want {
        return Ok(());
    }
    for (k, _) in have.iter().filter(|(k, _)| !want.iter().any(|(w, _)| w == k)) {
        rustix::fs::fremovexattr(fd, OsStr::from_bytes(k))?;
    }
    for (k, v) in want.iter().filter(|kv| !have.contains(kv)) {
        rustix::fs::fsetxattr(fd, OsStr::from_bytes(k), v, XattrFlags::empty())?;
    }
    Ok(())
}
