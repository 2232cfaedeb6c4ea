//! `agentfs mount` as a library call: check the input, recover crashed mounts, pin SRC, start
//! the daemon, and return once MNT serves. On failure nothing is left: no pin, no record, no
//! mount, no daemon.

use crate::daemon::{self, MountConfig};
use crate::error::{Error, Result};
use crate::launch::Parent;
use crate::pin::{self, Pin, PinKind, PinRequest, Plan};
use crate::readiness::Readiness;
use crate::registry::{self, MountRecord, MountState};
use crate::runtime::mount_id;
use crate::runtime::path_bytes;
use crate::{check, gc, launch, process};
use agentfs_platform::clone_tree::Progress;
use agentfs_platform::io_uring_mode::IoUringMode;
use agentfs_platform::mount_options::KernelOptions;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What to mount and how.
#[derive(Clone, Debug)]
pub struct MountRequest {
    pub src: PathBuf,
    pub mnt: PathBuf,
    pub pin: PinRequest,
    pub budget_bytes: u64,
    pub allow_other: bool,
    pub read_only: bool,
    /// Serve in this process until unmounted (logging to stderr).
    pub foreground: bool,
    /// No progress bar, no notices.
    pub quiet: bool,
    /// Open large lower files through FUSE passthrough (root only).
    pub passthrough: bool,
    /// Options for the FUSE driver, passed as they are (macOS: macFUSE's, e.g. `backend=fskit`).
    pub fuse_options: Vec<String>,
    /// Whether requests may come through FUSE over io_uring.
    pub io_uring: IoUringMode,
    /// Mount over SRC itself (`agentfs run`, in a private mount namespace).
    pub over_source: bool,
    /// The record's id (default: derived from the mount point).
    pub id: Option<String>,
    /// The daemon unmounts when this process exits (`agentfs run`).
    pub exit_with: Option<u32>,
    /// The kernel's generic mount options (nosuid, noexec, noatime, sync, context=...).
    pub kernel: KernelOptions,
    /// What the mount table shows as the source (default: SRC).
    pub fsname: Option<String>,
    /// Who the daemon's parent is while this process lives.
    pub parent: Parent,
}

impl MountRequest {
    /// A request with the defaults: auto pin, 4 GiB, private, read-write, in the background.
    pub fn new(src: PathBuf, mnt: PathBuf) -> MountRequest {
        MountRequest {
            src,
            mnt,
            pin: PinRequest::Auto,
            budget_bytes: 4 << 30,
            allow_other: false,
            read_only: false,
            foreground: false,
            quiet: true,
            passthrough: false,
            fuse_options: Vec::new(),
            io_uring: IoUringMode::Auto,
            over_source: false,
            id: None,
            exit_with: None,
            kernel: KernelOptions::default(),
            fsname: None,
            parent: Parent::Launcher,
        }
    }
}

/// A mount that serves.
#[derive(Clone, Debug)]
pub struct Mounted {
    pub mountpoint: PathBuf,
    pub pin_kind: PinKind,
    /// The daemon's pid (this process's in the foreground).
    pub pid: u32,
}

fn notice(quiet: bool, msg: &str) {
    if !quiet {
        eprintln!("agentfs: {msg}");
    }
}

/// A snapshot to mount as a branch (`agentfs mount @NAME MNT`).
struct Branch {
    name: String,
    /// What the snapshot is kept in, and the tree the engine reads.
    container: PathBuf,
    root: PathBuf,
}

/// The snapshot `src` names, if it is `@NAME`.
#[cfg(unix)]
fn branch_of(src: &Path, req: PinRequest) -> Result<Option<Branch>> {
    let Some(name) = src.to_str().and_then(|s| s.strip_prefix('@')) else {
        return Ok(None);
    };
    let snap = crate::snapshot::record::load(name)?.filter(|s| s.complete()).ok_or_else(|| {
        Error::Input(format!(
            "there is no snapshot named {name}; `agentfs snapshots` lists them (a directory whose name starts with '@' is written ./@{name})"
        ))
    })?;
    if req != PinRequest::Auto {
        return Err(Error::Input(format!("@{name} is a snapshot and needs no pin; drop --pin")));
    }
    Ok(Some(Branch { name: snap.name.clone(), container: snap.container_path(), root: snap.root_path() }))
}

/// Windows has no snapshots, so no branches: `@NAME` is a directory's name.
#[cfg(windows)]
fn branch_of(_src: &Path, _req: PinRequest) -> Result<Option<Branch>> {
    Ok(None)
}

