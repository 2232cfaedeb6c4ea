//! The daemon of one mount: builds the engine over the pin, mounts it at MNT, serves until
//! unmounted, then removes every trace of itself: the pin, the registry record and the log.
//!
//! What is the same on every OS is here; the frontend and the OS's ways of ending a mount are
//! in [`fuse`] (Linux, macOS) and `winfsp` (Windows).

#[cfg(unix)]
mod fuse;
#[cfg(windows)]
mod winfsp;

use crate::error::{Error, Result};
use crate::pin::{self, Pin, PinKind};
use crate::readiness::Readiness;
use crate::registry::{self, MountRecord, MountState};
use crate::runtime::{ensure_private_dir, log_path, logs_dir, path_bytes};
use agentfs_core::{Config, Engine};
use agentfs_platform::mount_options::KernelOptions;
use std::ffi::OsString;
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
    /// Canonical path of the mount point (on Windows: a drive letter `X:` or a directory).
    pub mountpoint: PathBuf,
    pub budget_bytes: u64,
    pub allow_other: bool,
    pub read_only: bool,
    /// The pin the engine reads (for live: SRC itself).
    pub pin: Pin,
    /// Open large lower files through FUSE passthrough instead of serving pages from the daemon.
    pub passthrough: bool,
    /// Options for the FUSE driver, passed as they are (macFUSE's, such as `backend=fskit`).
    pub fuse_options: Vec<String>,
    /// Whether requests may come through FUSE over io_uring.
    pub io_uring: agentfs_platform::io_uring_mode::IoUringMode,
    /// The record's id.
    pub id: String,
    /// Unmount when this process (pid, start time) exits.
    pub exit_with: Option<(u32, u64)>,
    /// The kernel's generic mount options (nosuid, noexec, noatime, ...).
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
        for o in &self.fuse_options {
            a.push("--fuse-option".into());
            a.push(o.into());
        }
        a.push("--io-uring".into());
        a.push(self.io_uring.name().into());
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

/// A mounted, serving daemon.
struct Running {
    id: String,
    /// Ends when the mount has ended.
    session: JoinHandle<std::io::Result<()>>,
    /// The io_uring queues beside the session, if any: joined after it.
    #[cfg(unix)]
    transport: agentfs_platform::fuse::Transport,
    log: Option<PathBuf>,
    pin: Pin,
}

/// Logs to the capped file `log` (or stderr), at the level AGENTFS_LOG says (info), with each
/// place in the code rate-limited (see [`crate::logging`]).
fn init_logging(log: Option<&Path>) -> Result<()> {
    use tracing_subscriber::filter::FilterExt;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer, fmt};
    let level = || EnvFilter::try_from_env("AGENTFS_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let filter = || level().and(crate::logging::RateLimit::default());
    let r = match log {
        Some(path) => {
            let file =
                crate::logging::CappedFile::open(path).map_err(|e| Error::io("cannot open the log file", path, &e))?;
            let layer = fmt::layer().with_ansi(false).with_writer(std::sync::Mutex::new(file)).with_filter(filter());
            tracing_subscriber::registry().with(layer).try_init()
        }
        None => {
            let layer = fmt::layer().with_ansi(false).with_writer(std::io::stderr).with_filter(filter());
            tracing_subscriber::registry().with(layer).try_init()
        }
    };
    // Already initialised (a library caller set up its own): keep theirs.
    let _ = r;
    Ok(())
}

/// Where the daemon logs: a file in the runtime directory in the background, stderr in the
/// foreground.
fn start_logging(cfg: &MountConfig, readiness: &Readiness) -> Result<Option<PathBuf>> {
    let log = if readiness.is_background() {
        ensure_private_dir(&logs_dir())?;
        Some(log_path(&cfg.id))
    } else {
        None
    };
    init_logging(log.as_deref())?;
    tracing::info!(
        source = %cfg.source.display(),
        mountpoint = %cfg.mountpoint.display(),
        pin = cfg.pin.kind.name(),
        lower = %cfg.pin.lower_root().display(),
        budget = cfg.budget_bytes,
        "starting"
    );
    Ok(log)
}

