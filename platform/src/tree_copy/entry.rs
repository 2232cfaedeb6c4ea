//! Copying the entries of one directory.

use super::queue::WorkQueue;
use super::{DataMode, DirJob, PendingDir, Shared};
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat, Timestamps, XattrFlags};
use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

#[cfg(target_os = "linux")]
fn open_ro(dir: &OwnedFd, name: &OsStr, extra: OFlags) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY | extra;
    match rustix::fs::openat(dir, name, flags | OFlags::NOATIME, Mode::empty()) {
        Err(rustix::io::Errno::PERM) => Ok(rustix::fs::openat(dir, name, flags, Mode::empty())?),
        other => Ok(other?),
    }
}

/// macOS has no O_NOATIME.
#[cfg(not(target_os = "linux"))]
fn open_ro(dir: &OwnedFd, name: &OsStr, extra: OFlags) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY | extra;
    Ok(rustix::fs::openat(dir, name, flags, Mode::empty())?)
}

/// All xattrs of an open file or directory (none if the filesystem has none).
pub fn read_xattrs_fd(fd: &OwnedFd) -> Xattrs {
    let mut out = Vec::new();
    let mut list = vec![0u8; 64 * 1024];
    let Ok(n) = rustix::fs::flistxattr(fd, &mut list[..]) else { return out };
    for name in list[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let mut val = vec![0u8; 64 * 1024];
        if let Ok(len) = rustix::fs::fgetxattr(fd, OsStr::from_bytes(name), &mut val[..]) {
            val.truncate(len);
            out.push((name.to_vec(), val));
        }
    }
    out
}

fn write_xattrs_fd(fd: &OwnedFd, xattrs: &Xattrs) {
    for (name, value) in xattrs {
        // Some namespaces (security.*, trusted.* for users) may be refused; the copy stays useful.
        let _ = rustix::fs::fsetxattr(fd, OsStr::from_bytes(name), value, XattrFlags::empty());
    }
}

fn times(st: &Stat) -> Timestamps {
    #[allow(clippy::unnecessary_cast)]
    Timestamps {
        last_access: rustix::fs::Timespec { tv_sec: st.st_atime as i64, tv_nsec: st.st_atime_nsec as _ },
        last_modification: rustix::fs::Timespec { tv_sec: st.st_mtime as i64, tv_nsec: st.st_mtime_nsec as _ },
    }
}

#[allow(clippy::unnecessary_cast)]
fn mode_of(st: &Stat) -> Mode {
    Mode::from_raw_mode((st.st_mode as u32 & 0o7777) as _)
}

/// Owner, mode, xattrs and times of a directory (open as `fd`), once its content is complete.
pub fn apply_dir_meta(fd: &OwnedFd, st: &Stat, xattrs: &Xattrs, keep_owner: bool) -> io::Result<()> {
    write_xattrs_fd(fd, xattrs);
    if keep_owner {
        rustix::fs::fchown(fd, Some(rustix::fs::Uid::from_raw(st.st_uid)), Some(rustix::fs::Gid::from_raw(st.st_gid)))?;
    }
    rustix::fs::fchmod(fd, mode_of(st))?;
    rustix::fs::futimens(fd, &times(st))?;
    Ok(())
}

/// Copies every entry of `job`'s directory; subdirectories become new jobs.
pub fn copy_dir(sh: &Shared<'_>, job: &DirJob, queue: &WorkQueue<DirJob>) -> io::Result<()> {
    let mut dir = Dir::read_from(&*job.src)?;
    while let Some(entry) = dir.read() {
        if sh.failed.load(Ordering::Acquire) {
            return Ok(());
        }
        let entry = entry?;
        let name_bytes = entry.file_name().to_bytes();
        if name_bytes == b"." || name_bytes == b".." {
            continue;
        }
        let name = OsStr::from_bytes(name_bytes);
        if job.rel.as_os_str().is_empty() && sh.opts.skip_top.iter().any(|s| s == name) {
            continue;
        }
        if sh.opts.skip_everywhere.iter().any(|s| s == name) {
            continue;
        }
        let st = rustix::fs::statat(&*job.src, name, AtFlags::SYMLINK_NOFOLLOW)?;
        let rel = job.rel.join(name);
        #[allow(clippy::unnecessary_cast)]
        match FileType::from_raw_mode(st.st_mode as _) {
            FileType::Directory => {
                let src = open_ro(&job.src, name, OFlags::DIRECTORY)?;
                rustix::fs::mkdirat(&*job.dst, name, Mode::from_raw_mode(0o700))?;
                let dst = open_ro(&job.dst, name, OFlags::DIRECTORY)?;
                let xattrs = read_xattrs_fd(&src);
                let index = {
                    let mut dirs = sh.dirs.lock();
                    dirs.push(PendingDir { parent: job.index, name: name.to_os_string(), stat: st, xattrs });
                    dirs.len() - 1
                };
                sh.opts.progress.dirs.fetch_add(1, Ordering::Relaxed);
                queue.push(DirJob { src: Arc::new(src), dst: Arc::new(dst), rel, index });
            }
            FileType::RegularFile => copy_file(sh, job, name, &st, &rel)?,
            FileType::Symlink => {
                copy_symlink_at(&job.src, name, &job.dst, name, &st, sh.keep_owner)?;
                sh.opts.progress.files.fetch_add(1, Ordering::Relaxed);
            }
            kind => copy_special_at(&job.dst, name, kind, &st, sh.keep_owner, &rel)?,
        }
    }
    Ok(())
}

