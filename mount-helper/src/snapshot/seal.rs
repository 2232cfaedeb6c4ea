//! Making a snapshot tree read-only where the filesystem has no read-only subvolumes: every
//! file and directory gets the immutable flag (`chattr +i`), which only root may set or clear.

use rustix::fs::{IFlags, Mode, OFlags};
use std::io;
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
    let flags = rustix::fs::ioctl_getflags(&fd)?;
    let want = if on { flags | IFlags::IMMUTABLE } else { flags - IFlags::IMMUTABLE };
    if want != flags {
        rustix::fs::ioctl_setflags(&fd, want)?;
    }
    Ok(())
}