/// When reads update access times: the kernel leaves that to a FUSE daemon, so the daemon
/// follows the mount's options (`noatime`, `relatime`, `strictatime`; never on a read-only
/// mount). Fixed at mount: a remount changes the kernel's flags, not this.
fn atime_policy(cfg: &MountConfig) -> agentfs_core::AtimePolicy {
    use agentfs_core::AtimePolicy;
    use agentfs_platform::mount_options::Atime;
    match cfg.kernel.atime {
        _ if cfg.read_only => AtimePolicy::Never,
        Atime::Never => AtimePolicy::Never,
        Atime::Relatime => AtimePolicy::Relative,
        Atime::Strict => AtimePolicy::Always,
    }
}

/// The engine over the pin of `cfg`. `tracks_opens`: the frontend opens and releases every file
/// it reads or writes.
fn engine(cfg: &MountConfig, tracks_opens: bool) -> Result<Arc<Engine>> {
    let live = cfg.pin.kind == PinKind::Live;
    let lower_root = cfg.pin.lower_root();
    let nofile = agentfs_platform::limits::raise_nofile();
    let lower = agentfs_platform::lower::open_for_daemon(&lower_root, cfg.pin.hidden_names(), crate::owned::names())
        .map_err(|e| Error::io("cannot open the lower layer", &lower_root, &e))?;
    let engine_cfg = Config {
        budget_bytes: cfg.budget_bytes,
        lower_ttl: live.then_some(LIVE_TTL),
        tracks_opens,
        // Without opens, every first read of a file waits for the daemon: read the next files
        // of its directory ahead (see agentfs_core::engine::prefetch).
        read_ahead_files: if tracks_opens { 0 } else { READ_AHEAD_FILES },
        atime: atime_policy(cfg),
        dir_atime: !cfg.kernel.nodiratime,
    };
    // With passthrough, upper files are lent to the kernel too, in a tmpfs the budget's size.
    let lend_budget = (cfg.passthrough && !cfg.read_only).then_some(cfg.budget_bytes);
    let engine = Engine::new(lower, agentfs_platform::store::for_daemon(nofile, lend_budget), engine_cfg)
        .map_err(|e| Error::System(format!("cannot read {}: {e}", lower_root.display())))?;
    let engine = Arc::new(engine);
    if let Err(e) = crate::trim::start(Arc::downgrade(&engine)) {
        tracing::warn!(%e, "memory freed by the engine will not be given back to the system");
    }
    Ok(engine)
}

/// How a daemon serves: whether the kernel granted passthrough, and the transport with why.
struct Serving<'a> {
    passthrough: bool,
    transport: &'a str,
    transport_reason: &'a str,
}

/// The registry record of the serving daemon of `cfg`.
fn record(cfg: &MountConfig, log: Option<&Path>, serving: Serving<'_>) -> MountRecord {
    MountRecord {
        id: cfg.id.clone(),
        pid: std::process::id(),
        pid_start: crate::process::own_start_time(),
        state: MountState::Mounted,
        uid: crate::runtime::current_uid(),
        source: path_bytes(&cfg.source),
        mountpoint: path_bytes(&cfg.mountpoint),
        started: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
        budget_bytes: cfg.budget_bytes,
        allow_other: cfg.allow_other,
        read_only: cfg.read_only,
        log: log.map(path_bytes).unwrap_or_default(),
        pin: cfg.pin.clone(),
        pins_dir: cfg.pin.path().parent().map(path_bytes).unwrap_or_default(),
        passthrough: serving.passthrough,
        transport: serving.transport.into(),
        transport_reason: serving.transport_reason.into(),
    }
}

/// Runs the daemon of `cfg` until the mount ends. With `readiness`, the process reports the
/// outcome of mounting before serving.
pub fn serve(cfg: &MountConfig, readiness: Readiness) -> Result<()> {
    #[cfg(unix)]
    let started = fuse::start(cfg, &readiness);
    #[cfg(windows)]
    let started = winfsp::start(cfg, &readiness);
    match started {
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
        #[cfg(unix)]
        self.transport.join();
        tracing::info!(clean, "unmounted");
        crate::control::remove_endpoint(&self.id);
        if let Err(e) = pin::remove(&self.pin) {
            tracing::error!(%e, "the pin stays for agentfs gc");
            return;
        }
        registry::remove(&self.id);
        if clean {
            if let Some(log) = self.log {
                crate::logging::remove(&log);
            }
        }
    }
}
