//! Identifying processes across time: a pid plus its start time, so that a pid reused by an
//! unrelated process is never mistaken for a live daemon (each OS's own call, see
//! `agentfs_platform::os::process`).

/// Start time of process `pid` (in the host's own unit), if it exists and is not a zombie.
pub fn start_time(pid: u32) -> Option<u64> {
    agentfs_platform::os::process::start_time(pid)
}

/// Start time of this process.
pub fn own_start_time() -> u64 {
    start_time(std::process::id()).unwrap_or(0)
}

/// Whether the process that had `pid` and started at `start` still runs.
pub fn alive(pid: u32, start: u64) -> bool {
    match start_time(pid) {
        Some(s) => start == 0 || s == start,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_wrong_start_time_is_not() {
        let me = std::process::id();
        let t = own_start_time();
        assert!(t > 0);
        assert!(alive(me, t));
        assert!(!alive(me, t + 1));
        assert!(!alive(u32::MAX - 1, 0));
    }
}
