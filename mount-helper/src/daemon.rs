//! The daemon of one mount: builds the engine over the pin, mounts it at MNT, serves until
//! unmounted (by `agentfs unmount`, `umount`, `fusermount3 -u`, or SIGTERM/SIGINT/SIGHUP), then
//! removes every trace of itself: the pin, the registry record and the log.

use crate::error::{Error, Result};
use crate::pin::{self, Pin, PinKind};
use crate::readiness::Readiness;
use crate::registry::{self, MountRecord, MountState};
use crate::runtime::{ensure_private_dir, log_path, logs_dir};
use agentfs_core::{Config, Engine, ROOT_ID};
use agentfs_platform::fuse::{AgentFs, FuseOptions, MountSpec};
use agentfs_platform::lower::DirLower;
use agentfs_platform::mount_options::KernelOptions;
use agentfs_platform::store::MemStore;
use agentfs_platform::sys::signals;
use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a live (unpinned) lower layer may be cached, by the kernel and by the engine.
const LIVE_TTL: Duration = Duration::from_secs(1);
/// Lower files read ahead of a reader walking a directory.
const READ_AHEAD_FILES: usize = 16;

/// Everything a mount needs to know; built by the CLI from checked input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountConfig {
    /// Canonical path of the frozen directory.
    pub source: PathBuf,
    /// Canonical path of the mount point.
    pub mountpoint: PathBuf,
    pub budget_bytes: u64,
    pub allow_other: bool,
    pub read_only: bool,
    /// The pin the engine reads (for live: SRC itself).
    pub pin: Pin,
    /// Open large lower files through FUSE passthrough instead of serving pages from the daemon.
    pub passthrough: bool,
    /// The record's id.
    pub id: String,
    /// Unmount when this process (pid, start time) exits.
    pub exit_with: Option<(u32, u64)>,
    /// The kernel's generic mount options.
    pub kernel: KernelOptions,
    /// The source the mount table shows (default: `source`).
    pub fsname: Option<String>,
}

impl MountConfig {
    /// Arguments of `agentfs __serve` that rebuild this config in the daemon process.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["--size".into(), self.budget_bytes.to_string().into()];
        if self.allow_other {
            a.push("--allow-other".into());
        }
        if self.read_only {
            a.push("--read-only".into());
        }
        if self.passthrough {
            a.push("--passthrough".into());
        }
        let kernel = self.kernel.to_option_string();
        if !kernel.is_empty() {
            a.push("--kernel-options".into());
            a.push(kernel.into());
        }
        if let Some(name) = &self.fsname {
            a.push("--fsname".into());
            a.push(name.into());
        }
        a.push("--id".into());
        a.push(self.id.clone().into());
        if let Some((pid, start)) = self.exit_with {
            a.push("--exit-with".into());
            a.push(format!("{pid}:{start}").into());
        }
        a.push("--pin-record".into());
        a.push(self.pin.to_hex().into());
        a.push("--".into());
        a.push(self.source.clone().into());
        a.push(self.mountpoint.clone().into());
        a
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

/// A mounted, serving daemon.
struct Running {
    id: String,
    session: JoinHandle<std::io::Result<()>>,
    log: Option<PathBuf>,
    pin: Pin,
}

fn threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).max(2)
}

/// Ends the mount (as SIGTERM would) once process `pid` (started at `start`) exits: the mount of
/// an `agentfs run` never outlives it, even when it is killed (also before this is called).
fn watch_owner(pid: u32, start: u64) -> Result<()> {
    let end = move || {
        tracing::info!(pid, "the process that asked for this mount is gone: unmounting");
        let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::TERM);
    };
    let pidfd = rustix::process::Pid::from_raw(pid as i32)
        .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok());
    let Some(pidfd) = pidfd.filter(|_| crate::process::alive(pid, start)) else {
        end();
        return Ok(());
    };
    std::thread::Builder::new()
        .name("owner".into())
        .spawn(move || {
            let mut fds = [rustix::event::PollFd::new(&pidfd, rustix::event::PollFlags::IN)];
            while rustix::event::poll(&mut fds, None).is_err() {}
            end();
        })
        .map_err(|e| Error::System(format!("cannot watch process {pid}: {e}")))?;
    Ok(())
}

