//! `agentfs snapshot MNT NAME`: the mount's current view, kept on SRC's filesystem.
//!
//! 1. A copy of the lower layer, next to the pins: a btrfs snapshot of the pin's subvolume
//!    (O(1)), else a tree of reflink clones (metadata only), else a copy. The pin is immutable,
//!    so this needs no freeze.
//! 2. The mount is flushed and frozen; its changes are written into the copy (O(changed
//!    bytes)); it thaws.
//! 3. The copy is made read-only (subvolume flag, or immutable entries), synced, renamed into
//!    place, and recorded.

use super::record::{self, Holder, SnapshotRecord};
use super::seal;
use crate::changeset::ChangeSet;
use crate::control::client::Client;
use crate::error::{Error, Result};
use crate::materialize::Tree;
use crate::pin::location::{self, probe_reflink};
use crate::pin::{Pin, PinKind};
use crate::target;
use agentfs_platform::os::subvolume as btrfs;
use agentfs_platform::tree_copy::{self, DataMode};
use rustix::fs::{Mode, OFlags};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

fn open_dir(p: &Path) -> std::io::Result<std::os::fd::OwnedFd> {
    Ok(rustix::fs::open(p, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?)
}

/// The btrfs subvolume holding a pin's lower root, and the root's place in it.
fn subvolume_of(pin: &Pin) -> Option<(PathBuf, PathBuf)> {
    if !matches!(pin.kind, PinKind::Snapshot | PinKind::Branch) {
        return None;
    }
    let container = pin.path();
    let is_subvolume = crate::pin::snapshot::applies(&container).unwrap_or(false)
        && std::fs::metadata(&container).is_ok_and(|m| m.ino() == btrfs::SUBVOL_ROOT_INO);
    let rel = pin.lower_root().strip_prefix(&container).ok()?.to_path_buf();
    is_subvolume.then_some((container, rel))
}

/// Something half made, removed unless `keep` is called.
struct Partial {
    path: PathBuf,
    holder: Holder,
    done: bool,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.done {
            let _ = remove_holder(&self.path, self.holder, true);
        }
    }
}

/// The record of a snapshot being made, removed unless it was completed.
struct PendingRecord<'a> {
    name: &'a str,
    done: bool,
}

impl Drop for PendingRecord<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = record::remove(self.name);
        }
    }
}

/// Deletes a snapshot's container (clearing immutable flags first when `sealed`).
pub fn remove_holder(path: &Path, holder: Holder, sealed: bool) -> std::io::Result<()> {
    match holder {
        Holder::Subvolume => crate::pin::remove::remove_snapshot(path),
        Holder::Tree => {
            if sealed && rustix::process::geteuid().is_root() && path.exists() {
                seal::set_immutable(path, false)?;
            }
            crate::pin::remove::remove_tree(path)
        }
    }
}

