//! The runtime directory: mount records and daemon logs, on a tmpfs so they never outlive a boot.
//!
//! `/run/agentfs` for root, `$XDG_RUNTIME_DIR/agentfs` for other users (or `/tmp/agentfs-UID`
//! when that is unset). Override with `AGENTFS_RUNTIME_DIR` (tests do).

use crate::error::{Error, Result};
use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub fn runtime_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("AGENTFS_RUNTIME_DIR") {
        return PathBuf::from(d);
    }
    let uid = rustix::process::getuid();
    if uid.is_root() {
        return PathBuf::from("/run/agentfs");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("agentfs"),
        _ => PathBuf::from(format!("/tmp/agentfs-{}", uid.as_raw())),
    }
}

/// Creates `dir` (mode 0700) if needed and checks that it belongs to us.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    match fs::DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) => return Err(Error::io("cannot create the runtime directory", dir, &e)),
    }
    let md = fs::symlink_metadata(dir).map_err(|e| Error::io("cannot read the runtime directory", dir, &e))?;
    if !md.is_dir() || md.uid() != rustix::process::getuid().as_raw() {
        return Err(Error::Permission(format!(
            "the runtime directory {} is not a directory owned by you; remove it or set AGENTFS_RUNTIME_DIR",
            dir.display()
        )));
    }
    if md.permissions().mode() & 0o077 != 0 {
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
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