/// How the frontend talks to the kernel for this mount.
///
/// Pinned, by default, the kernel opens and closes files without asking (no OPEN, RELEASE or
/// FLUSH round trips) and keeps every page it read or wrote; measured on the workload benchmark
/// this beats passthrough everywhere but cold reads of big files. `--passthrough` trades that for
/// passthrough of large lower files. A live lower layer is opened file by file, so each open
/// can drop pages that changed underneath.
fn fuse_options(cfg: &MountConfig, live: bool) -> FuseOptions {
    let mut opts = if live { FuseOptions::live(LIVE_TTL) } else { FuseOptions::pinned() };
    if cfg.passthrough {
        opts.passthrough = true;
        opts.no_open = false;
    }
    opts
}

fn init_logging(log: Option<&Path>) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AGENTFS_LOG").unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false);
    let r = match log {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| Error::io("cannot open the log file", path, &e))?;
            builder.with_writer(std::sync::Mutex::new(file)).try_init()
        }
        None => builder.with_writer(std::io::stderr).try_init(),
    };
    // Already initialised (a library caller set up its own): keep theirs.
    let _ = r;
    Ok(())
}

/// Runs the daemon of `cfg` until the mount ends. With `readiness`, the process reports the
/// outcome of mounting before serving.
pub fn serve(cfg: &MountConfig, readiness: Readiness) -> Result<()> {
    match start(cfg, &readiness) {
        Ok(running) => {
            readiness.ready(&cfg.mountpoint);
            running.wait();
            Ok(())
        }
        Err(e) => {
            tracing::error!(%e, "mount failed");
            readiness.failed(&e);
            Err(e)
        }
    }
}