/// Mounts. `exe` is the agentfs executable that runs the daemon in the background.
pub fn mount(req: &MountRequest, exe: &Path) -> Result<Mounted> {
    check::fuse_available()?;
    #[cfg(unix)]
    if !rustix::process::geteuid().is_root() && (req.kernel.suid || req.kernel.dev) {
        return Err(Error::Permission(
            "the mount options suid and dev need root (set-id programs and device nodes on a user's mount would \
             reach beyond the user's rights); mount without them"
                .into(),
        ));
    }
    let branch = branch_of(&req.src, req.pin)?;
    let src = branch.as_ref().map_or_else(|| req.src.clone(), |b| b.root.clone());
    let (source, mountpoint) =
        if req.over_source { check::mount_over(&src)? } else { check::mount_paths(&src, &req.mnt)? };
    if req.allow_other && !check::allow_other_permitted() {
        return Err(Error::Permission(
            "--allow-other needs `user_allow_other` in /etc/fuse.conf; add it (as root) or mount without --allow-other"
                .into(),
        ));
    }
    check::frontend_options(req.passthrough, &req.fuse_options)?;
    check::io_uring(req.io_uring)?;
    for r in gc::collect() {
        let what = r.pin.as_ref().map(|p| format!(", removed its pin {}", p.display())).unwrap_or_default();
        notice(req.quiet, &format!("recovered the dead mount at {}{what}", r.mountpoint.display()));
    }

    let id = req.id.clone().unwrap_or_else(|| mount_id(&mountpoint));
    let plan = Plan::new(&source, &id, req.pin);
    let mut record = MountRecord {
        id: id.clone(),
        pid: std::process::id(),
        pid_start: process::own_start_time(),
        state: MountState::Pinning,
        uid: crate::runtime::current_uid(),
        source: match &branch {
            Some(s) => format!("@{}", s.name).into_bytes(),
            None => path_bytes(&source),
        },
        mountpoint: path_bytes(&mountpoint),
        started: now(),
        budget_bytes: req.budget_bytes,
        allow_other: req.allow_other,
        read_only: req.read_only,
        log: Vec::new(),
        pin: pin::Pin::pending(),
        pins_dir: plan.pins_dir.as_deref().map(path_bytes).unwrap_or_default(),
        passthrough: false,
        transport: String::new(),
        transport_reason: String::new(),
    };
    // The record comes first: if this process dies while pinning, `gc` finds what it made.
    registry::save(&record)?;
    let progress = Arc::new(Progress::default());
    let created = {
        match &branch {
            // A snapshot is read-only already: it is the pin.
            Some(b) => Ok((Pin::branch(&b.container, &b.root), None)),
            None => {
                let _bar =
                    pin::progress::start(Arc::clone(&progress), req.quiet, format!("pinning {}", source.display()));
                pin::create(&plan, req.pin, &progress)
            }
        }
    };
    let (pin, fallback) = match created {
        Ok(p) => p,
        Err(e) => {
            plan.tidy();
            registry::remove(&id);
            return Err(e);
        }
    };
    if pin.kind == PinKind::Live {
        plan.tidy();
    }
    if let Some(pin::Fallback(why)) = fallback {
        notice(
            req.quiet,
            &format!(
                "warning: {} is used live, because {why}: changes made to it outside the mount may show through; \
                 put it on {} for a snapshot or reflink pin, or use --pin copy",
                source.display(),
                cloning_filesystems()
            ),
        );
    }
    record.pin = pin.clone();
    let cleanup = |e: Error| {
        let _ = pin::remove(&pin);
        registry::remove(&id);
        e
    };
    registry::save(&record).map_err(cleanup)?;
    let cfg = MountConfig {
        // What the mount shows as its source (/proc/mounts, status): a branch names its snapshot.
        source: match &branch {
            Some(s) => PathBuf::from(format!("@{}", s.name)),
            None => source,
        },
        mountpoint: mountpoint.clone(),
        budget_bytes: req.budget_bytes,
        allow_other: req.allow_other,
        read_only: req.read_only,
        pin: pin.clone(),
        passthrough: req.passthrough,
        fuse_options: req.fuse_options.clone(),
        io_uring: req.io_uring,
        id: id.clone(),
        exit_with: req.exit_with.map(|pid| (pid, process::start_time(pid).unwrap_or(0))),
        kernel: req.kernel.clone(),
        fsname: req.fsname.clone(),
    };
    if req.foreground {
        daemon::serve(&cfg, Readiness::Foreground).map_err(cleanup)?;
        return Ok(Mounted { mountpoint, pin_kind: pin.kind, pid: std::process::id() });
    }
    let pid = launch::start_background(exe, &cfg, req.parent).map_err(cleanup)?;
    Ok(Mounted { mountpoint, pin_kind: pin.kind, pid })
}

/// Where this OS pins without copying.
fn cloning_filesystems() -> &'static str {
    if cfg!(target_os = "macos") {
        "APFS"
    } else if cfg!(windows) {
        "ReFS (a Dev Drive)"
    } else {
        "btrfs or XFS"
    }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}