pub fn create(mnt: &Path, name: &str) -> Result<SnapshotRecord> {
    record::validate_name(name)?;
    if record::load(name)?.is_some() {
        return Err(Error::Input(format!(
            "a snapshot named {name} exists already; pick another name, or remove it with `agentfs snapshot rm {name}`"
        )));
    }
    let (mnt, rec) = target::mounted(mnt)?;
    let started = Instant::now();
    let lower = rec.pin.lower_root();
    let loc = location::snapshots_dir(&lower).ok_or_else(|| {
        Error::Permission(format!(
            "there is no place to keep snapshots on the filesystem of {}: make a writable directory `{}` on it",
            lower.display(),
            crate::pin::SNAPSHOTS_DIR_NAME
        ))
    })?;
    let final_path = loc.dir.join(name);
    if final_path.symlink_metadata().is_ok() {
        return Err(Error::Input(format!(
            "{} exists but no snapshot {name} is recorded; remove it or pick another name",
            final_path.display()
        )));
    }
    let part_name = format!("{name}.part-{}", std::process::id());
    let part = loc.dir.join(&part_name);
    let mut snap = SnapshotRecord {
        name: name.to_string(),
        uid: rustix::process::getuid().as_raw(),
        source: rec.source.clone(),
        created: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
        holder: Holder::Tree,
        container: part.as_os_str().as_bytes().to_vec(),
        root: part.as_os_str().as_bytes().to_vec(),
        changed_objects: 0,
        changed_bytes: 0,
        millis: 0,
        sealed: false,
        maker: (std::process::id(), crate::process::own_start_time()),
    };
    // Recorded first: if this process dies, `gc` finds what it left.
    if subvolume_of(&rec.pin).is_some() {
        snap.holder = Holder::Subvolume;
    }
    record::save(&snap)?;
    let mut pending = PendingRecord { name, done: false };

    // 1. A copy of the lower layer.
    let fail = |what: &str| {
        let what = what.to_string();
        move |e: std::io::Error| Error::System(format!("cannot {what} for the snapshot {name}: {e}"))
    };
    let (holder, rel, data_mode) = match subvolume_of(&rec.pin) {
        Some((subvol, rel)) => {
            btrfs::snapshot(
                open_dir(&subvol).map_err(fail("open the pin"))?,
                open_dir(&loc.dir).map_err(fail("open the snapshots directory"))?,
                OsStr::new(&part_name),
                false,
            )
            .map_err(fail("snapshot the pin"))?;
            (Holder::Subvolume, rel, DataMode::Reflink)
        }
        None => {
            let mode = if probe_reflink(&loc.dir).is_ok() { DataMode::Reflink } else { DataMode::Copy };
            let opts = tree_copy::Options {
                mode,
                skip_top: rec.pin.hidden_names(),
                threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 8),
                progress: Arc::new(tree_copy::Progress::default()),
            };
            let mut guard = Partial { path: part.clone(), holder: Holder::Tree, done: false };
            tree_copy::copy_tree(&lower, &part, &opts).map_err(fail("copy the lower layer"))?;
            guard.done = true;
            (Holder::Tree, PathBuf::new(), mode)
        }
    };
    let mut guard = Partial { path: part.clone(), holder, done: false };
    let root = part.join(&rel);

    // 2. The changes, with the mount held still.
    target::flush(&mnt)?;
    let mut client = Client::connect(&rec.id, &mnt)?;
    client.freeze()?;
    let set = ChangeSet::from_wire(client.changes()?)?;
    let written = Tree { client: &mut client, lower: &lower, root: &root, data_mode }.apply(&set)?;
    client.thaw()?;
    drop(client);

    // 3. In place, read-only, durable.
    std::fs::rename(&part, &final_path).map_err(fail("move the snapshot into place"))?;
    guard.path = final_path.clone();
    let sealed = match holder {
        Holder::Subvolume => {
            btrfs::set_readonly(open_dir(&final_path).map_err(fail("open the snapshot"))?, true)
                .map_err(fail("make the snapshot read-only"))?;
            true
        }
        Holder::Tree if rustix::process::geteuid().is_root() => {
            seal::set_immutable(&final_path, true).map_err(fail("make the tree immutable"))?;
            true
        }
        Holder::Tree => false,
    };
    let dir = std::fs::File::open(&loc.dir).map_err(fail("open the snapshots directory"))?;
    agentfs_platform::os::fs::sync_filesystem(&dir).map_err(fail("sync the snapshot"))?;
    snap.holder = holder;
    snap.container = final_path.as_os_str().as_bytes().to_vec();
    snap.root = final_path.join(&rel).as_os_str().as_bytes().to_vec();
    snap.changed_objects = written.objects;
    snap.changed_bytes = written.bytes;
    snap.millis = started.elapsed().as_millis() as u64;
    snap.sealed = sealed;
    snap.maker = (0, 0);
    record::save(&snap)?;
    pending.done = true;
    guard.done = true;
    tracing::info!(name, millis = snap.millis, objects = written.objects, bytes = written.bytes, "snapshot taken");
    Ok(snap)
}
