//! Making a snapshot tree read-only where the filesystem has no read-only subvolumes: every
//! file and directory gets the immutable flag (`chattr +i` on Linux, which only root may set or
//! clear; `chflags uchg` on macOS, see `agentfs_platform::os::fs::set_immutable`).

use agentfs_platform::os::fs::{is_immutable, set_immutable as set_flag};
use rustix::fs::{Mode, OFlags};
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

/// Sets (or clears) the immutable flag on every regular file and directory under `root`,
/// directories after what they hold when setting and before it when clearing.
pub fn set_immutable(root: &Path, on: bool) -> io::Result<()> {
    let md = std::fs::symlink_metadata(root)?;
    if md.is_dir() {
        if !on {
            flag(root, true, false)?;
        }
        for e in std::fs::read_dir(root)? {
            set_immutable(&e?.path(), on)?;
        }
        if on {
            flag(root, true, true)?;
        }
    } else if md.is_file() {
        flag(root, false, on)?;
    }
    Ok(())
}

fn flag(path: &Path, dir: bool, on: bool) -> io::Result<()> {
    let extra = if dir { OFlags::DIRECTORY } else { OFlags::NONBLOCK };
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | extra, Mode::empty())?;
    if is_immutable(fd.as_fd())? != on {
        set_flag(fd.as_fd(), on)?;
    }
    Ok(())
}
