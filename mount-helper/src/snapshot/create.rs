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
use crate::confined::{Dir, cause};
use crate::control::client::Client;
use crate::error::{Error, Result};
use crate::lower_copy;
use crate::materialize::{Tree, Written};
use crate::pin::location;
use crate::target;
use agentfs_platform::os::subvolume as btrfs;
use agentfs_platform::tree_copy::DataMode;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Something half made, removed unless `done` is set.
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

/// Deletes a snapshot's container (clearing immutable flags first when `sealed`), through a
/// confined handle of the directory holding it.
pub fn remove_holder(path: &Path, holder: Holder, sealed: bool) -> std::io::Result<()> {
    match holder {
        Holder::Subvolume => crate::pin::remove::remove_snapshot(path),
        Holder::Tree => {
            let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else { return Ok(()) };
            let dir = match Dir::open_root(parent) {
                Ok(d) => d,
                Err(e) if crate::confined::errno(&e) == Some(libc::ENOENT) => return Ok(()),
                Err(e) => return Err(e),
            };
            if sealed && rustix::process::geteuid().is_root() {
                seal::set_immutable(&dir, name, false)?;
            }
            dir.remove_tree(name)
        }
    }
}

fn fail<'a>(what: &'a str, name: &'a str) -> impl Fn(std::io::Error) -> Error + 'a {
    move |e| Error::System(format!("cannot {what} for the snapshot {name}: {}", cause(&e)))
}

/// Step 1: a copy of the lower layer as `part` in the snapshots directory `dir`. Returns how it
/// is held, where the tree is inside it, and how data was copied.
fn copy_lower(
    rec: &crate::registry::MountRecord,
    lower: &Dir,
    dir: &Dir,
    part: &OsStr,
    name: &str,
) -> Result<(Holder, PathBuf, DataMode)> {
    let copy = lower_copy::make(rec, lower, dir, part, false).map_err(fail("copy the lower layer", name))?;
    let holder = if copy.subvolume { Holder::Subvolume } else { Holder::Tree };
    Ok((holder, copy.rel, copy.data))
}

/// Step 2: the mount's changes, with the mount held still, written into the tree `root`.
fn apply_changes(
    mnt: &Path,
    rec: &crate::registry::MountRecord,
    lower: &Dir,
    root: &Dir,
    data_mode: DataMode,
) -> Result<Written> {
    target::flush(mnt)?;
    let mut client = Client::connect(&rec.id, mnt)?;
    client.freeze()?;
    let set = ChangeSet::from_wire(client.changes()?)?;
    let written = Tree { client: &mut client, lower, root, data_mode }.apply(&set)?;
    client.thaw()?;
    Ok(written)
}

/// Step 3: read-only (subvolume flag, or immutable entries as root).
fn seal_it(dir: &Dir, name: &OsStr, holder: Holder, snap: &str) -> Result<bool> {
    match holder {
        Holder::Subvolume => {
            let d = dir.open_dir(Path::new(name)).map_err(fail("open the snapshot", snap))?;
            btrfs::set_readonly(d.into_fd(), true).map_err(fail("make the snapshot read-only", snap))?;
            Ok(true)
        }
        Holder::Tree if rustix::process::geteuid().is_root() => {
            seal::set_immutable(dir, name, true).map_err(fail("make the tree immutable", snap))?;
            Ok(true)
        }
        Holder::Tree => Ok(false),
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
    let lower_path = rec.pin.lower_root();
    let loc = location::snapshots_dir(&lower_path).ok_or_else(|| {
        Error::Permission(format!(
            "there is no place to keep snapshots on the filesystem of {}: make a writable directory `{}` on it",
            lower_path.display(),
            crate::pin::SNAPSHOTS_DIR_NAME
        ))
    })?;
    let dir = Dir::open_root(&loc.dir).map_err(fail("open the snapshots directory", name))?;
    let lower = Dir::open_root(&lower_path).map_err(fail("open the pin", name))?;
    let final_path = loc.dir.join(name);
    if dir.stat(OsStr::new(name)).map_err(fail("look at the snapshots directory", name))?.is_some() {
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
        holder: if lower_copy::subvolume_of(&rec.pin).is_some() { Holder::Subvolume } else { Holder::Tree },
        container: part.as_os_str().as_bytes().to_vec(),
        root: part.as_os_str().as_bytes().to_vec(),
        changed_objects: 0,
        changed_bytes: 0,
        millis: 0,
        sealed: false,
        maker: (std::process::id(), crate::process::own_start_time()),
    };
    // Recorded first: if this process dies, `gc` finds what it left.
    record::save(&snap)?;
    let mut pending = PendingRecord { name, done: false };
    let (holder, rel, data_mode) = copy_lower(&rec, &lower, &dir, OsStr::new(&part_name), name)?;
    let mut guard = Partial { path: part.clone(), holder, done: false };
    let root = dir.open_dir(&Path::new(&part_name).join(&rel)).map_err(fail("open the copy", name))?;
    let written = apply_changes(&mnt, &rec, &lower, &root, data_mode)?;
    dir.move_to(OsStr::new(&part_name), &dir, OsStr::new(name)).map_err(fail("move the snapshot into place", name))?;
    guard.path = final_path.clone();
    let sealed = seal_it(&dir, OsStr::new(name), holder, name)?;
    dir.syncfs().map_err(fail("sync the snapshot", name))?;
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
