//! `mount -o remount,OPTIONS MNT`: the kernel changes the options of a live agentfs mount
//! (ro/rw, nosuid, noexec, the atime rules, sync, lazytime); the daemon, its pin and its upper
//! layer stay as they are. Options not given keep their current value, as mount(8) promises.

use crate::error::{Error, Result};
use crate::options::Options;
use std::path::Path;

/// What the options of a remount change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Given {
    /// Only what is given (`agentfs mount -o remount,ro`): the rest stays as it is.
    Changes,
    /// Every flag that is set (mount(8) calling the helper: it merges the mount's current
    /// options with the command line and passes the result, leaving out the defaults it
    /// knows, `suid`, `dev`, `exec`, so that a missing `nosuid` means `suid`).
    Complete,
}

/// Remounts the agentfs mount at `mnt` with `options`. agentfs's own options (pin, size, ...)
/// cannot change on a live mount and are ignored: mount(8) passes the whole /etc/fstab line
/// with `remount`.
#[cfg(target_os = "linux")]
pub fn remount(mnt: &Path, options: &Options, given: Given) -> Result<()> {
    use crate::mountinfo;
    use agentfs_platform::mount_options::KernelOptions;
    let mnt = std::fs::canonicalize(mnt)
        .map_err(|e| Error::Input(format!("MNT {} cannot be resolved ({e}); give the mount point", mnt.display())))?;
    let entry = mountinfo::mount_at(&mnt).filter(mountinfo::is_agentfs).ok_or_else(|| {
        Error::NotMounted(format!("{} is not an agentfs mount; remount needs the mount point of one", mnt.display()))
    })?;
    let (was_ro, current) = match given {
        Given::Changes => KernelOptions::from_mount_table(&entry.options, &entry.super_options),
        Given::Complete => KernelOptions::from_mount_table("", ""),
    };
    let read_only = options.read_only.unwrap_or(was_ro);
    let wanted = options.kernel_options(current);
    if !rustix::process::geteuid().is_root() && (wanted.suid || wanted.dev) {
        return Err(Error::Permission(format!(
            "only root may remount {} with suid or dev; leave them out",
            mnt.display()
        )));
    }
    wanted.remount(&mnt, read_only).map_err(|e| {
        let fix = if e.kind() == std::io::ErrorKind::ResourceBusy {
            "a file is open for writing there; close it or remount later"
        } else {
            "check the options (dirsync cannot change on a remount; context= needs an LSM such as SELinux)"
        };
        Error::System(format!("the kernel refused to remount {} ({e}); {fix}", mnt.display()))
    })?;
    note_read_only(&mnt, read_only);
    Ok(())
}

/// Elsewhere a mount's options are fixed until it is unmounted.
#[cfg(not(target_os = "linux"))]
pub fn remount(mnt: &Path, _options: &Options, _given: Given) -> Result<()> {
    Err(Error::Usage(format!(
        "-o remount changes a live mount on Linux only; unmount {} and mount it again with the new options",
        mnt.display()
    )))
}

/// Keeps the mount's record (`agentfs status`) in step with a remount ro or rw.
#[cfg(target_os = "linux")]
fn note_read_only(mnt: &Path, read_only: bool) {
    use crate::registry;
    use crate::runtime::mount_id;
    if let Ok(Some(mut rec)) = registry::load(&mount_id(mnt)) {
        if rec.read_only != read_only {
            rec.read_only = read_only;
            let _ = registry::save(&rec);
        }
    }
}
