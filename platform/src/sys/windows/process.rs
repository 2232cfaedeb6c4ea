//! Processes: start times, waiting for exit, ending them.

use std::time::Duration;
use windows::Win32::Foundation::{CloseHandle, FILETIME, HANDLE, WAIT_OBJECT_0, WAIT_TIMEOUT};
use windows::Win32::System::Threading::{
    GetExitCodeProcess, GetProcessTimes, OpenProcess, PROCESS_ACCESS_RIGHTS, PROCESS_QUERY_LIMITED_INFORMATION,
    PROCESS_SYNCHRONIZE, PROCESS_TERMINATE, TerminateProcess, WaitForSingleObject,
};

/// GetExitCodeProcess's answer for a process that still runs.
const STILL_ACTIVE: u32 = 259;

/// An open process handle, closed when dropped.
struct Process(HANDLE);

impl Process {
    fn open(pid: u32, access: PROCESS_ACCESS_RIGHTS) -> Option<Process> {
        // SAFETY: OpenProcess takes no pointers; a failure is an error, not a handle.
        unsafe { OpenProcess(access, false, pid) }.ok().map(Process)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // SAFETY: the handle came from OpenProcess and is closed once, here.
        let _ = unsafe { CloseHandle(self.0) };
    }
}

/// The creation time of process `pid` (100 ns units since 1601) if it still runs.
pub fn start_time(pid: u32) -> Option<u64> {
    let p = Process::open(pid, PROCESS_QUERY_LIMITED_INFORMATION)?;
    let mut code = 0u32;
    // SAFETY: the handle is open; `code` is a valid place for the exit code.
    unsafe { GetExitCodeProcess(p.0, &mut code) }.ok()?;
    if code != STILL_ACTIVE {
        return None;
    }
    let (mut created, mut exited, mut kernel, mut user) =
        (FILETIME::default(), FILETIME::default(), FILETIME::default(), FILETIME::default());
    // SAFETY: the handle is open; the four FILETIMEs are valid places for the call's results.
    unsafe { GetProcessTimes(p.0, &mut created, &mut exited, &mut kernel, &mut user) }.ok()?;
    Some((u64::from(created.dwHighDateTime) << 32) | u64::from(created.dwLowDateTime))
}

/// Waits until process `pid` exits: Some(true) once gone, Some(false) on timeout, None if it
/// cannot be watched.
pub fn wait_exit(pid: u32, timeout: Duration) -> Option<bool> {
    let Some(p) = Process::open(pid, PROCESS_SYNCHRONIZE) else {
        return Some(start_time(pid).is_none());
    };
    let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX - 1);
    // SAFETY: the handle is open for the call.
    let r = unsafe { WaitForSingleObject(p.0, ms) };
    if r == WAIT_OBJECT_0 {
        Some(true)
    } else if r == WAIT_TIMEOUT {
        Some(false)
    } else {
        None
    }
}

/// Ends process `pid` at once; best effort.
pub fn terminate(pid: u32) {
    if let Some(p) = Process::open(pid, PROCESS_TERMINATE) {
        // SAFETY: the handle is open for the call.
        let _ = unsafe { TerminateProcess(p.0, 1) };
    }
}
