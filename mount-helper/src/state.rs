//! The state directory: what must survive a reboot (snapshot records, commit journals).
//!
//! `/var/lib/agentfs` for root, `$XDG_DATA_HOME/agentfs` (or `~/.local/share/agentfs`) for other
//! users. Override with `AGENTFS_STATE_DIR` (tests do).

use std::path::PathBuf;

pub fn state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("AGENTFS_STATE_DIR") {
        return PathBuf::from(d);
    }
    if rustix::process::getuid().is_root() {
        return PathBuf::from("/var/lib/agentfs");
    }
    match std::env::var_os("XDG_DATA_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("agentfs"),
        _ => {
            let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp"));
            home.join(".local/share/agentfs")
        }
    }
}

pub fn snapshots_dir() -> PathBuf {
    state_dir().join("snapshots")
}

pub fn journals_dir() -> PathBuf {
    state_dir().join("commits")
}
