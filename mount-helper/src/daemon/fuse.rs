//! The FUSE daemon (Linux; macOS through macFUSE): mounted by fuser, ended by `agentfs unmount`,
//! `umount`, `fusermount3 -u`, or SIGTERM/SIGINT/SIGHUP.

use super::{LIVE_TTL, MountConfig, Running, Serving, engine, record, start_logging};
use crate::error::{Error, Result};
use crate::pin::PinKind;
use crate::readiness::Readiness;
use crate::registry;
use agentfs_core::ROOT_ID;
use agentfs_platform::fuse::{AgentFs, FuseOptions, MountSpec, Transport};
use agentfs_platform::sys::signals;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Request-serving threads: one per CPU on Linux (each with its own /dev/fuse descriptor);
/// fuser serves a macOS mount with one.
fn threads() -> usize {
    if cfg!(target_os = "linux") {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).max(2)
    } else {
        1
    }
}

/// Ends the mount (as SIGTERM would) once process `pid` (started at `start`) exits: the mount of
/// an `agentfs run` never outlives it, even when it is killed (also before this is called).
fn watch_owner(pid: u32, start: u64) -> Result<()> {
    agentfs_platform::os::process::on_exit(pid, start, move || {
        tracing::info!(pid, "the process that asked for this mount is gone: unmounting");
        let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::TERM);
    })
    .map_err(|e| Error::System(format!("cannot watch process {pid}: {e}")))
}

/// How the frontend talks to the kernel for this mount.
///
/// Pinned, by default, the kernel opens and closes files without asking (no OPEN, RELEASE or
/// FLUSH round trips) and keeps every page it read or wrote. `--passthrough` trades that for
/// passthrough of large lower files and of upper files (lent to the kernel); it was faster in
/// total on the workload benchmark of 2026-12-07 (1.68x overlayfs against 1.87x) but needs root,
/// costs an OPEN and a RELEASE per open, and refuses freezes while lent files are open for
/// writing, so it is not the default. A live lower layer is opened file by file, so each open
/// can drop pages that changed underneath.
fn fuse_options(cfg: &MountConfig, live: bool) -> FuseOptions {
    let mut opts = if live { FuseOptions::live(LIVE_TTL) } else { FuseOptions::pinned() };
    if cfg.passthrough {
        opts.passthrough = true;
        opts.no_open = false;
    }
    opts.io_uring = cfg.io_uring;
    opts
}

/// Mounts through fuser: on Linux with the frontend's own options, on macOS with macFUSE's and
/// the user's (`-o`).
fn mount(
    fs: AgentFs,
    spec: &MountSpec<'_>,
    cfg: &MountConfig,
) -> std::io::Result<(fuser::Session<agentfs_platform::fuse::Classic>, Transport)> {
    #[cfg(target_os = "macos")]
    {
        agentfs_platform::fuse::host::macfuse::mount(fs, spec, &cfg.fuse_options)
    }
    #[cfg(not(target_os = "macos"))]
    {
        let _ = cfg;
        agentfs_platform::fuse::mount(fs, spec)
    }
}

/// The kernel (or fusermount3) refused the mount: say so, and what to check.
fn mount_refused(cfg: &MountConfig, e: &std::io::Error) -> Error {
    let hint = if e.to_string().contains("fusermount3: unknown option") {
        "; as a user agentfs mounts through fusermount3, which may not know every kernel option (3.14 takes \
         ro, rw, nosuid, nodev, noexec, sync, async, atime, noatime, dirsync): leave the option out or mount as root"
            .to_string()
    } else if cfg.kernel.security.is_empty() {
        String::new()
    } else {
        format!(
            "; {} needs a security module (such as SELinux) that takes it: leave it out where none is enabled",
            cfg.kernel.security.join(",")
        )
    };
    Error::System(format!("cannot mount at {}: {e}{hint}", cfg.mountpoint.display()))
}

/// How the session ended. After `umount -l` the kernel tears the connection down at the
/// last close, and the session's read sees ECONNABORTED instead of ENODEV when the teardown
/// aborts the requests in flight: with the mount gone, that is the same clean end. An abort
/// through /sys/fs/fuse/connections leaves the mount in place and stays an error.
fn session_end(r: std::io::Result<()>, mnt: &Path) -> std::io::Result<()> {
    match r {
        Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) && crate::mountinfo::mount_at(mnt).is_none() => {
            tracing::info!("the kernel ended the connection after the mount was detached");
            Ok(())
        }
        r => r,
    }
}

