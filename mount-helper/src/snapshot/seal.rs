//! Making a snapshot tree read-only where the filesystem has no read-only subvolumes: every
//! file and directory gets the immutable flag (`chattr +i` on Linux, which only root may set or
//! clear; `chflags uchg` on macOS, see `agentfs_platform::os::fs::set_immutable`). The tree is
//! walked through confined directory handles.

use crate::confined::{Dir, entries, kind_of};
use agentfs_platform::os::fs::{is_immutable, set_immutable as set_immutable_flag};
use rustix::fs::{FileType, Mode, OFlags};
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

fn set_flag(fd: impl AsFd, on: bool) -> io::Result<()> {
    if is_immutable(fd.as_fd())? != on {
        set_immutable_flag(fd.as_fd(), on)?;
    }
    Ok(())
}

fn flag_file(dir: &Dir, name: &OsStr, on: bool) -> io::Result<()> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir.fd(), name, flags, Mode::empty())?;
    set_flag(&fd, on)
}

/// A directory being walked, and its subdirectories left.
struct Level {
    dir: Dir,
    subdirs: Vec<OsString>,
}

/// Opens `name` of `parent`, flags its files, and returns its subdirectories to do.
fn level(parent: &Dir, name: &OsStr, on: bool) -> io::Result<Level> {
    let dir = parent.open_dir(Path::new(name))?;
    if !on {
        set_flag(dir.fd(), false)?;
    }
    let mut subdirs = Vec::new();
    for e in entries(&dir)? {
        match e.kind {
            FileType::Directory => subdirs.push(e.name),
            FileType::RegularFile => flag_file(&dir, &e.name, on)?,
            _ => {}
        }
    }
    Ok(Level { dir, subdirs })
}

/// Sets (or clears) the immutable flag on every regular file and directory of the tree `name`
/// of `parent`: directories after what they hold when setting, before it when clearing.
pub fn set_immutable(parent: &Dir, name: &OsStr, on: bool) -> io::Result<()> {
    let Some(st) = parent.stat(name)? else { return Ok(()) };
    match kind_of(&st) {
        FileType::Directory => {}
        FileType::RegularFile => return flag_file(parent, name, on),
        _ => return Ok(()),
    }
    let mut stack = vec![level(parent, name, on)?];
    while let Some(top) = stack.last_mut() {
        if let Some(sub) = top.subdirs.pop() {
            let next = level(&top.dir, &sub, on)?;
            stack.push(next);
            continue;
        }
        if let Some(done) = stack.pop() {
            if on {
                set_flag(done.dir.fd(), true)?;
            }
        }
    }
    Ok(())
}
