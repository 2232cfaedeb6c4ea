//! Checks of the user's input before anything is mounted.

use crate::error::{Error, Result};
use crate::mountinfo;
use std::fs;
use std::path::{Path, PathBuf};

/// The canonical source and mount point, after checking that SRC is a directory, MNT is an empty
/// directory that is not already an agentfs mount, and neither contains the other.
/// On Windows MNT may also be a free drive letter (`X:`).
pub fn mount_paths(src: &Path, mnt: &Path) -> Result<(PathBuf, PathBuf)> {
    let src_c = canonical_dir(src, "SRC", "give the directory to freeze")?;
    #[cfg(windows)]
    if agentfs_platform::winfsp::is_drive(mnt) {
        return Ok((src_c, free_drive(mnt)?));
    }
    let mnt_c = canonical_dir(mnt, "MNT", "create an empty directory to mount on")?;
    if src_c == mnt_c {
        return Err(Error::Input(format!(
            "SRC and MNT are the same directory ({}); mount on another, empty directory",
            src_c.display()
        )));
    }
    if mnt_c.starts_with(&src_c) {
        return Err(Error::Input(format!(
            "MNT {} is inside SRC {}; mount outside the frozen tree",
            mnt_c.display(),
            src_c.display()
        )));
    }
    if src_c.starts_with(&mnt_c) {
        return Err(Error::Input(format!(
            "SRC {} is inside MNT {}; mount on a directory outside the frozen tree",
            src_c.display(),
            mnt_c.display()
        )));
    }
    if let Some(m) = mountinfo::mount_at(&mnt_c) {
        if mountinfo::is_agentfs(&m) {
            return Err(Error::Input(format!(
                "MNT {} is already an agentfs mount; unmount it first (agentfs unmount {})",
                mnt_c.display(),
                mnt_c.display()
            )));
        }
    }
    let mut entries = fs::read_dir(&mnt_c).map_err(|e| Error::io("cannot read MNT", &mnt_c, &e))?;
    if entries.next().is_some() {
        return Err(Error::Input(format!(
            "MNT {} is not empty; mount on an empty directory so nothing gets hidden",
            mnt_c.display()
        )));
    }
    Ok((src_c, mnt_c))
}

/// SRC, to be mounted over itself (in a private mount namespace, by `agentfs run`).
pub fn mount_over(src: &Path) -> Result<(PathBuf, PathBuf)> {
    let c = canonical_dir(src, "SRC", "give the directory to freeze")?;
    Ok((c.clone(), c))
}

/// A mount point as records name it: canonical (on Windows without the `\\?\` prefix), or an
/// upper-cased drive letter `X:`.
pub fn canonical_mountpoint(p: &Path) -> std::io::Result<PathBuf> {
    #[cfg(windows)]
    if agentfs_platform::winfsp::is_drive(p) {
        return Ok(PathBuf::from(p.as_os_str().to_string_lossy().to_ascii_uppercase()));
    }
    fs::canonicalize(p).map(plain)
}

/// The drive `X:` (upper-cased) if no volume uses it.
#[cfg(windows)]
fn free_drive(mnt: &Path) -> Result<PathBuf> {
    let drive = mnt.as_os_str().to_string_lossy().to_ascii_uppercase();
    if Path::new(&format!("{drive}\\")).exists() {
        return Err(Error::Input(format!("drive {drive} is in use; give a free drive letter or an empty directory")));
    }
    Ok(PathBuf::from(drive))
}

/// A canonical Windows path without the `\\?\` prefix canonicalize adds (WinFsp and people
/// want `C:\...`); other paths as they are.
pub(crate) fn plain(p: PathBuf) -> PathBuf {
    #[cfg(windows)]
    if let Some(rest) = p.to_str().and_then(|s| s.strip_prefix(r"\\?\")) {
        if rest.as_bytes().get(1) == Some(&b':') {
            return PathBuf::from(rest);
        }
    }
    p
}

fn canonical_dir(p: &Path, role: &str, fix: &str) -> Result<PathBuf> {
    let c = match fs::canonicalize(p).map(plain) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Input(format!("{role} {} does not exist; {fix}", p.display())));
        }
        Err(e) => {
            return Err(Error::Input(format!("{role} {} cannot be resolved ({e}); {fix}", p.display())));
        }
    };
    let md =
        fs::metadata(&c).map_err(|e| Error::Input(format!("{role} {} cannot be read ({e}); {fix}", p.display())))?;
    if !md.is_dir() {
        return Err(Error::Input(format!("{role} {} is not a directory; {fix}", p.display())));
    }
    Ok(c)
}

