//! Native snapshots of a directory tree: btrfs subvolume snapshots on Linux (see
//! [`crate::sys::btrfs`]); on macOS nothing of the kind is used.
//!
//! APFS has snapshots, but `fs_snapshot_create` needs the `com.apple.developer.vfs.snapshot`
//! entitlement, which Apple grants only to backup software, and they cover a whole volume. So
//! macOS pins and snapshots are trees of `clonefile` clones, and every call here says so.
//! The names and signatures are those of the Linux module, so callers need no cfg.

#[cfg(target_os = "linux")]
pub use crate::sys::btrfs::*;

#[cfg(target_os = "macos")]
pub use macos::*;

#[cfg(target_os = "macos")]
mod macos {
    use std::ffi::OsStr;
    use std::io;
    use std::os::fd::AsFd;

    /// No statfs type of macOS is btrfs.
    pub const BTRFS_SUPER_MAGIC: i64 = -1;
    /// No inode number marks a subvolume root on macOS.
    pub const SUBVOL_ROOT_INO: u64 = u64::MAX;

    fn unsupported() -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "macOS has no subvolume snapshots agentfs can use (APFS snapshots need an Apple entitlement); \
             use --pin reflink (clonefile), copy or live",
        )
    }

    pub fn snapshot_readonly(_subvol: impl AsFd, _dest_dir: impl AsFd, _name: &OsStr) -> io::Result<()> {
        Err(unsupported())
    }

    pub fn snapshot(_subvol: impl AsFd, _dest_dir: impl AsFd, _name: &OsStr, _readonly: bool) -> io::Result<()> {
        Err(unsupported())
    }

    pub fn destroy_subvolume(_parent_dir: impl AsFd, _name: &OsStr) -> io::Result<()> {
        Err(unsupported())
    }

    pub fn clear_readonly(_subvol: impl AsFd) -> io::Result<()> {
        Err(unsupported())
    }

    pub fn set_readonly(_subvol: impl AsFd, _readonly: bool) -> io::Result<()> {
        Err(unsupported())
    }
}