fn start(cfg: &MountConfig, readiness: &Readiness) -> Result<Running> {
    let id = cfg.id.clone();
    let log = if readiness.is_background() {
        ensure_private_dir(&logs_dir())?;
        Some(log_path(&id))
    } else {
        None
    };
    init_logging(log.as_deref())?;
    if readiness.is_background() {
        // Out of the caller's session and directory: a terminal's ^C or a busy cwd must not
        // reach the daemon.
        let _ = rustix::process::setsid();
        let _ = rustix::process::chdir("/");
    }
    let live = cfg.pin.kind == PinKind::Live;
    let lower_root = cfg.pin.lower_root();
    tracing::info!(
        source = %cfg.source.display(),
        mountpoint = %cfg.mountpoint.display(),
        pin = cfg.pin.kind.name(),
        lower = %lower_root.display(),
        budget = cfg.budget_bytes,
        "starting"
    );

    let nofile = agentfs_platform::limits::raise_nofile();
    let lower = DirLower::open_hiding(&lower_root, cfg.pin.hidden_names())
        .map_err(|e| Error::io("cannot open the lower layer", &lower_root, &e))?;
    let opts = fuse_options(cfg, live);
    let engine_cfg = Config {
        budget_bytes: cfg.budget_bytes,
        lower_ttl: live.then_some(LIVE_TTL),
        tracks_opens: !opts.no_open,
        // Without OPEN, every first read of a file waits for the daemon: read the next files
        // of its directory ahead (see agentfs_core::engine::prefetch).
        read_ahead_files: if opts.no_open { READ_AHEAD_FILES } else { 0 },
    };
    let engine = Engine::new(Arc::new(lower), Arc::new(MemStore::for_fd_limit(nofile)), engine_cfg)
        .map_err(|e| Error::System(format!("cannot read {}: {e}", lower_root.display())))?;

    // Block termination signals before any thread exists, so only the signal thread gets them.
    let sigs =
        signals::block(&signals::TERMINATION).map_err(|e| Error::System(format!("cannot block signals: {e}")))?;
    let spec = MountSpec {
        mountpoint: &cfg.mountpoint,
        fsname: cfg.fsname.clone().unwrap_or_else(|| cfg.source.to_string_lossy().into_owned()),
        allow_other: cfg.allow_other,
        read_only: cfg.read_only,
        threads: threads(),
        kernel: cfg.kernel.clone(),
    };
    let engine = Arc::new(engine);
    let fs = AgentFs::new(Arc::clone(&engine), opts)
        .map_err(|e| Error::System(format!("cannot start the frontend: {e}")))?;
    let passthrough = fs.passthrough_granted();
    let mut session = agentfs_platform::fuse::mount(fs, &spec).map_err(|e| mount_refused(cfg, &e))?;
    let mut unmounter = session.unmount_callable();
    let session = std::thread::Builder::new()
        .name("fuse-session".into())
        .spawn(move || session.run())
        .map_err(|e| Error::System(format!("cannot start the session thread: {e}")))?;

    let mnt = cfg.mountpoint.clone();
    let mnt_for_signals = mnt.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Ok(sig) = sigs.wait() {
                tracing::info!(sig, "signal received: unmounting");
                if let Err(e) = unmounter.unmount() {
                    tracing::warn!(%e, "unmount refused; detaching lazily");
                    crate::unmount::detach(&mnt_for_signals);
                }
            }
        })
        .map_err(|e| Error::System(format!("cannot start the signal thread: {e}")))?;

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

    let rec = MountRecord {
        id: id.clone(),
        pid: std::process::id(),
        pid_start: crate::process::own_start_time(),
        state: MountState::Mounted,
        uid: rustix::process::getuid().as_raw(),
        source: cfg.source.as_os_str().as_bytes().to_vec(),
        mountpoint: cfg.mountpoint.as_os_str().as_bytes().to_vec(),
        started: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
        budget_bytes: cfg.budget_bytes,
        allow_other: cfg.allow_other,
        read_only: cfg.read_only,
        log: log.as_ref().map(|l| l.as_os_str().as_bytes().to_vec()).unwrap_or_default(),
        pin: cfg.pin.clone(),
        pins_dir: cfg.pin.path().parent().map(|p| p.as_os_str().as_bytes().to_vec()).unwrap_or_default(),
        passthrough: passthrough.load(std::sync::atomic::Ordering::Acquire),
    };
    if let Err(e) = registry::save(&rec) {
        crate::unmount::detach(&mnt);
        let _ = session.join();
        return Err(e);
    }
    // Commands that read the upper layer (diff, snapshot, commit) ask through this socket.
    if let Err(e) = crate::control::server::start(engine, &crate::control::socket_path(&id), rec.uid) {
        tracing::warn!(%e, "no control socket: diff, snapshot and commit will not reach this mount");
    }
    tracing::info!(pid = rec.pid, "serving");
    Ok(Running { id, session, log, pin: cfg.pin.clone() })
}

impl Running {
    /// Serves until the mount ends, then removes the pin, the record and (after a clean end)
    /// the log. If the pin cannot be removed the record stays, so `agentfs gc` can try again.
    fn wait(self) {
        let clean = match self.session.join() {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::error!(%e, "the session ended with an error");
                false
            }
            Err(_) => {
                tracing::error!("the session thread panicked");
                false
            }
        };
        tracing::info!(clean, "unmounted");
        let _ = fs::remove_file(crate::control::socket_path(&self.id));
        if let Err(e) = pin::remove(&self.pin) {
            tracing::error!(%e, "the pin stays for agentfs gc");
            return;
        }
        registry::remove(&self.id);
        if clean {
            if let Some(log) = self.log {
                let _ = fs::remove_file(log);
            }
        }
    }
}
