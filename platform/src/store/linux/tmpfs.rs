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
use std::sync::Mutex;

/// tmpfs counts its size in pages; a size of 0 would mean no limit at all.
const MIN_SIZE: u64 = 4096;

#[derive(Debug)]
pub struct CappedTmpfs {
    root: OwnedFd,
    /// The budget: the most it may ever hold.
    limit: u64,
    /// What was used of the budget when it was last fitted; held while fitting, so that fits
    /// never cross.
    fitted: Mutex<Option<u64>>,
}

impl CappedTmpfs {
    /// A new tmpfs holding at most `size` bytes of file data: the budget, which [`CappedTmpfs::fit`]
    /// never passes.
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
        Ok(CappedTmpfs { root, limit: size, fitted: Mutex::new(None) })
    }

    /// Bytes of file data it holds now.
    pub fn held(&self) -> io::Result<u64> {
        let st = fstatvfs(&self.root)?;
        Ok(st.f_blocks.saturating_sub(st.f_bfree).saturating_mul(st.f_frsize))
    }

    /// Keeps its size to what the budget leaves when `used()` is charged in all: the budget
    /// less what is charged elsewhere (the heap's files, the engine's bookkeeping), that is
    /// `used()` less what it holds, and never more than the budget or less than what it holds.
    /// What the kernel wrote but nobody charged yet counts as its own, so the size may pass
    /// what the budget leaves by that much, never the budget itself.
    pub fn fit(&self, used: impl Fn() -> u64) {
        let mut fitted = self.fitted.lock().unwrap_or_else(|e| e.into_inner());
        let used = used();
        *fitted = Some(used);
        self.fit_locked(used);
    }

    /// Fits again to the use last told, after data moved into it from the heap (which moves
    /// nothing in the budget's use).
    pub fn refit(&self) {
        let fitted = self.fitted.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(used) = *fitted {
            self.fit_locked(used);
        }
    }

    fn fit_locked(&self, used: u64) {
        let resize = || {
            let held = self.held()?;
            self.set_size(self.limit.saturating_sub(used.saturating_sub(held)).max(held))
        };
        // A kernel write between reading the use and resizing makes tmpfs refuse a size below
        // its new use (EINVAL); once more then.
        if let Err(e) = resize().or_else(|_| resize()) {
            tracing::warn!(%e, "cannot resize the private tmpfs to the budget");
        }
    }

    /// Makes `size` the most it holds (tmpfs refuses a size below its use with EINVAL): the
    /// kernel's writes past it then fail with ENOSPC.
    fn set_size(&self, size: u64) -> io::Result<()> {
        let fs = fspick(&self.root, "", FsPickFlags::FSPICK_EMPTY_PATH | FsPickFlags::FSPICK_CLOEXEC)?;
        fsconfig_set_string(&fs, "size", size.max(MIN_SIZE).to_string())?;
        Ok(fsconfig_reconfigure(&fs)?)
    }

    /// A new empty, unnamed file in it, open for reading and writing.
    pub fn create_file(&self) -> io::Result<OwnedFd> {
        let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
        Ok(openat(&self.root, ".", flags, Mode::from_raw_mode(0o600))?)
    }
}
