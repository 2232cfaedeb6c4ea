//! A private tmpfs whose size is what the RAM budget leaves to it (the daemon resizes it as its
//! own holdings move), for the data the kernel writes directly (FUSE passthrough): the kernel
//! itself then refuses bytes past the budget with ENOSPC.
//!
//! It is mounted nowhere (`fsmount` without `move_mount`): no path leads to it, its files are
//! unnamed (`O_TMPFILE`), and it goes away with the daemon's last descriptor. Making it takes
//! CAP_SYS_ADMIN, as passthrough itself does.

use rustix::fs::{Mode, OFlags, fstatvfs, openat};
use rustix::mount::{
    FsMountFlags, FsOpenFlags, FsPickFlags, MountAttrFlags, fsconfig_create, fsconfig_reconfigure, fsconfig_set_string,
    fsmount, fsopen, fspick,
};
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

    /// Bytes of file data it holds now.
    pub fn held(&self) -> io::Result<u64> {
        let st = fstatvfs(&self.root)?;
        Ok(st.f_blocks.saturating_sub(st.f_bfree).saturating_mul(st.f_frsize))
    }

    /// Makes `size` the most it holds, or what it holds now if that is more (tmpfs refuses a
    /// size below its use): the kernel's writes past it then fail with ENOSPC.
    pub fn set_size(&self, size: u64) -> io::Result<()> {
        let size = size.max(self.held()?).max(MIN_SIZE);
        let fs = fspick(&self.root, "", FsPickFlags::FSPICK_EMPTY_PATH | FsPickFlags::FSPICK_CLOEXEC)?;
        fsconfig_set_string(&fs, "size", size.to_string())?;
        Ok(fsconfig_reconfigure(&fs)?)
    }

    /// A new empty, unnamed file in it, open for reading and writing.
    pub fn create_file(&self) -> io::Result<OwnedFd> {
        let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
        Ok(openat(&self.root, ".", flags, Mode::from_raw_mode(0o600))?)
    }
}
