//! Who sent a request, beyond the uid and gid FUSE passes: the supplementary groups, which
//! decide whether a write or chown may keep a set-group-id bit (Linux's in_group_p).
//!
//! Each OS answers with its own call: Linux through /proc/PID/status, macOS through
//! `proc_pidinfo` (the process's effective uid) and `getgrouplist` (that user's groups).

/// Whether process `pid` (whose filesystem gid is `fsgid`) is a member of group `gid`.
pub fn in_group(pid: u32, fsgid: u32, gid: u32) -> bool {
    fsgid == gid || supplementary_groups(pid).contains(&gid)
}

/// The "Groups:" line of /proc/PID/status; empty if the process is gone.
#[cfg(target_os = "linux")]
fn supplementary_groups(pid: u32) -> Vec<u32> {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return Vec::new();
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .map(|g| g.split_whitespace().filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_default()
}

/// The groups of the user process `pid` runs as; empty if the process is gone.
#[cfg(target_os = "macos")]
fn supplementary_groups(pid: u32) -> Vec<u32> {
    match crate::sys::macos::proc::bsd_info(pid) {
        Some(info) => crate::sys::macos::groups::user_groups(info.uid, info.gid),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_in_its_own_groups() {
        let me = std::process::id();
        let gid = rustix::process::getgid().as_raw();
        assert!(in_group(me, gid, gid));
        for g in supplementary_groups(me) {
            assert!(in_group(me, u32::MAX - 1, g));
        }
        assert!(!in_group(me, gid, u32::MAX - 1));
    }
}
