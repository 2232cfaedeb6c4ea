//! Taking a mount off the mount table, per OS: Linux umount2 (root) or fusermount3 (users),
//! macOS unmount(2) (which the user who mounted may call). The daemon notices and exits.
//! Windows has no such call for a WinFsp volume: its daemon is asked, over the control channel,
//! to take the volume down and exit.

#[cfg(unix)]
use crate::error::Error;
use crate::error::Result;
use std::path::Path;

#[cfg(unix)]
fn busy(mnt: &Path) -> Error {
    Error::Busy(format!(
        "{} is busy: a process has a file or directory open in it (see `{} {}`); close it, or use --lazy",
        mnt.display(),
        if cfg!(target_os = "macos") { "lsof +D" } else { "fuser -vm" },
        mnt.display()
    ))
}

/// Whether `e` (from resolving a mount point) means a FUSE mount whose daemon is gone.
pub fn is_dead_mount_error(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::ENOTCONN)
    }
    #[cfg(windows)]
    {
        let _ = e;
        false
    }
}

/// Detaches the mount at `mnt` lazily, as root or through fusermount3; best effort.
#[cfg(target_os = "linux")]
pub fn detach(mnt: &Path) {
    use rustix::mount::UnmountFlags;
    if rustix::process::geteuid().is_root() && rustix::mount::unmount(mnt, UnmountFlags::DETACH).is_ok() {
        return;
    }
    let _ = std::process::Command::new("fusermount3").args(["-u", "-z", "-q", "--"]).arg(mnt).output();
}

/// How long an unmount keeps trying while the mount is busy: a `stat`, `statfs` or `ls` that
/// happens to be inside it (`agentfs list` in a monitoring loop) holds it for a moment only.
#[cfg(target_os = "linux")]
const BUSY_RETRY: std::time::Duration = std::time::Duration::from_millis(500);

/// Unmounts `mnt` (the mount `id`); `lazy` detaches it while files are still open in it. A mount
/// still busy after [`BUSY_RETRY`] is refused.
#[cfg(target_os = "linux")]
pub fn unmount(mnt: &Path, id: &str, lazy: bool) -> Result<()> {
    let until = std::time::Instant::now() + BUSY_RETRY;
    loop {
        match unmount_once(mnt, id, lazy) {
            Err(Error::Busy(_)) if std::time::Instant::now() < until => {
                std::thread::sleep(std::time::Duration::from_millis(25));
                // Taken off meanwhile by someone else: done, and whatever is mounted underneath
                // is not ours to unmount.
                if !crate::mountinfo::agentfs_at(mnt) {
                    return Ok(());
                }
            }
            r => return r,
        }
    }
}

#[cfg(target_os = "linux")]
fn unmount_once(mnt: &Path, _id: &str, lazy: bool) -> Result<()> {
    use rustix::mount::UnmountFlags;
    if rustix::process::geteuid().is_root() {
        let flags = if lazy { UnmountFlags::DETACH } else { UnmountFlags::empty() };
        return match rustix::mount::unmount(mnt, flags) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::BUSY) => Err(busy(mnt)),
            Err(e) => Err(Error::System(format!("cannot unmount {}: {e}", mnt.display()))),
        };
    }
    let mut cmd = std::process::Command::new("fusermount3");
    cmd.arg("-u");
    if lazy {
        cmd.arg("-z");
    }
    let out = cmd.arg("--").arg(mnt).output().map_err(|e| Error::io("cannot run fusermount3 for", mnt, &e))?;
    if out.status.success() {
        return Ok(());
    }
    let msg = String::from_utf8_lossy(&out.stderr);
    if msg.contains("Device or resource busy") {
        return Err(busy(mnt));
    }
    Err(Error::System(format!("fusermount3 could not unmount {}: {}", mnt.display(), msg.trim())))
}

/// Forces the mount at `mnt` off (macOS has no lazy detach; a forced unmount is the closest);
/// best effort.
#[cfg(target_os = "macos")]
pub fn detach(mnt: &Path) {
    let _ = agentfs_platform::sys::macos::unmount::unmount(mnt, true);
}

/// Unmounts `mnt` (the mount `_id`); `lazy` forces it off while files are open in it (their
/// later reads fail, as macOS has no lazy unmount).
#[cfg(target_os = "macos")]
pub fn unmount(mnt: &Path, _id: &str, lazy: bool) -> Result<()> {
    match agentfs_platform::sys::macos::unmount::unmount(mnt, lazy) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => Err(busy(mnt)),
        Err(e) => Err(Error::System(format!("cannot unmount {}: {e}", mnt.display()))),
    }
}

/// Asks the daemon serving `mnt` (if it still answers) to take its volume down; best effort.
#[cfg(windows)]
pub fn detach(mnt: &Path) {
    let _ = unmount(mnt, &crate::runtime::mount_id(mnt), true);
}

/// Asks the daemon of mount `id` at `mnt` to take its volume down. WinFsp closes what is still
/// open on it, so `lazy` changes nothing.
#[cfg(windows)]
pub fn unmount(mnt: &Path, id: &str, _lazy: bool) -> Result<()> {
    crate::control::client::Client::connect(id, mnt)?.unmount()
}