fn copy_file(sh: &Shared<'_>, job: &DirJob, name: &OsStr, st: &Stat, rel: &Path) -> io::Result<()> {
    #[allow(clippy::unnecessary_cast)]
    let key = (st.st_dev as u64, st.st_ino as u64);
    if st.st_nlink > 1 {
        let here = (Arc::clone(&job.dst), name.to_os_string());
        let mut links = sh.links.lock();
        if links.contains_key(&key) {
            drop(links);
            sh.late_links.lock().push((key, here));
            return Ok(());
        }
        links.insert(key, here);
    }
    let size = copy_file_at(&job.src, name, &job.dst, name, st, sh.opts.mode, sh.keep_owner, rel)?;
    sh.opts.progress.files.fetch_add(1, Ordering::Relaxed);
    sh.opts.progress.bytes.fetch_add(size, Ordering::Relaxed);
    Ok(())
}

fn chown_at(dir: &OwnedFd, name: &OsStr, st: &Stat) -> io::Result<()> {
    rustix::fs::chownat(
        dir,
        name,
        Some(rustix::fs::Uid::from_raw(st.st_uid)),
        Some(rustix::fs::Gid::from_raw(st.st_gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )?;
    Ok(())
}

/// Copies the regular file `src_dir/src_name` (whose stat is `st`) to a new `dst_dir/dst_name`:
/// data cloned or copied, then xattrs, owner (with `keep_owner`), mode and times. Returns its size.
#[allow(clippy::too_many_arguments)]
pub fn copy_file_at(
    src_dir: &OwnedFd,
    src_name: &OsStr,
    dst_dir: &OwnedFd,
    dst_name: &OsStr,
    st: &Stat,
    mode: DataMode,
    keep_owner: bool,
    rel: &Path,
) -> io::Result<u64> {
    let src = open_ro(src_dir, src_name, OFlags::empty())?;
    #[allow(clippy::unnecessary_cast)]
    let size = st.st_size as u64;
    let dst = super::data::reproduce(&src, dst_dir, dst_name, size, mode, rel)?;
    if !dst.xattrs_copied {
        write_xattrs_fd(&dst.fd, &read_xattrs_fd(&src));
    }
    if keep_owner {
        rustix::fs::fchown(
            &dst.fd,
            Some(rustix::fs::Uid::from_raw(st.st_uid)),
            Some(rustix::fs::Gid::from_raw(st.st_gid)),
        )?;
    }
    rustix::fs::fchmod(&dst.fd, mode_of(st))?;
    rustix::fs::futimens(&dst.fd, &times(st))?;
    Ok(size)
}

/// Copies the symlink `src_dir/src_name` to a new `dst_dir/dst_name`, with owner and times.
pub fn copy_symlink_at(
    src_dir: &OwnedFd,
    src_name: &OsStr,
    dst_dir: &OwnedFd,
    dst_name: &OsStr,
    st: &Stat,
    keep_owner: bool,
) -> io::Result<()> {
    let target = rustix::fs::readlinkat(src_dir, src_name, Vec::new())?;
    rustix::fs::symlinkat(target.as_c_str(), dst_dir, dst_name)?;
    if keep_owner {
        chown_at(dst_dir, dst_name, st)?;
    }
    rustix::fs::utimensat(dst_dir, dst_name, &times(st), AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(())
}

/// Makes a FIFO, socket or (for root) device node like `st` at `dst_dir/name`.
pub fn copy_special_at(
    dst_dir: &OwnedFd,
    name: &OsStr,
    kind: FileType,
    st: &Stat,
    keep_owner: bool,
    rel: &Path,
) -> io::Result<()> {
    #[allow(clippy::unnecessary_cast)]
    match crate::os::fs::mknodat(dst_dir, name, kind, mode_of(st).bits() as u32, st.st_rdev as u64) {
        Ok(()) => {
            if keep_owner {
                chown_at(dst_dir, name, st)?;
            }
            rustix::fs::utimensat(dst_dir, name, &times(st), AtFlags::SYMLINK_NOFOLLOW)?;
            Ok(())
        }
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error()) => {
            tracing::warn!(path = %rel.display(), "device node left out: only root can make one");
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::Unsupported => {
            tracing::warn!(path = %rel.display(), "left out: this OS cannot make such a node by name");
            Ok(())
        }
        Err(e) => Err(e),
    }
}
