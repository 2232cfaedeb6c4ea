//! Removing pins at unmount and after crashes.

use super::{Pin, PinKind};
use crate::error::{Error, Result};
use std::fs;
use std::io::ErrorKind;
use std::path::Path;

/// Deletes a pin (nothing for live); a pin already gone is fine. Removes the pins directory
/// too when it is left empty.
pub fn remove(pin: &Pin) -> Result<()> {
    let path = pin.path();
    if matches!(pin.kind, PinKind::Live | PinKind::Branch)
        || fs::symlink_metadata(&path).is_err_and(|e| e.kind() == ErrorKind::NotFound)
    {
        return Ok(());
    }
    let r = match pin.kind {
        PinKind::Live | PinKind::Branch => Ok(()),
        #[cfg(unix)]
        PinKind::Snapshot => remove_snapshot(&path),
        #[cfg(windows)]
        PinKind::Snapshot => remove_tree(&path),
        PinKind::Reflink | PinKind::Copy => remove_tree(&path),
    };
    if let Some(parent) = path.parent() {
        let _ = fs::remove_dir(parent);
    }
    r.map_err(|e| Error::System(format!("cannot remove the pin {}: {e}", path.display())))
}

#[cfg(unix)]
pub fn remove_snapshot(path: &Path) -> std::io::Result<()> {
    use agentfs_platform::os::subvolume as btrfs;
    use rustix::fs::{Mode, OFlags};
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(std::io::Error::other("bad snapshot path"));
    };
    let parent_fd = match rustix::fs::open(parent, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
    {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    match btrfs::destroy_subvolume(&parent_fd, name) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) => {
            // A user may not destroy subvolumes without user_subvol_rm_allowed: make it
            // writable and remove it like a directory (rmdir of an empty subvolume deletes it).
            let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
            btrfs::clear_readonly(&fd)?;
            drop(fd);
            remove_tree(path)
        }
        Err(e) => Err(e),
    }
}

/// `rm -rf`, also through directories without write permission (a clone keeps modes such as
/// 0555, which only root could delete from as they are).
pub fn remove_tree(path: &Path) -> std::io::Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            open_up(path);
            fs::remove_dir_all(path)
        }
        Err(e) => Err(e),
    }
}

/// Makes `dir` and everything below it deletable: mode 0700 for directories (Unix), no
/// read-only flag on anything (Windows).
fn open_up(dir: &Path) {
    #[cfg(unix)]
    let _ = fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700));
    #[cfg(windows)]
    if let Ok(md) = fs::symlink_metadata(dir) {
        let mut p = md.permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        p.set_readonly(false);
        let _ = fs::set_permissions(dir, p);
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if cfg!(windows) || e.file_type().is_ok_and(|t| t.is_dir()) {
                open_up(&e.path());
            }
        }
    }
}
