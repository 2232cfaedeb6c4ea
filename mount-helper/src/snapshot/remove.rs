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
    /// Only the record: the data was not at this path any more (removed by hand, or its
    /// filesystem is mounted somewhere else now, where the data may still use space).
    RecordOnly(std::path::PathBuf),
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
    if container.symlink_metadata().is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
        record::remove(name)?;
        return Ok(Removed::RecordOnly(container));
    }
    remove_holder(&container, snap.holder, snap.sealed)
        .map_err(|e| Error::System(format!("cannot remove the snapshot {name} at {}: {e}", container.display())))?;
    if let Some(parent) = container.parent() {
        let _ = std::fs::remove_dir(parent);
    }
    record::remove(name)?;
    Ok(Removed::Whole)
}
