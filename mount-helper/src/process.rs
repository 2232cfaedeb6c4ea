//! Identifying processes across time: a pid plus its start time, so that a pid reused by an
//! unrelated process is never mistaken for a live daemon.

/// Start time of process `pid` (clock ticks since boot), if it exists and is not a zombie.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = rest.split(' ').collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    // Field 22 of /proc/PID/stat is the start time; `rest` starts at field 3.
    fields.get(19)?.parse().ok()
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
