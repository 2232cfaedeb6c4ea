//! Processes across time: a pid plus its start time, so that a pid reused by an unrelated process
//! is never mistaken for a live one; and waiting for a process to exit.

use std::time::{Duration, Instant};

/// Start time of process `pid` (Linux: clock ticks since boot; macOS: microseconds since the
/// epoch), if it exists and is not a zombie. Only ever compared with values of the same host.
#[cfg(target_os = "linux")]
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

/// See the Linux version (`proc_pidinfo` here).
#[cfg(target_os = "macos")]
pub fn start_time(pid: u32) -> Option<u64> {
    crate::sys::macos::proc::bsd_info(pid).filter(|i| !i.zombie).map(|i| i.start_micros)
}

/// See the Linux version (`GetProcessTimes` here: 100 ns units since 1601).
#[cfg(windows)]
pub fn start_time(pid: u32) -> Option<u64> {
    crate::sys::windows::process::start_time(pid)
}

/// Ends process `pid` at once (SIGKILL; TerminateProcess on Windows); best effort.
pub fn kill(pid: u32) {
    #[cfg(unix)]
    if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
    }
    #[cfg(windows)]
    crate::sys::windows::process::terminate(pid);
}

/// Waits until process `pid` exits (or is a zombie); false on timeout. Linux waits on a pidfd,
/// Windows on the process handle; elsewhere, and where those are refused, this polls.
pub fn wait_exit(pid: u32, timeout: Duration) -> bool {
    #[cfg(windows)]
    if let Some(exited) = crate::sys::windows::process::wait_exit(pid, timeout) {
        return exited;
    }
    #[cfg(target_os = "linux")]
    if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
        if let Ok(fd) = rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()) {
            let ts =
                rustix::time::Timespec { tv_sec: timeout.as_secs() as i64, tv_nsec: timeout.subsec_nanos() as i64 };
            let mut fds = [rustix::event::PollFd::new(&fd, rustix::event::PollFlags::IN)];
            return matches!(rustix::event::poll(&mut fds, Some(&ts)), Ok(n) if n > 0);
        }
    }
    let deadline = Instant::now() + timeout;
    loop {
        if start_time(pid).is_none() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Calls `then` on a new thread once the process `pid` that started at `start` is gone (at once
/// if it is gone already).
pub fn on_exit(pid: u32, start: u64, then: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    let same = move || start_time(pid).is_some_and(|s| start == 0 || s == start);
    std::thread::Builder::new().name("owner".into()).spawn(move || {
        while same() && !wait_exit(pid, Duration::from_secs(3600)) {}
        then();
    })?;
    Ok(())
}
