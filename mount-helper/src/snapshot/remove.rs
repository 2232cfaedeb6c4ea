//! `agentfs snapshot rm NAME`.

use super::create::remove_holder;
use super::record;
use crate::error::{Error, Result};
use crate::pin::PinKind;
use crate::registry;

/// The mount points of live mounts branched from the snapshot held in `container`.
pub fn users(container: &[u8]) -> Vec<std::path::PathBuf> {
    registry::list()
        .into_iter()
        .filter(|r| r.pin.kind == PinKind::Branch && r.pin.path == container && r.owner_alive())
        .map(|r| r.mountpoint_path())
        .collect()
}

/// What `snapshot rm` removed.
#[derive(Debug, PartialEq, Eq)]
pub enum Removed {
    /// The snapshot's data and its record.
    Whole,
    /// Only the record: the data was not at `path` any more (deleted by hand, or its filesystem
    /// is mounted somewhere else now, where it may still use space). `replaced`: something else
    /// is at `path` now, and was left alone.
    RecordOnly { path: std::path::PathBuf, replaced: bool, delete_with: &'static str },
}

/// How the data of a snapshot held as `holder` is deleted by hand.
fn delete_with(holder: record::Holder, sealed: bool) -> &'static str {
    match holder {
        record::Holder::Subvolume => "`btrfs subvolume delete`",
        record::Holder::Tree if sealed => "`chattr -R -i` then `rm -rf`",
        record::Holder::Tree => "`rm -rf`",
    }
}

pub fn remove(name: &str) -> Result<Removed> {
    let snap = record::load(name)?
        .ok_or_else(|| Error::Input(format!("there is no snapshot named {name}; `agentfs snapshots` lists them")))?;
    let me = rustix::process::getuid();
    if !me.is_root() && snap.uid != me.as_raw() {
        return Err(Error::Permission(format!(
            "the snapshot {name} belongs to uid {}; only they or root can remove it",
            snap.uid
        )));
    }
    if !snap.complete() && crate::process::alive(snap.maker.0, snap.maker.1) {
        return Err(Error::Busy(format!("the snapshot {name} is being made (by pid {}); wait for it", snap.maker.0)));
    }
    if let Some(m) = users(&snap.container).first() {
        return Err(Error::Busy(format!(
            "the snapshot {name} is in use by the mount at {}; unmount it first (agentfs unmount {})",
            m.display(),
            m.display()
        )));
    }
    let container = snap.container_path();
    // The data is a directory (a subvolume or a tree) we made; anything else there now, or
    // nothing, is not ours to delete.
    let replaced = match container.symlink_metadata() {
        Ok(m) if m.is_dir() => None,
        Ok(_) => Some(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(false),
        // Something that is not a directory, or a symlink loop, on the way to it.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTDIR) | Some(libc::ELOOP)) => Some(true),
        Err(e) => return Err(cannot_remove(name, &container, &e)),
    };
    let removed = match replaced {
        Some(replaced) => {
            let delete_with = delete_with(snap.holder, snap.sealed);
            Removed::RecordOnly { path: container.clone(), replaced, delete_with }
        }
        None => {
            remove_holder(&container, snap.holder, snap.sealed).map_err(|e| cannot_remove(name, &container, &e))?;
            Removed::Whole
        }
    };
    if let Some(parent) = container.parent() {
        let _ = std::fs::remove_dir(parent);
    }
    record::remove(name)?;
    Ok(removed)
}

fn cannot_remove(name: &str, at: &std::path::Path, e: &std::io::Error) -> Error {
    let msg = format!("cannot remove the snapshot {name} at {}: {e}", at.display());
    if e.kind() == std::io::ErrorKind::PermissionDenied { Error::Permission(msg) } else { Error::System(msg) }
}
