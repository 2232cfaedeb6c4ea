//! The state directory: what must survive a reboot (snapshot records, commit journals).
//!
//! - Linux: `/var/lib/agentfs` for root, `$XDG_DATA_HOME/agentfs` (or `~/.local/share/agentfs`)
//!   for other users;
//! - macOS: `/var/db/agentfs` for root, `~/Library/Application Support/agentfs` for users;
//! - Windows: `%LOCALAPPDATA%\agentfs`.
//!
//! Override with `AGENTFS_STATE_DIR` (tests do).

use std::path::PathBuf;

pub fn state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("AGENTFS_STATE_DIR") {
        return PathBuf::from(d);
    }
    default_state_dir()
}

#[cfg(unix)]
fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp"))
}

#[cfg(target_os = "linux")]
fn default_state_dir() -> PathBuf {
    if crate::runtime::current_uid() == 0 {
        return PathBuf::from("/var/lib/agentfs");
    }
    match std::env::var_os("XDG_DATA_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("agentfs"),
        _ => home().join(".local/share/agentfs"),
    }
}

#[cfg(target_os = "macos")]
fn default_state_dir() -> PathBuf {
    if crate::runtime::current_uid() == 0 {
        return PathBuf::from("/var/db/agentfs");
    }
    home().join("Library/Application Support/agentfs")
}

#[cfg(windows)]
fn default_state_dir() -> PathBuf {
    crate::runtime::local_app_data().join("agentfs")
}

pub fn snapshots_dir() -> PathBuf {
    state_dir().join("snapshots")
}

pub fn journals_dir() -> PathBuf {
    state_dir().join("commits")
}
