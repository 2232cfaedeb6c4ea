//! Starting a background daemon and waiting until its mount serves.
//!
//! A caller that lives on (`agentfs run`, the library's `Freeze`) runs `agentfs __serve --detach
//! ...` with its stdout on a pipe. That launcher starts the real daemon (`agentfs __serve ...`,
//! inheriting the pipe), writes `pid N`, and exits at once, so the daemon is never a child of the
//! caller: its exit would leave the caller a zombie, or reach the caller's own handling of its
//! children (a SIGCHLD handler, a wait for any child). A caller that exits once mounted
//! (`agentfs mount`) starts the daemon itself, one process start less (about 2 ms of a 12 ms
//! mount); the daemon is reparented when that caller exits. Either way the
//! daemon leaves the caller's session itself and writes `ok` or `err CODE MESSAGE` (see
//! [`crate::readiness`]).

use crate::daemon::MountConfig;
use crate::error::{Error, Result};
use crate::readiness::{is_report, parse_report, read_report};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{ChildStdout, Command, Stdio};
use std::time::Duration;

#[cfg(windows)]
const DETACHED_PROCESS: u32 = 0x0000_0008;
#[cfg(windows)]
const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;

/// How long a mount may take to come up.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Who waits for the daemon's exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parent {
    /// The caller exits once mounted: the daemon may be its child.
    Caller,
    /// The caller lives on: a launcher starts the daemon and exits.
    Launcher,
}

/// Starts the daemon of `cfg` through the `agentfs` executable `exe`; returns once MNT serves.
/// On failure nothing is left mounted or running.
pub fn start_background(exe: &Path, cfg: &MountConfig, parent: Parent) -> Result<u32> {
    let (pid, early_report, reader) = match parent {
        Parent::Caller => start_daemon(exe, cfg)?,
        Parent::Launcher => start_launcher(exe, cfg)?,
    };
    let report = match early_report {
        Some(line) => parse_report(line.trim_end()),
        None => read_report(reader, READY_TIMEOUT),
    };
    match report {
        Ok(()) => Ok(pid),
        Err(e) => {
            // Whatever state it is in, the daemon must not outlive a failed mount.
            agentfs_platform::os::process::kill(pid);
            if crate::mountinfo::agentfs_at(&cfg.mountpoint) {
                crate::unmount::detach(&cfg.mountpoint);
            }
            crate::registry::remove(&crate::runtime::mount_id(&cfg.mountpoint));
            Err(e)
        }
    }
}

/// The daemon's pid, its report if it came before the pid line, and the pipe it reports on.
type Started = (u32, Option<String>, BufReader<ChildStdout>);

/// Starts the daemon as a child of this process.
fn start_daemon(exe: &Path, cfg: &MountConfig) -> Result<Started> {
    let mut daemon =
        daemon_command(exe, cfg).stdout(Stdio::piped()).spawn().map_err(|e| Error::io("cannot run", exe, &e))?;
    let Some(out) = daemon.stdout.take() else {
        agentfs_platform::os::process::kill(daemon.id());
        return Err(Error::System("the daemon has no stdout pipe".into()));
    };
    Ok((daemon.id(), None, BufReader::new(out)))
}

/// Starts the launcher, which starts the daemon and says its pid.
fn start_launcher(exe: &Path, cfg: &MountConfig) -> Result<Started> {
    let mut launcher = Command::new(exe)
        .arg("__serve")
        .arg("--detach")
        .args(cfg.to_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| Error::io("cannot run", exe, &e))?;
    let Some(out) = launcher.stdout.take() else {
        return Err(Error::System("the launcher has no stdout pipe".into()));
    };
    let mut reader = BufReader::new(out);
    let mut first = String::new();
    let _ = reader.read_line(&mut first);
    // The daemon shares the pipe and may report before the launcher has written its pid line.
    let early_report = is_report(first.trim_end()).then(|| std::mem::take(&mut first));
    if early_report.is_some() {
        let _ = reader.read_line(&mut first);
    }
    let _ = launcher.wait();
    match first.trim().strip_prefix("pid ").and_then(|p| p.parse().ok()) {
        Some(pid) => Ok((pid, early_report, reader)),
        None => Err(Error::System(format!("the daemon could not be started: {}", first.trim()))),
    }
}

/// `agentfs __serve ...` for `cfg`, with no terminal input and no error output of the caller's.
fn daemon_command(exe: &Path, cfg: &MountConfig) -> Command {
    let mut cmd = Command::new(exe);
    cmd.arg("__serve").args(cfg.to_args()).stdin(Stdio::null()).stderr(Stdio::null());
    // Windows: no console of the caller's (its Ctrl-C and closing must not reach the daemon).
    #[cfg(windows)]
    std::os::windows::process::CommandExt::creation_flags(&mut cmd, DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP);
    cmd
}

/// The launcher's side: start the daemon with the same arguments (minus --detach), report its
/// pid on stdout, and return.
pub fn detach(exe: &Path, cfg: &MountConfig) -> Result<()> {
    let child = daemon_command(exe, cfg).stdout(Stdio::inherit()).spawn();
    let mut out = std::io::stdout();
    match child {
        Ok(c) => {
            let _ = writeln!(out, "pid {}", c.id());
            Ok(())
        }
        Err(e) => {
            let _ = writeln!(out, "cannot start {}: {e}", exe.display());
            Err(Error::io("cannot run", exe, &e))
        }
    }
}