/// Whether a non-root user may ask for allow_other: Linux wants `user_allow_other` in
/// /etc/fuse.conf; elsewhere the driver decides at mount time (and says so if it refuses).
pub fn allow_other_permitted() -> bool {
    #[cfg(target_os = "linux")]
    {
        if rustix::process::geteuid().is_root() {
            return true;
        }
        fs::read_to_string("/etc/fuse.conf")
            .map(|t| t.lines().any(|l| l.split('#').next().unwrap_or("").trim() == "user_allow_other"))
            .unwrap_or(false)
    }
    #[cfg(not(target_os = "linux"))]
    {
        true
    }
}

/// Checks the options that only some frontends have: FUSE passthrough (Linux, root) and options
/// passed to the driver (macFUSE's).
pub fn frontend_options(passthrough: bool, fuse_options: &[String]) -> Result<()> {
    if passthrough && !cfg!(target_os = "linux") {
        return Err(Error::Usage("--passthrough is FUSE passthrough, which only Linux has; mount without it".into()));
    }
    #[cfg(target_os = "linux")]
    if passthrough && !rustix::process::geteuid().is_root() {
        return Err(Error::Permission(
            "--passthrough needs root (the kernel grants FUSE passthrough only with CAP_SYS_ADMIN); mount without it"
                .into(),
        ));
    }
    if !fuse_options.is_empty() && !cfg!(target_os = "macos") {
        return Err(Error::Usage(format!(
            "-o {} is passed to macFUSE, on macOS only; agentfs sets the options of this OS's driver itself",
            fuse_options.join(",")
        )));
    }
    if let Some(bad) = fuse_options.iter().find(|o| o.is_empty() || o.contains(',')) {
        return Err(Error::Usage(format!("bad driver option {bad:?}: give one option per -o")));
    }
    Ok(())
}

/// Checks that WinFsp is installed (its install directory is in the registry).
#[cfg(windows)]
pub fn fuse_available() -> Result<()> {
    agentfs_platform::sys::windows::dll::install_dir().map(|_| ()).map_err(|_| {
        Error::System(
            "WinFsp is not installed; install it from https://winfsp.dev (winget install WinFsp.WinFsp)".into(),
        )
    })
}

/// Checks that the FUSE driver is there at all.
#[cfg(target_os = "linux")]
pub fn fuse_available() -> Result<()> {
    if !Path::new("/dev/fuse").exists() {
        return Err(Error::System(
            "/dev/fuse does not exist; load the fuse kernel module (modprobe fuse) or run where FUSE is available"
                .into(),
        ));
    }
    Ok(())
}

/// Checks that macFUSE is installed (its filesystem bundle; the kernel extension or the FSKit
/// module is loaded by macFUSE at mount time).
#[cfg(target_os = "macos")]
pub fn fuse_available() -> Result<()> {
    let bundles = ["/Library/Filesystems/macfuse.fs", "/Library/Filesystems/osxfuse.fs"];
    if !bundles.iter().any(|b| Path::new(b).exists()) {
        return Err(Error::System(
            "macFUSE is not installed (no /Library/Filesystems/macfuse.fs); install it from https://macfuse.github.io \
             (brew install --cask macfuse) and allow its system extension"
                .into(),
        ));
    }
    Ok(())
}

/// Checks that a mount asking for FUSE over io_uring `on` can have it, before anything is made.
pub fn io_uring(mode: agentfs_platform::io_uring_mode::IoUringMode) -> Result<()> {
    if mode != agentfs_platform::io_uring_mode::IoUringMode::On {
        return Ok(());
    }
    match agentfs_platform::io_uring_mode::io_uring_unavailable() {
        Some(why) => Err(Error::System(format!("--io-uring on: {why}, or mount with --io-uring auto"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_paths_with_one_clear_sentence() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        let mnt = t.path().join("mnt");
        fs::create_dir_all(src.join("inner")).unwrap();
        fs::create_dir(&mnt).unwrap();
        fs::write(t.path().join("file"), b"").unwrap();
        let msg = |r: Result<(PathBuf, PathBuf)>| match r {
            Err(Error::Input(m)) => m,
            other => panic!("expected an input error, got {other:?}"),
        };
        assert!(msg(mount_paths(&t.path().join("nope"), &mnt)).contains("does not exist"));
        assert!(msg(mount_paths(&t.path().join("file"), &mnt)).contains("is not a directory"));
        assert!(msg(mount_paths(&src, &src.join("inner"))).contains("inside SRC"));
        assert!(msg(mount_paths(&src.join("inner"), &src)).contains("inside MNT"));
        assert!(msg(mount_paths(&src, &src)).contains("same directory"));
        fs::write(mnt.join("x"), b"").unwrap();
        assert!(msg(mount_paths(&src, &mnt)).contains("not empty"));
        fs::remove_file(mnt.join("x")).unwrap();
        let (s, m) = mount_paths(&src, &mnt).unwrap();
        assert!(s.is_absolute() && m.is_absolute());
    }
}
