//! A writable copy of a mount's lower layer, made next to the pin: what a snapshot and the tree
//! of `commit --to` start from before the mount's changes are written into it.
//!
//! When the pin is a btrfs subvolume and the copy goes on the same filesystem, the copy is a
//! snapshot of that subvolume: O(1), whatever the size of the tree, so the whole operation costs
//! what the changes cost. Otherwise it is a tree of reflink clones (metadata only), or a copy.

use crate::confined::{Dir, errno};
use crate::pin::{Pin, PinKind};
use crate::registry::MountRecord;
use agentfs_platform::os::subvolume as btrfs;
use agentfs_platform::tree_copy::{self, DataMode};
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A copy made by [`make`].
pub struct Copy {
    /// Whether the copy is a btrfs subvolume (a snapshot of the pin's), else a plain tree.
    pub subvolume: bool,
    /// Where the lower root is inside the copy (empty: the copy is the lower root).
    pub rel: PathBuf,
    /// How file data of the lower layer can be brought into the copy.
    pub data: DataMode,
}

/// The btrfs subvolume holding a pin's lower root, and the root's place in it.
pub fn subvolume_of(pin: &Pin) -> Option<(PathBuf, PathBuf)> {
    if !matches!(pin.kind, PinKind::Snapshot | PinKind::Branch) {
        return None;
    }
    let container = pin.path();
    let is_subvolume = crate::pin::snapshot::applies(&container).unwrap_or(false)
        && std::fs::metadata(&container).is_ok_and(|m| m.ino() == btrfs::SUBVOL_ROOT_INO);
    let rel = pin.lower_root().strip_prefix(&container).ok()?.to_path_buf();
    is_subvolume.then_some((container, rel))
}

/// Copies the lower layer of `rec` (open as `lower`) to `name` in `dir`. With `whole`, a
/// subvolume snapshot is taken only when the lower root is the whole subvolume (the copy must
/// then be the tree itself, `rel` empty).
pub fn make(rec: &MountRecord, lower: &Dir, dir: &Dir, name: &OsStr, whole: bool) -> io::Result<Copy> {
    if let Some((subvol, rel)) = subvolume_of(&rec.pin).filter(|(_, rel)| !whole || rel.as_os_str().is_empty()) {
        match snapshot(&subvol, dir, name) {
            Ok(()) => {
                if let Err(e) = strip_own(dir, name, &rel, &rec.pin.hidden_names()) {
                    let _ = crate::pin::remove::remove_snapshot(&dir.path_of(name));
                    return Err(e);
                }
                return Ok(Copy { subvolume: true, rel, data: DataMode::Reflink });
            }
            // Another filesystem (EXDEV), or a user who may not snapshot there: copy instead.
            Err(e) => tracing::info!(%e, "no subvolume snapshot of the pin here; copying the tree"),
        }
    }
    let data = if crate::commit::can_clone(dir) { DataMode::Reflink } else { DataMode::Copy };
    let opts = tree_copy::Options {
        mode: data,
        skip_top: rec.pin.hidden_names(),
        skip_everywhere: crate::owned::names(),
        threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 8),
        progress: Arc::new(tree_copy::Progress::default()),
    };
    let made = tree_copy::copy_tree_at(lower.dup_fd()?, &dir.dup_fd()?, name, &opts);
    if made.is_err() {
        let _ = dir.remove_tree(name);
    }
    made?;
    Ok(Copy { subvolume: false, rel: PathBuf::new(), data })
}

fn snapshot(subvol: &Path, dir: &Dir, name: &OsStr) -> io::Result<()> {
    let from = Dir::open_root(subvol)?;
    btrfs::snapshot(from.into_fd(), dir.dup_fd()?, name, false)
}

/// Takes out of a fresh subvolume snapshot what the mount never showed: the names the pin hides
/// at the top of the tree and agentfs's own directories there (nested subvolumes, such as
/// other pins, are empty directories in a snapshot).
fn strip_own(dir: &Dir, name: &OsStr, rel: &Path, hidden: &[OsString]) -> io::Result<()> {
    let root = dir.open_dir(&Path::new(name).join(rel))?;
    for n in hidden.iter().cloned().chain(crate::owned::names()) {
        match root.rmdir(&n) {
            Ok(()) => {}
            Err(e) if errno(&e) == Some(libc::ENOENT) => {}
            Err(_) => root.remove_tree(&n)?,
        }
    }
    Ok(())
}
