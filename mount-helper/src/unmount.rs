//! Unmounting: `agentfs unmount`, and the daemon's own unmount on a signal.

use crate::error::{Error, Result};
use crate::mountinfo;
use crate::registry;
use crate::runtime::mount_id;
use rustix::mount::UnmountFlags;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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

/// Detaches the mount at `mnt` lazily, as root or through fusermount3; best effort.
pub fn detach(mnt: &Path) {
    if rustix::process::geteuid().is_root() && rustix::mount::unmount(mnt, UnmountFlags::DETACH).is_ok() {
        return;
    }
    let _ = Command::new("fusermount3").args(["-u", "-z", "-q", "--"]).arg(mnt).output();
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
    let me = rustix::process::getuid();
    if let (None, Some(entry)) = (&record, &mounted) {
        if mountinfo::fuse_owner(entry).is_some_and(|uid| uid != me.as_raw()) && !me.is_root() {
            return Err(Error::Permission(mountinfo::not_ours(entry)));
        }
    }
    if let Some(r) = &record {
        if !me.is_root() && r.uid != me.as_raw() {
            return Err(Error::Permission(format!(
                "{} was mounted by uid {}; only that user or root can unmount it",
                mnt.display(),
                r.uid
            )));
        }
    }
    do_unmount(&mnt, lazy)?;
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
    std::fs::canonicalize(mnt).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::Input(format!("{} does not exist; give the mount point to unmount", mnt.display()))
        }
        // A mount whose daemon died answers ENOTCONN: unmount by the path as given.
        _ if e.raw_os_error() == Some(libc::ENOTCONN) => Error::Busy(format!(
            "{} is a dead mount (its daemon is gone); run `agentfs gc` or `umount -l {}`",
            mnt.display(),
            mnt.display()
        )),
        _ => Error::io("cannot resolve", mnt, &e),
    })
}

fn busy(mnt: &Path) -> Error {
    Error::Busy(format!(
        "{} is busy: a process has a file or directory open in it (see `fuser -vm {}`); close it, or use --lazy",
        mnt.display(),
        mnt.display()
    ))
}

fn do_unmount(mnt: &Path, lazy: bool) -> Result<()> {
    if rustix::process::geteuid().is_root() {
        let flags = if lazy { UnmountFlags::DETACH } else { UnmountFlags::empty() };
        return match rustix::mount::unmount(mnt, flags) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::BUSY) => Err(busy(mnt)),
            Err(e) => Err(Error::System(format!("cannot unmount {}: {e}", mnt.display()))),
        };
    }
    let mut cmd = Command::new("fusermount3");
    cmd.arg("-u");
    if lazy {
        cmd.arg("-z");
    }
    let out = cmd.arg("--").arg(mnt).output().map_err(|e| Error::io("cannot run fusermount3 for", mnt, &e))?;
    if out.status.success() {
        return Ok(());
    }
    let msg = String::from_utf8_lossy(&out.stderr);
    if msg.contains("busy") {
        return Err(busy(mnt));
    }
    Err(Error::System(format!("fusermount3 could not unmount {}: {}", mnt.display(), msg.trim())))
}

/// Whether a process with this pid exists.
pub fn process_alive(pid: u32) -> bool {
    match rustix::process::Pid::from_raw(pid as i32) {
        Some(p) => {
            rustix::process::test_kill_process(p).is_ok() || std::path::Path::new(&format!("/proc/{pid}")).exists()
        }
        None => false,
    }
}

/// Waits until process `pid` exits; false on timeout.
pub fn wait_for_exit(pid: u32, timeout: Duration) -> bool {
    let Some(p) = rustix::process::Pid::from_raw(pid as i32) else {
        return true;
    };
    let deadline = Instant::now() + timeout;
    if let Ok(fd) = rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()) {
        let ts = rustix::time::Timespec { tv_sec: timeout.as_secs() as i64, tv_nsec: timeout.subsec_nanos() as i64 };
        let mut fds = [rustix::event::PollFd::new(&fd, rustix::event::PollFlags::IN)];
        return matches!(rustix::event::poll(&mut fds, Some(&ts)), Ok(n) if n > 0);
    }
    while Instant::now() < deadline {
        if !process_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
