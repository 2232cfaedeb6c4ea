//! Reading extended attributes of lower objects without following symlinks.

use crate::errno::from_rustix;
use agentfs_core::{Errno, FileKind, Result};
use rustix::fs::OFlags;
use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Reads an xattr list or value through `get`, into a buffer of `start` bytes grown fourfold
/// while the kernel says ERANGE, until it would pass `limit`.
pub fn read_growing(
    start: usize,
    limit: usize,
    mut get: impl FnMut(&mut [u8]) -> rustix::io::Result<usize>,
) -> rustix::io::Result<Vec<u8>> {
    let mut size = start;
    loop {
        let mut buf = vec![0u8; size];
        match get(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(rustix::io::Errno::RANGE) if size < limit => size *= 4,
            Err(e) => return Err(e),
        }
    }
}

/// A lower object's list or value: from 256 bytes, up to 1 MiB.
fn read_lower(get: impl FnMut(&mut [u8]) -> rustix::io::Result<usize>) -> Result<Vec<u8>> {
    read_growing(256, 1 << 20, get).map_err(from_rustix)
}

/// Turns "unsupported" into "none".
fn none_if_unsupported(r: Result<Pairs>) -> Result<Pairs> {
    match r {
        Err(Errno::EOPNOTSUPP) | Err(Errno::ENODATA) => Ok(Vec::new()),
        other => other,
    }
}

fn split_names(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|b| *b == 0).filter(|n| !n.is_empty())
}

/// All xattrs of an open file or directory.
pub fn of_fd(fd: &OwnedFd) -> Result<Pairs> {
    none_if_unsupported((|| {
        let list = read_lower(|b| rustix::fs::flistxattr(fd, b))?;
        let mut out = Vec::new();
        for name in split_names(&list) {
            let name_os = OsStr::from_bytes(name);
            match read_lower(|b| rustix::fs::fgetxattr(fd, name_os, b)) {
                Ok(v) => out.push((name.to_vec(), v)),
                Err(Errno::ENODATA) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    })())
}

/// All xattrs of the entry `name` of directory `dir`.
pub fn of_entry(dir: &OwnedFd, name: &OsStr, kind: FileKind) -> Result<Pairs> {
    match kind {
        FileKind::Regular | FileKind::Directory => {
            let extra = if kind == FileKind::Directory { OFlags::DIRECTORY } else { OFlags::empty() };
            let fd = super::open_nofollow(dir, name, extra)?;
            of_fd(&fd)
        }
        _ => of_special(dir, name),
    }
}

/// Symlinks and device nodes cannot be opened for reading without side effects, so they are
/// read through the directory fd's /proc entry with the no-follow calls.
#[cfg(target_os = "linux")]
fn of_special(dir: &OwnedFd, name: &OsStr) -> Result<Pairs> {
    use std::os::fd::AsRawFd;
    let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    path.extend_from_slice(name.as_bytes());
    let path = OsStr::from_bytes(&path);
    none_if_unsupported((|| {
        let list = read_lower(|b| rustix::fs::llistxattr(path, b))?;
        let mut out = Vec::new();
        for n in split_names(&list) {
            let n_os = OsStr::from_bytes(n);
            match read_lower(|b| rustix::fs::lgetxattr(path, n_os, b)) {
                Ok(v) => out.push((n.to_vec(), v)),
                Err(Errno::ENODATA) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    })())
}

#[cfg(not(target_os = "linux"))]
fn of_special(_dir: &OwnedFd, _name: &OsStr) -> Result<Pairs> {
    Ok(Vec::new())
}
