//! Settings of a child process made between fork and exec.

use std::process::Command;

/// Has the kernel kill the child made from `cmd` with SIGKILL when the thread that spawns it
/// exits, so a command never outlives an `agentfs run` that was killed.
#[cfg(target_os = "linux")]
pub fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec, where only async-signal-safe
    // calls are allowed; it makes one prctl(2) system call (no allocation, no lock) and returns.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            Ok(())
        });
    }
}

/// macOS has no parent-death signal: the command runs on if `agentfs run` is killed with
/// SIGKILL (its view is unmounted under it by the daemon, which watches `agentfs run`).
#[cfg(target_os = "macos")]
pub fn die_with_parent(_cmd: &mut Command) {}
