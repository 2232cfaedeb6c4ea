//! Reading extended attributes of lower objects without following symlinks.

use crate::errno::from_rustix;
use agentfs_core::{Errno, FileKind, Result};
use rustix::fs::OFlags;
use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Reads a list or value through `get`, growing the buffer while the kernel says ERANGE.
fn read_growing(mut get: impl FnMut(&mut [u8]) -> rustix::io::Result<usize>) -> Result<Vec<u8>> {
    let mut size = 256;
    loop {
        let mut buf = vec![0u8; size];
        match get(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(rustix::io::Errno::RANGE) if size < (1 << 20) => size *= 4,
            Err(e) => return Err(from_rustix(e)),
        }
    }
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
        let list = read_growing(|b| rustix::fs::flistxattr(fd, b))?;
        let mut out = Vec::new();
        for name in split_names(&list) {
            let name_os = OsStr::from_bytes(name);
            match read_growing(|b| rustix::fs::fgetxattr(fd, name_os, b)) {
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
        let list = read_growing(|b| rustix::fs::llistxattr(path, b))?;
        let mut out = Vec::new();
        for n in split_names(&list) {
            let n_os = OsStr::from_bytes(n);
            match read_growing(|b| rustix::fs::lgetxattr(path, n_os, b)) {
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
