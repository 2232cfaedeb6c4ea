//! Filesystem calls that differ per OS.

use rustix::fs::FileType;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

/// Makes a FIFO, socket or device node `kind` named `name` in `dir`, with permission bits
/// `perm` and device number `rdev`.
#[cfg(target_os = "linux")]
pub fn mknodat(dir: impl AsFd, name: &OsStr, kind: FileType, perm: u32, rdev: u64) -> io::Result<()> {
    #[allow(clippy::unnecessary_cast)]
    Ok(rustix::fs::mknodat(dir, name, kind, rustix::fs::Mode::from_raw_mode(perm as _), rdev as _)?)
}

/// Makes a FIFO or device node `kind` named `name` in `dir`. macOS cannot make a socket by name
/// (only `bind` makes one).
#[cfg(target_os = "macos")]
pub fn mknodat(dir: impl AsFd, name: &OsStr, kind: FileType, perm: u32, rdev: u64) -> io::Result<()> {
    if kind == FileType::Socket {
        return Err(io::Error::new(io::ErrorKind::Unsupported, "macOS cannot make a socket node by name"));
    }
    crate::sys::macos::node::mknodat(dir.as_fd(), name, kind.as_raw_mode() as u32 | perm, rdev)
}

/// Makes `dst` (an empty regular file open for writing) share the data of `src`: FICLONE on
/// Linux. macOS clones only into a new name (see `tree_copy`), so this is unsupported there
/// and callers copy instead.
#[cfg(target_os = "linux")]
pub fn clone_into(dst: impl AsFd, src: impl AsFd) -> io::Result<()> {
    Ok(rustix::fs::ioctl_ficlone(dst, src)?)
}

/// See the Linux version: macOS clones only into a new name.
#[cfg(target_os = "macos")]
pub fn clone_into(_dst: impl AsFd, _src: impl AsFd) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "macOS clones files only into a new name (clonefile)"))
}

/// Makes the new name `name` in `dst_dir` (which must not exist) a clone of the open regular file
/// `src` (`fclonefileat`: the clone gets the source's data, mode, flags and xattrs, and belongs
/// to the caller). Linux clones into an open file instead: see [`clone_into`].
#[cfg(target_os = "macos")]
pub fn clone_to_name(src: impl AsFd, dst_dir: impl AsFd, name: &OsStr) -> io::Result<()> {
    crate::sys::macos::clone::fclonefileat(src.as_fd(), dst_dir.as_fd(), name, false)
}

/// Writes out what the kernel caches for the filesystem holding `fd`; for a FUSE mount with a
/// writeback cache, that sends every dirty page to the daemon. Linux: syncfs. macOS has no
/// per-filesystem sync: sync(2) writes out every filesystem, this one included.
pub fn sync_filesystem(fd: impl AsFd) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        Ok(rustix::fs::syncfs(fd)?)
    }
    #[cfg(target_os = "macos")]
    {
        rustix::fs::fsync(fd)?;
        rustix::fs::sync();
        Ok(())
    }
}

/// Whether `fd` has the immutable flag that seals snapshots (Linux: FS_IMMUTABLE_FL, chattr +i,
/// which only root may set; macOS: the user immutable flag, uchg, which the owner may set).
pub fn is_immutable(fd: BorrowedFd<'_>) -> io::Result<bool> {
    #[cfg(target_os = "linux")]
    {
        Ok(rustix::fs::ioctl_getflags(fd)?.contains(rustix::fs::IFlags::IMMUTABLE))
    }
    #[cfg(target_os = "macos")]
    {
        Ok(rustix::fs::fstat(fd)?.st_flags & libc::UF_IMMUTABLE != 0)
    }
}

/// Sets or clears the immutable flag of [`is_immutable`].
pub fn set_immutable(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let flags = rustix::fs::ioctl_getflags(fd)?;
        let new = if on { flags | rustix::fs::IFlags::IMMUTABLE } else { flags - rustix::fs::IFlags::IMMUTABLE };
        Ok(rustix::fs::ioctl_setflags(fd, new)?)
    }
    #[cfg(target_os = "macos")]
    {
        let flags = rustix::fs::fstat(fd)?.st_flags;
        crate::sys::macos::flags::set_user_immutable(fd, flags, on)
    }
}

/// The type of the filesystem holding `path`, as the OS names it (`btrfs` ... on Linux from
/// the statfs magic is not a name, so this is macOS's `f_fstypename`: `apfs`, `hfs`, `macfuse`).
#[cfg(target_os = "macos")]
pub fn fs_type_name(path: &std::path::Path) -> io::Result<String> {
    let st = rustix::fs::statfs(path)?;
    Ok(c_chars(&st.f_fstypename))
}

/// Where the filesystem holding `path` is mounted, and what it mounts (macOS `statfs`).
#[cfg(target_os = "macos")]
pub fn mount_of(path: &std::path::Path) -> io::Result<(std::path::PathBuf, String, String)> {
    use std::os::unix::ffi::OsStrExt;
    let st = rustix::fs::statfs(path)?;
    let on: Vec<u8> = st.f_mntonname.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
    Ok((std::path::PathBuf::from(OsStr::from_bytes(&on)), c_chars(&st.f_fstypename), c_chars(&st.f_mntfromname)))
}

#[cfg(target_os = "macos")]
fn c_chars(chars: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = chars.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Whether files in directory `dir` can be cloned (FICLONE on Linux, clonefile on macOS):
/// clones a small probe file once; the error says why not.
pub fn probe_clone(dir: &std::path::Path) -> io::Result<()> {
    use std::io::Write;
    let a = dir.join(format!(".probe-{}-a", std::process::id()));
    let b = dir.join(format!(".probe-{}-b", std::process::id()));
    let result = (|| -> io::Result<()> {
        // FICLONE reads the source: it must be open for reading too.
        let mut fa = std::fs::File::options().read(true).write(true).create_new(true).open(&a)?;
        fa.write_all(&[0x5a; 4096])?;
        fa.sync_all()?;
        #[cfg(target_os = "linux")]
        {
            let fb = std::fs::File::create(&b)?;
            clone_into(&fb, &fa)
        }
        #[cfg(target_os = "macos")]
        {
            let parent = std::fs::File::open(dir)?;
            let name = b.file_name().unwrap_or_default();
            crate::sys::macos::clone::fclonefileat(fa.as_fd(), parent.as_fd(), name, false)
        }
    })();
    let _ = std::fs::remove_file(&a);
    let _ = std::fs::remove_file(&b);
    result
}

/// Permission bits as rustix's `Mode` (whose raw type is 32 bits on Linux, 16 on macOS).
pub fn perm_mode(perm: u16) -> rustix::fs::Mode {
    #[cfg(target_os = "linux")]
    {
        rustix::fs::Mode::from_raw_mode(u32::from(perm))
    }
    #[cfg(not(target_os = "linux"))]
    {
        rustix::fs::Mode::from_raw_mode(perm)
    }
}