/// Unmounts when one of the termination signals arrives.
fn on_signals(sigs: signals::SignalSet, mut unmounter: fuser::SessionUnmounter, mnt: &Path) -> Result<()> {
    let mnt = mnt.to_path_buf();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Ok(sig) = sigs.wait() {
                tracing::info!(sig, "signal received: unmounting");
                if let Err(e) = unmounter.unmount() {
                    tracing::warn!(%e, "unmount refused; detaching");
                    crate::unmount::detach(&mnt);
                }
            }
        })
        .map(|_| ())
        .map_err(|e| Error::System(format!("cannot start the signal thread: {e}")))
}

pub(super) fn start(cfg: &MountConfig, readiness: &Readiness) -> Result<Running> {
    // Block termination signals before any thread exists (the engine starts its read-ahead
    // thread), so that only the signal thread gets them: a signal taken by any other thread
    // would kill the daemon and leave its mount behind.
    let sigs =
        signals::block(&signals::TERMINATION).map_err(|e| Error::System(format!("cannot block signals: {e}")))?;
    let log = start_logging(cfg, readiness)?;
    if readiness.is_background() {
        // Out of the caller's session and directory: a terminal's ^C or a busy cwd must not
        // reach the daemon.
        let _ = rustix::process::setsid();
        let _ = rustix::process::chdir("/");
    }
    let opts = fuse_options(cfg, cfg.pin.kind == PinKind::Live);
    let engine = engine(cfg, !opts.no_open)?;
    let spec = MountSpec {
        mountpoint: &cfg.mountpoint,
        fsname: crate::mountinfo::fsname(cfg.fsname.as_ref().map_or(cfg.source.as_path(), Path::new)),
        allow_other: cfg.allow_other,
        read_only: cfg.read_only,
        threads: threads(),
        kernel: cfg.kernel.clone(),
    };
    let fs = AgentFs::new(std::sync::Arc::clone(&engine), opts)
        .map_err(|e| Error::System(format!("cannot start the frontend: {e}")))?;
    let passthrough = fs.passthrough_granted();
    let request_counts = fs.request_counter();
    let (mut session, transport) = mount(fs, &spec, cfg).map_err(|e| mount_refused(cfg, &e))?;
    let unmounter = session.unmount_callable();
    let session_mnt = cfg.mountpoint.clone();
    let session = std::thread::Builder::new()
        .name("fuse-session".into())
        .spawn(move || session_end(session.run(), &session_mnt))
        .map_err(|e| Error::System(format!("cannot start the session thread: {e}")))?;
    let mnt = cfg.mountpoint.clone();
    on_signals(sigs, unmounter, &mnt)?;
    if let Some((pid, start)) = cfg.exit_with {
        watch_owner(pid, start)?;
    }

    // The mount serves when its root answers with our root's inode number.
    match fs::metadata(&mnt) {
        Ok(md) if md.ino() == ROOT_ID => {}
        other => {
            crate::unmount::detach(&mnt);
            let _ = session.join();
            return Err(Error::System(format!("the mount at {} does not answer ({other:?})", mnt.display())));
        }
    }
    let serving = Serving {
        passthrough: passthrough.load(std::sync::atomic::Ordering::Acquire),
        transport: transport.name(),
        transport_reason: transport.reason(),
    };
    let rec = record(cfg, log.as_deref(), serving);
    if let Err(e) = registry::save(&rec) {
        crate::unmount::detach(&mnt);
        let _ = session.join();
        return Err(e);
    }
    // Commands that read the upper layer (diff, snapshot, commit) ask through this socket.
    let hooks = crate::control::server::Hooks { on_unmount: None, request_counts: Some(request_counts) };
    if let Err(e) = crate::control::server::start(engine, &cfg.id, rec.uid, hooks) {
        tracing::warn!(%e, "no control socket: diff, snapshot and commit will not reach this mount");
    }
    tracing::info!(pid = rec.pid, "serving");
    Ok(Running { id: cfg.id.clone(), session, transport, log, pin: cfg.pin.clone() })
}
