//! Unmounting: `agentfs unmount`, and the daemon's own unmount on a signal.

use crate::error::{Error, Result};
use crate::mountinfo;
use crate::registry;
use crate::runtime::mount_id;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::kernel_unmount::detach;

/// How long `agentfs unmount` waits for the daemon to exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);
/// With --lazy, how long to wait before leaving a daemon that still serves open files.
const LAZY_WAIT: Duration = Duration::from_secs(3);

#[derive(Debug, PartialEq, Eq)]
pub enum Unmounted {
    /// Unmounted and the daemon has exited.
    Done,
    /// Detached; the daemon (this pid) exits when the last file open on the mount is closed.
    Detached(u32),
}

/// Unmounts the agentfs mount at `mnt` and waits for its daemon to exit.
pub fn unmount(mnt: &Path, lazy: bool) -> Result<Unmounted> {
    let mnt = canonical(mnt)?;
    let id = mount_id(&mnt);
    unmount_record(&mnt, &id, lazy)
}

/// Unmounts the agentfs mount at `mnt` (canonical) whose record is `id`, and waits for its
/// daemon to exit.
pub fn unmount_record(mnt: &Path, id: &str, lazy: bool) -> Result<Unmounted> {
    let mnt = mnt.to_path_buf();
    let id = id.to_string();
    let record = registry::load(&id)?;
    let mounted = mountinfo::mount_at(&mnt).filter(mountinfo::is_agentfs);
    if mounted.is_none() {
        if let Some(r) = &record {
            if !process_alive(r.pid) {
                registry::remove(&id);
            }
        }
        return Err(Error::NotMounted(format!("{} is not an agentfs mount; nothing to unmount", mnt.display())));
    }
    let me = crate::runtime::current_uid();
    if let (None, Some(entry)) = (&record, &mounted) {
        if mountinfo::fuse_owner(entry).is_some_and(|uid| uid != me) && me != 0 {
            return Err(mountinfo::not_ours(entry));
        }
    }
    if let Some(r) = &record {
        if me != 0 && r.uid != me {
            return Err(Error::Permission(format!(
                "{} was mounted by uid {}; only that user or root can unmount it",
                mnt.display(),
                r.uid
            )));
        }
    }
    crate::kernel_unmount::unmount(&mnt, &id, lazy)?;
    let Some(r) = record else {
        return Ok(Unmounted::Done);
    };
    let exited = wait_for_exit(r.pid, if lazy { LAZY_WAIT } else { EXIT_TIMEOUT });
    if exited {
        registry::remove(&id);
        return Ok(Unmounted::Done);
    }
    if lazy {
        return Ok(Unmounted::Detached(r.pid));
    }
    Err(Error::System(format!(
        "{} is unmounted but its daemon (pid {}) did not exit within {}s; see its log {}",
        mnt.display(),
        r.pid,
        EXIT_TIMEOUT.as_secs(),
        r.log_path().display()
    )))
}

fn canonical(mnt: &Path) -> Result<PathBuf> {
    crate::check::canonical_mountpoint(mnt).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::Input(format!("{} does not exist; give the mount point to unmount", mnt.display()))
        }
        // A mount whose daemon died answers ENOTCONN: unmount by the path as given.
        _ if crate::kernel_unmount::is_dead_mount_error(&e) => Error::Busy(format!(
            "{} is a dead mount (its daemon is gone); run `agentfs gc` or `umount -l {}`",
            mnt.display(),
            mnt.display()
        )),
        _ => Error::io("cannot resolve", mnt, &e),
    })
}

/// Whether a process with this pid exists.
pub fn process_alive(pid: u32) -> bool {
    crate::process::start_time(pid).is_some()
}

/// Waits until process `pid` exits; false on timeout.
pub fn wait_for_exit(pid: u32, timeout: Duration) -> bool {
    agentfs_platform::os::process::wait_exit(pid, timeout)
}
