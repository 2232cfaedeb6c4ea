//! The runtime directory: mount records and daemon logs, where they never outlive a boot if the
//! OS allows.
//!
//! - Linux: `/run/agentfs` for root, `$XDG_RUNTIME_DIR/agentfs` for other users (or
//!   `/tmp/agentfs-UID` when that is unset);
//! - macOS: `/var/run/agentfs` for root, `~/Library/Application Support/agentfs/run` for users
//!   (not the per-user temporary directory, which macOS prunes after three days);
//! - Windows: `%LOCALAPPDATA%\agentfs\run`.
//!
//! Records that outlive a reboot name a process that is gone: `agentfs gc` drops them. Override
//! with `AGENTFS_RUNTIME_DIR` (tests do). Also here: paths as bytes in records, per OS.

use crate::error::{Error, Result};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

/// The uid agentfs records as a mount's owner (0 on Windows, whose records live in the user's
/// own profile).
pub fn current_uid() -> u32 {
    #[cfg(unix)]
    {
        rustix::process::getuid().as_raw()
    }
    #[cfg(windows)]
    {
        0
    }
}

#[cfg(target_os = "macos")]
fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp"))
}

pub fn runtime_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("AGENTFS_RUNTIME_DIR") {
        return PathBuf::from(d);
    }
    default_runtime_dir()
}

#[cfg(target_os = "linux")]
fn default_runtime_dir() -> PathBuf {
    let uid = current_uid();
    if uid == 0 {
        return PathBuf::from("/run/agentfs");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("agentfs"),
        _ => PathBuf::from(format!("/tmp/agentfs-{uid}")),
    }
}

#[cfg(target_os = "macos")]
fn default_runtime_dir() -> PathBuf {
    if current_uid() == 0 {
        return PathBuf::from("/var/run/agentfs");
    }
    home().join("Library/Application Support/agentfs/run")
}

#[cfg(windows)]
fn default_runtime_dir() -> PathBuf {
    local_app_data().join("agentfs").join("run")
}

/// `%LOCALAPPDATA%` (the user's own, never roaming, profile directory).
#[cfg(windows)]
pub fn local_app_data() -> PathBuf {
    std::env::var_os("LOCALAPPDATA").map(PathBuf::from).unwrap_or_else(std::env::temp_dir)
}

/// Creates `dir` (mode 0700) if needed and checks every level of it that is agentfs's (from
/// the runtime or state directory down): a directory, not a symlink, owned by the caller and
/// writable by no one else. Another user who made `/tmp/agentfs-UID` first could otherwise
/// rename what we keep there away, or read it.
#[cfg(unix)]
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    let base = [runtime_dir(), crate::state::state_dir()]
        .into_iter()
        .filter(|b| dir.starts_with(b))
        .max_by_key(|b| b.as_os_str().len())
        .unwrap_or_else(|| dir.to_path_buf());
    if let Some(above) = base.parent() {
        // Above agentfs's own directories: the system's or the user's (/tmp, ~/.local/share).
        fs::create_dir_all(above).map_err(|e| Error::io("cannot create the directory", above, &e))?;
    }
    let below: Vec<&Path> = dir.ancestors().take_while(|a| a.starts_with(&base)).collect();
    for level in below.into_iter().rev() {
        private_level(level)?;
    }
    Ok(())
}

/// Makes `dir` (mode 0700) if it is missing, then checks it is ours alone.
#[cfg(unix)]
fn private_level(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io("cannot create the agentfs directory", dir, &e)),
    }
    let md = fs::symlink_metadata(dir).map_err(|e| Error::io("cannot read the agentfs directory", dir, &e))?;
    if !md.is_dir() || md.uid() != current_uid() {
        let what = if md.file_type().is_symlink() {
            "a symlink".to_string()
        } else if !md.is_dir() {
            "not a directory".to_string()
        } else {
            format!("owned by uid {}", md.uid())
        };
        return Err(Error::Permission(format!(
            "the agentfs directory {} is {what}, not a directory of yours; remove it, or set \
             AGENTFS_RUNTIME_DIR and AGENTFS_STATE_DIR to directories of your own",
            dir.display()
        )));
    }
    if md.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("cannot make private the agentfs directory", dir, &e))?;
    }
    Ok(())
}

/// Creates `dir` if needed. Under `%LOCALAPPDATA%` it inherits the profile's security, which
/// lets in the user, administrators and LocalSystem only.
#[cfg(windows)]
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io("cannot create the runtime directory", dir, &e))?;
    let md = fs::symlink_metadata(dir).map_err(|e| Error::io("cannot read the runtime directory", dir, &e))?;
    if !md.is_dir() {
        return Err(Error::Permission(format!(
            "the runtime directory {} is not a directory; remove it or set AGENTFS_RUNTIME_DIR",
            dir.display()
        )));
    }
    Ok(())
}

/// A short stable id for a mount point (its canonical path).
pub fn mount_id(mountpoint: &Path) -> String {
    let h = blake3::hash(mountpoint.as_os_str().as_encoded_bytes());
    h.to_hex()[..16].to_string()
}

pub fn records_dir() -> PathBuf {
    runtime_dir().join("mounts")
}

pub fn logs_dir() -> PathBuf {
    runtime_dir().join("logs")
}

pub fn log_path(id: &str) -> PathBuf {
    logs_dir().join(format!("{id}.log"))
}

/// A path as the bytes records keep: the OS's own bytes on Unix, UTF-8 on Windows (where a
/// path that is not valid Unicode is kept with replacement characters).
pub fn path_bytes(p: &Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()).to_vec()
    }
    #[cfg(windows)]
    {
        p.to_string_lossy().into_owned().into_bytes()
    }
}

/// The name or path [`path_bytes`] made.
pub fn bytes_os(b: &[u8]) -> OsString {
    #[cfg(unix)]
    {
        <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b).to_os_string()
    }
    #[cfg(windows)]
    {
        OsString::from(String::from_utf8_lossy(b).into_owned())
    }
}

/// The path [`path_bytes`] made.
pub fn bytes_path(b: &[u8]) -> PathBuf {
    PathBuf::from(bytes_os(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_survive_the_trip_through_bytes() {
        for p in ["/a/b c", "relative/x", "/ünï/çødé"] {
            assert_eq!(bytes_path(&path_bytes(Path::new(p))), PathBuf::from(p));
        }
    }
}
