//! Recovery from crashed daemons (`agentfs gc`, and the start of every `agentfs mount`): a
//! record whose process is gone means a dead mount; it is lazily unmounted, its pin deleted and
//! its record and log dropped.

use crate::mountinfo;
use crate::pin;
use crate::registry::{self, MountRecord};
use std::path::PathBuf;

/// What was cleaned up after one dead mount.
#[derive(Debug)]
pub struct Recovered {
    pub mountpoint: PathBuf,
    pub unmounted: bool,
    pub pin: Option<PathBuf>,
    /// Problems met (the record stays when the pin could not be removed, to try again).
    pub errors: Vec<String>,
}

/// Recovers every mount whose responsible process has died.
pub fn collect() -> Vec<Recovered> {
    registry::list().into_iter().filter(|r| !r.owner_alive()).map(|r| recover(&r)).collect()
}

/// Cleans up after the dead mount `rec`.
pub fn recover(rec: &MountRecord) -> Recovered {
    let mnt = rec.mountpoint_path();
    let mut out = Recovered { mountpoint: mnt.clone(), unmounted: false, pin: None, errors: Vec::new() };
    // A dead FUSE mount still sits in the mount table (access gives ENOTCONN).
    if mountinfo::agentfs_at(&mnt) {
        crate::unmount::detach(&mnt);
        out.unmounted = !mountinfo::agentfs_at(&mnt);
        if !out.unmounted {
            out.errors.push(format!("could not unmount {}", mnt.display()));
        }
    }
    let pins: Vec<pin::Pin> = match rec.state {
        // Died while pinning: whatever kind was being made may be there, whole or in part.
        crate::registry::MountState::Pinning => pin::possible_pins(&rec.pins_dir_path(), &rec.id),
        crate::registry::MountState::Mounted => vec![rec.pin.clone()],
    };
    for p in pins.iter().filter(|p| p.kind != pin::PinKind::Live) {
        let existed = p.path().exists();
        match pin::remove(p) {
            Ok(()) if existed => out.pin = Some(p.path()),
            Ok(()) => {}
            Err(e) => out.errors.push(e.to_string()),
        }
    }
    if out.errors.is_empty() {
        registry::remove(&rec.id);
        crate::logging::remove(&rec.log_path());
    }
    out
}
