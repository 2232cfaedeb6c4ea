//! Finding the agentfs mount a command names.

use crate::error::{Error, Result};
use crate::mountinfo;
use crate::registry::{self, MountRecord, MountState};
use crate::runtime::mount_id;
use std::path::{Path, PathBuf};

/// The live agentfs mount at `mnt`: its canonical path and its record.
pub fn mounted(mnt: &Path) -> Result<(PathBuf, MountRecord)> {
    let canon = crate::check::canonical_mountpoint(mnt).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::Input(format!("{} does not exist; give the mount point of an agentfs mount", mnt.display()))
        }
        _ => Error::io("cannot resolve", mnt, &e),
    })?;
    let not_mounted = || {
        Error::NotMounted(format!(
            "{} is not an agentfs mount; mount one with `agentfs mount SRC MNT`",
            canon.display()
        ))
    };
    let Some(entry) = mountinfo::mount_at(&canon).filter(mountinfo::is_agentfs) else {
        return Err(not_mounted());
    };
    let rec = registry::load(&mount_id(&canon))?.ok_or_else(|| mountinfo::not_ours(&entry))?;
    if rec.state != MountState::Mounted || !rec.owner_alive() {
        return Err(Error::Busy(format!(
            "the daemon of {} is gone; run `agentfs gc` to clean up, then mount again",
            canon.display()
        )));
    }
    let me = crate::runtime::current_uid();
    if me != 0 && rec.uid != me {
        return Err(Error::Permission(format!(
            "{} was mounted by uid {}; only that user or root can do this",
            canon.display(),
            rec.uid
        )));
    }
    Ok((canon, rec))
}

/// Flushes what the kernel still caches for the mount at `mnt` (its writeback cache) to the
/// daemon, so the daemon's view is complete.
#[cfg(unix)]
pub fn flush(mnt: &Path) -> Result<()> {
    let f = std::fs::File::open(mnt).map_err(|e| Error::io("cannot open", mnt, &e))?;
    agentfs_platform::os::fs::sync_filesystem(&f).map_err(|e| Error::io("cannot flush", mnt, &e))
}
