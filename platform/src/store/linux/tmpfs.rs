//! A private tmpfs whose size is the RAM budget, for the data the kernel writes directly
//! (FUSE passthrough): the kernel itself then refuses bytes past the budget with ENOSPC.
//!
//! It is mounted nowhere (`fsmount` without `move_mount`): no path leads to it, its files are
//! unnamed (`O_TMPFILE`), and it goes away with the daemon's last descriptor. Making it takes
//! CAP_SYS_ADMIN, as passthrough itself does.

use rustix::fs::{Mode, OFlags, openat};
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, fsconfig_create, fsconfig_set_string, fsmount, fsopen};
use std::io;
use std::os::fd::OwnedFd;

/// tmpfs counts its size in pages; a size of 0 would mean no limit at all.
const MIN_SIZE: u64 = 4096;

#[derive(Debug)]
pub struct CappedTmpfs {
    root: OwnedFd,
}

impl CappedTmpfs {
    /// A new tmpfs holding at most `size` bytes of file data.
    pub fn new(size: u64) -> io::Result<CappedTmpfs> {
        let size = size.max(MIN_SIZE);
        let fs = fsopen("tmpfs", FsOpenFlags::FSOPEN_CLOEXEC)?;
        fsconfig_set_string(&fs, "size", size.to_string())?;
        fsconfig_set_string(&fs, "mode", "0700")?;
        fsconfig_set_string(&fs, "huge", "never")?;
        fsconfig_create(&fs)?;
        let attrs =
            MountAttrFlags::MOUNT_ATTR_NOSUID | MountAttrFlags::MOUNT_ATTR_NODEV | MountAttrFlags::MOUNT_ATTR_NOEXEC;
        let root = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs)?;
        Ok(CappedTmpfs { root })
    }

    /// A new empty, unnamed file in it, open for reading and writing.
    pub fn create_file(&self) -> io::Result<OwnedFd> {
        let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
        Ok(openat(&self.root, ".", flags, Mode::from_raw_mode(0o600))?)
    }
}
