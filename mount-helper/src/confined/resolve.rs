//! Opening directories without following symlinks: `openat2` where the kernel has it (Linux
//! 5.6+), else a walk of one `O_NOFOLLOW | O_DIRECTORY` open per component. macOS has no
//! `openat2`: it always walks.

use rustix::fs::{AtFlags, Mode, OFlags};
#[cfg(target_os = "linux")]
use rustix::fs::{ResolveFlags, StatxFlags};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path};
#[cfg(target_os = "linux")]
use std::sync::atomic::{AtomicBool, Ordering};

const DIR_FLAGS: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY).union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);

/// Set once `openat2` turned out to be missing (ENOSYS): the walk is used from then on.
#[cfg(target_os = "linux")]
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// Whether to use `openat2` (tests can force the walk with AGENTFS_TEST_NO_OPENAT2 in debug
/// builds, so both paths are tested on one kernel).
#[cfg(target_os = "linux")]
fn use_openat2() -> bool {
    if cfg!(debug_assertions) && std::env::var_os("AGENTFS_TEST_NO_OPENAT2").is_some() {
        return false;
    }
    !NO_OPENAT2.load(Ordering::Relaxed)
}

/// Opens the directory at the absolute `path`, following no symlink in any component.
pub fn open_absolute(path: &Path) -> io::Result<OwnedFd> {
    let mut comps = path.components();
    if comps.next() != Some(Component::RootDir) || !comps.all(|c| matches!(c, Component::Normal(_))) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not an absolute path of plain names"));
    }
    #[cfg(target_os = "linux")]
    if use_openat2() {
        let how = ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        match rustix::fs::openat2(rustix::fs::CWD, path, DIR_FLAGS, Mode::empty(), how) {
            Err(rustix::io::Errno::NOSYS) => NO_OPENAT2.store(true, Ordering::Relaxed),
            other => return Ok(other?),
        }
    }
    let root = rustix::fs::open("/", DIR_FLAGS, Mode::empty())?;
    walk(root, path.strip_prefix("/").unwrap_or(path), false)
}

/// Bytes of a relative path resolved in one call: a longer one (a tree deeper than PATH_MAX
/// allows to name at once) is resolved in steps of whole components, each beneath the last.
const STEP: usize = 2048;

/// Opens the directory at `rel` beneath `dir`: no symlink, no `..`, no other mount.
pub fn open_beneath(dir: &OwnedFd, rel: &Path) -> io::Result<OwnedFd> {
    if rel.as_os_str().len() <= STEP {
        return open_beneath_once(dir, rel);
    }
    let mut fd = open_beneath_once(dir, Path::new(""))?;
    let mut step = std::path::PathBuf::new();
    for c in rel.components() {
        if !step.as_os_str().is_empty() && step.as_os_str().len() + c.as_os_str().len() + 1 > STEP {
            fd = open_beneath_once(&fd, &step)?;
            step.clear();
        }
        step.push(c);
    }
    open_beneath_once(&fd, &step)
}

fn open_beneath_once(dir: &OwnedFd, rel: &Path) -> io::Result<OwnedFd> {
    #[cfg(target_os = "linux")]
    if use_openat2() {
        let how =
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS | ResolveFlags::NO_XDEV;
        let p = if rel.as_os_str().is_empty() { Path::new(".") } else { rel };
        match rustix::fs::openat2(dir, p, DIR_FLAGS, Mode::empty(), how) {
            Err(rustix::io::Errno::NOSYS) => NO_OPENAT2.store(true, Ordering::Relaxed),
            // O_DIRECTORY is checked before the symlink: say what the walk says for one.
            Err(rustix::io::Errno::NOTDIR) => {
                let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                let last = rustix::fs::openat2(dir, p, flags, Mode::empty(), how).and_then(|fd| rustix::fs::fstat(&fd));
                return match last {
                    Ok(st) if super::kind_of(&st) == rustix::fs::FileType::Symlink => {
                        Err(rustix::io::Errno::LOOP.into())
                    }
                    _ => Err(rustix::io::Errno::NOTDIR.into()),
                };
            }
            other => return Ok(other?),
        }
    }
    let start = rustix::fs::openat(dir, ".", DIR_FLAGS, Mode::empty())?;
    walk(start, rel, true)
}

/// The mount a directory is on: its mount id where statx tells it, else its device.
#[cfg(target_os = "linux")]
fn mount_of(fd: &OwnedFd) -> io::Result<u64> {
    match rustix::fs::statx(fd, "", AtFlags::EMPTY_PATH, StatxFlags::MNT_ID) {
        Ok(sx) if sx.stx_mask & StatxFlags::MNT_ID.bits() != 0 => Ok(sx.stx_mnt_id),
        _ =>
        {
            #[allow(clippy::unnecessary_cast)]
            Ok(rustix::fs::fstat(fd)?.st_dev as u64)
        }
    }
}

/// The mount a directory is on: its device (macOS has no mount ids; every mount, APFS volumes
/// included, is a device of its own).
#[cfg(not(target_os = "linux"))]
fn mount_of(fd: &OwnedFd) -> io::Result<u64> {
    #[allow(clippy::unnecessary_cast)]
    Ok(rustix::fs::fstat(fd)?.st_dev as u64)
}

/// Walks down `rel` from `fd` one name at a time, never following a symlink; with `same_mount`,
/// refuses (EXDEV) to enter another mount.
fn walk(mut fd: OwnedFd, rel: &Path, same_mount: bool) -> io::Result<OwnedFd> {
    let mount = if same_mount { Some(mount_of(&fd)?) } else { None };
    for c in rel.components() {
        let Component::Normal(name) = c else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a path of plain names"));
        };
        fd = match rustix::fs::openat(fd.as_fd(), name, DIR_FLAGS, Mode::empty()) {
            Ok(next) => next,
            // What openat2 says for a symlink on the way.
            Err(rustix::io::Errno::NOTDIR) if is_symlink(&fd, name) => return Err(rustix::io::Errno::LOOP.into()),
            Err(e) => return Err(e.into()),
        };
        if let Some(m) = mount {
            if mount_of(&fd)? != m {
                return Err(rustix::io::Errno::XDEV.into());
            }
        }
    }
    Ok(fd)
}

fn is_symlink(dir: &OwnedFd, name: &std::ffi::OsStr) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|st| super::kind_of(&st) == rustix::fs::FileType::Symlink)
}

/// The walk, for the unit tests (which must test it on kernels that have openat2).
#[cfg(test)]
pub fn walk_for_tests(fd: OwnedFd, rel: &Path) -> io::Result<OwnedFd> {
    walk(fd, rel, true)
}
