//! Removing pins at unmount and after crashes, and snapshot subvolumes, through confined
//! directory handles: the directory holding the object is opened without following a symlink,
//! and nothing below it is ever followed either.

use super::{Pin, PinKind};
#[cfg(unix)]
use crate::confined::{Dir, errno};
use crate::error::{Error, Result};
#[cfg(unix)]
use agentfs_platform::os::subvolume as btrfs;
#[cfg(unix)]
use std::ffi::OsStr;
use std::io;
use std::path::Path;

/// Deletes a pin (nothing for live); a pin already gone is fine. Removes the pins directory
/// too when it is left empty.
pub fn remove(pin: &Pin) -> Result<()> {
    let path = pin.path();
    if matches!(pin.kind, PinKind::Live | PinKind::Branch) {
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
        remove_dir_if_empty(parent);
    }
    r.map_err(|e| Error::System(format!("cannot remove the pin {}: {e}", path.display())))
}

/// The directory holding `path`, opened without following a symlink, and `path`'s last name;
/// None if that directory is not there.
#[cfg(unix)]
fn parent_of(path: &Path) -> io::Result<Option<(Dir, &OsStr)>> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{} has no parent", path.display())));
    };
    match Dir::open_root(parent) {
        Ok(d) => Ok(Some((d, name))),
        Err(e) if errno(&e) == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes the empty directory `path` (nothing if it is not empty or not there).
#[cfg(unix)]
pub fn remove_dir_if_empty(path: &Path) {
    if let Ok(Some((d, name))) = parent_of(path) {
        let _ = d.rmdir(name);
    }
}

/// Deletes the btrfs subvolume at `path` (a user without `user_subvol_rm_allowed` makes it
/// writable and removes it like a directory: rmdir of an empty subvolume deletes it).
#[cfg(unix)]
pub fn remove_snapshot(path: &Path) -> io::Result<()> {
    let Some((parent, name)) = parent_of(path)? else { return Ok(()) };
    if parent.stat(name)?.is_none() {
        return Ok(());
    }
    match btrfs::destroy_subvolume(&parent.dup_fd()?, name) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) => {
            let sub = parent.open_dir(Path::new(name))?;
            btrfs::clear_readonly(sub.into_fd())?;
            parent.remove_tree(name)
        }
        Err(e) => Err(e),
    }
}

/// `rm -rf path`, never following a symlink, also through directories without write
/// permission (a clone keeps modes such as 0555).
#[cfg(unix)]
pub fn remove_tree(path: &Path) -> io::Result<()> {
    match parent_of(path)? {
        Some((parent, name)) => parent.remove_tree(name),
        None => Ok(()),
    }
}

/// Removes the empty directory `path` (nothing if it is not empty or not there).
#[cfg(windows)]
pub fn remove_dir_if_empty(path: &Path) {
    let _ = std::fs::remove_dir(path);
}

/// `rm -rf`, also through read-only files (Windows has no symlinks a user plants by default,
/// and `remove_dir_all` does not follow junctions).
#[cfg(windows)]
pub fn remove_tree(path: &Path) -> io::Result<()> {
    use std::fs;
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            writable(path);
            fs::remove_dir_all(path)
        }
        Err(e) => Err(e),
    }
}

/// Clears the read-only flag on `dir` and everything below it.
#[cfg(windows)]
fn writable(dir: &Path) {
    use std::fs;
    if let Ok(md) = fs::symlink_metadata(dir) {
        let mut p = md.permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        p.set_readonly(false);
        let _ = fs::set_permissions(dir, p);
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            writable(&e.path());
        }
    }
}
