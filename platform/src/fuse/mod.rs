//! The FUSE frontend (Linux; macOS through macFUSE): a thin translation from fuser's requests to
//! engine calls.
//!
//! The lower layer is immutable and every change goes through this daemon, so the kernel may
//! cache entries, attributes, negative lookups, symlink targets and file pages for as long as it
//! likes: nothing changes behind its back.

mod backing;
mod caller;
mod classic;
mod convert;
pub mod host;
mod io_mode;
mod listing_cache;
mod lseek;
pub mod ops;
mod transport;
#[cfg(target_os = "linux")]
mod uring;

pub use classic::Classic;
pub use transport::{ENABLE_URING, IoUringMode, Transport, io_uring_unavailable};

use agentfs_core::Engine;
use fuser::{Config, InitFlags, KernelConfig, MountOption, Session, SessionACL};
use ops::Ops;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How the frontend talks to the kernel.
#[derive(Clone, Copy, Debug)]
pub struct FuseOptions {
    /// How long the kernel may cache a name -> node entry.
    pub entry_ttl: Duration,
    /// How long the kernel may cache attributes.
    pub attr_ttl: Duration,
    /// How long the kernel may cache "no such name" (zero: not cached).
    pub negative_ttl: Duration,
    /// Ask for the kernel's writeback cache.
    pub writeback_cache: bool,
    /// Keep a file's cached pages across opens (only right if nothing changes it behind us).
    pub keep_cache: bool,
    /// Have the kernel drop a file's cached pages when its mtime changes (a live lower layer).
    pub auto_inval_data: bool,
    /// Ask for FUSE passthrough (Linux 6.9+; the daemon needs CAP_SYS_ADMIN). The kernel then
    /// refuses the writeback cache, so this replaces it where granted.
    pub passthrough: bool,
    /// Do not answer OPEN: the kernel then opens and closes files without asking the daemon
    /// (two round trips saved per open), reading and writing by inode. Rules out passthrough.
    pub no_open: bool,
    /// Whether requests may come through FUSE over io_uring.
    pub io_uring: IoUringMode,
}

impl FuseOptions {
    /// For an immutable lower layer: cache everything for a long time.
    pub fn pinned() -> FuseOptions {
        let long = Duration::from_secs(365 * 24 * 3600);
        FuseOptions {
            entry_ttl: long,
            attr_ttl: long,
            negative_ttl: long,
            writeback_cache: true,
            keep_cache: true,
            auto_inval_data: false,
            passthrough: false,
            no_open: true,
            io_uring: IoUringMode::Off,
        }
    }

    /// For a live lower layer that may change behind the mount: short caches, pages dropped at
    /// each open and when the mtime changes, and no writeback cache (with it the kernel keeps
    /// its own idea of a file's size and would never see a file grow outside).
    pub fn live(ttl: Duration) -> FuseOptions {
        FuseOptions {
            entry_ttl: ttl,
            attr_ttl: ttl,
            negative_ttl: ttl,
            writeback_cache: false,
            keep_cache: false,
            auto_inval_data: true,
            passthrough: false,
            no_open: false,
            io_uring: IoUringMode::Off,
        }
    }
}

/// Where and how to mount.
#[derive(Clone, Debug)]
pub struct MountSpec<'a> {
    pub mountpoint: &'a Path,
    /// Shown as the source in /proc/mounts (the frozen directory).
    pub fsname: String,
    pub allow_other: bool,
    pub read_only: bool,
    /// Request-serving threads (each with its own /dev/fuse fd).
    pub threads: usize,
    /// The kernel's generic mount options (nosuid, noexec, noatime, sync, context=...).
    pub kernel: crate::mount_options::KernelOptions,
}

/// A mount's frontend: the operations, to be served by a transport.
pub struct AgentFs {
    ops: Arc<Ops>,
}

impl AgentFs {
    pub fn new(engine: Arc<Engine>, opts: FuseOptions) -> io::Result<AgentFs> {
        Ok(AgentFs { ops: Arc::new(Ops::new(engine, opts)?) })
    }

    /// Becomes true once the kernel grants FUSE passthrough (at mount).
    pub fn passthrough_granted(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.ops.granted.passthrough)
    }

    /// Reads the requests served so far, by operation name (both transports count).
    pub fn request_counter(&self) -> Arc<dyn Fn() -> Vec<(String, u64)> + Send + Sync> {
        let ops = Arc::clone(&self.ops);
        Arc::new(move || ops.request_counts().into_iter().map(|(name, n)| (name.to_string(), n)).collect())
    }

    /// The operations, shared with every transport.
    pub fn ops(&self) -> &Arc<Ops> {
        &self.ops
    }
}

impl Ops {
    /// What to ask the kernel for at INIT, and what it granted.
    pub(crate) fn negotiate(&self, cfg: &mut KernelConfig) {
        let mut wanted = InitFlags::FUSE_ASYNC_READ
            | InitFlags::FUSE_BIG_WRITES
            | InitFlags::FUSE_MAX_PAGES
            | InitFlags::FUSE_PARALLEL_DIROPS
            // Without READDIRPLUS_AUTO every listing comes with attributes: one stat per entry
            // in the daemon saves a LOOKUP round trip per entry for whoever stats, opens or
            // reads what it listed (ls -l, git, grep, rm -rf), at some cost to a bare `find`
            // (measured both ways in the README's Performance section).
            | InitFlags::FUSE_DO_READDIRPLUS
            | InitFlags::FUSE_CACHE_SYMLINKS
            // LOOKUP of "." and ".." for nodes the kernel forgot: open_by_handle_at, NFS export.
            | InitFlags::FUSE_EXPORT_SUPPORT
            // POSIX ACLs: the kernel checks them, we keep them and make the mode follow; new
            // objects inherit default ACLs, which replace the umask, so we apply the umask.
            | InitFlags::FUSE_POSIX_ACL
            | InitFlags::FUSE_DONT_MASK
            // We drop set-id bits and capabilities ourselves; in return the kernel asks for
            // security.capability once per file instead of before every write (it sets
            // SB_NOSEC), and no longer for attributes before chown.
            | InitFlags::FUSE_HANDLE_KILLPRIV_V2;
        // No FUSE_ATOMIC_O_TRUNC: with it the daemon truncates during OPEN, before the kernel
        // checks for a running executable (ETXTBSY), so `open(prog, O_RDONLY|O_TRUNC)` would
        // empty a running program's file. O_TRUNC comes as a SETATTR after that check instead.
        let opts = self.opts();
        let passthrough = opts.passthrough
            && cfg.capabilities().contains(InitFlags::FUSE_PASSTHROUGH)
            && cfg.set_max_stack_depth(1).is_ok();
        if passthrough {
            wanted |= InitFlags::FUSE_PASSTHROUGH;
        } else if opts.writeback_cache {
            wanted |= InitFlags::FUSE_WRITEBACK_CACHE;
        }
        if opts.auto_inval_data {
            wanted |= InitFlags::FUSE_AUTO_INVAL_DATA;
        }
        if self.wants_io_uring(cfg) {
            wanted |= InitFlags::FUSE_OVER_IO_URING;
        }
        let granted = wanted & cfg.capabilities();
        if cfg.add_capabilities(granted).is_err() {
            tracing::warn!("the kernel refused capabilities it announced");
        }
        let writeback = granted.contains(InitFlags::FUSE_WRITEBACK_CACHE);
        let g = &self.granted;
        g.writeback.store(writeback, Ordering::Release);
        // With the writeback cache the kernel keeps file times and sends them with SETATTR,
        // stamped from its coarse clock: the daemon's own times come from the same clock.
        self.engine().set_frontend_keeps_mtime(writeback);
        #[cfg(target_os = "linux")]
        if writeback {
            agentfs_core::set_clock(coarse_now);
        }
        g.passthrough.store(granted.contains(InitFlags::FUSE_PASSTHROUGH), Ordering::Release);
        g.killpriv.store(granted.contains(InitFlags::FUSE_HANDLE_KILLPRIV_V2), Ordering::Release);
        g.posix_acl.store(granted.contains(InitFlags::FUSE_POSIX_ACL), Ordering::Release);
        g.dont_mask.store(granted.contains(InitFlags::FUSE_DONT_MASK), Ordering::Release);
        g.io_uring.store(granted.contains(InitFlags::FUSE_OVER_IO_URING), Ordering::Release);
        let max_write = match cfg.set_max_write(1 << 20) {
            Ok(_) => 1 << 20,
            Err(max) => cfg.set_max_write(max).map_or(0, |_| max),
        };
        let readahead = match cfg.set_max_readahead(1 << 20) {
            Ok(_) => 1 << 20,
            Err(max) => cfg.set_max_readahead(max).map_or(0, |_| max),
        };
        g.max_payload.store(max_payload(max_write, readahead), Ordering::Release);
        let _ = cfg.set_max_background(64);
        tracing::info!(granted = ?granted, missing = ?(wanted - granted), "FUSE session initialised");
    }

    /// Whether to ask for FUSE over io_uring: the mount may use it, the kernel offers it, and
    /// this process can set up io_uring (once granted, every request waits for the queues).
    fn wants_io_uring(&self, cfg: &KernelConfig) -> bool {
        let offered = cfg!(target_os = "linux") && cfg.capabilities().contains(InitFlags::FUSE_OVER_IO_URING);
        self.granted.io_uring_offered.store(offered, Ordering::Release);
        if !offered || self.opts().io_uring == IoUringMode::Off {
            return false;
        }
        match io_uring_probe() {
            Ok(()) => true,
            Err(e) => {
                let _ = self.granted.io_uring_unusable.set(e.to_string());
                false
            }
        }
    }
}

#[cfg(target_os = "linux")]
fn io_uring_probe() -> io::Result<()> {
    crate::sys::uring::probe()
}

#[cfg(not(target_os = "linux"))]
fn io_uring_probe() -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// The largest payload of a request or reply, as the kernel computes it for its ring:
/// `max(FUSE_MIN_READ_BUFFER, max_write, max_pages * PAGE_SIZE)`, with max_pages as fuser
/// asks for it (enough pages for the larger of max_write and max_readahead). The kernel only
/// lowers these, so this is an upper bound.
fn max_payload(max_write: u32, readahead: u32) -> usize {
    let page = rustix::param::page_size();
    let largest = max_write.max(readahead) as usize;
    let pages = largest.div_ceil(page).max(1);
    (pages * page).max(max_write as usize).max(8192)
}

/// Mounting directly as root (not through fusermount3), fuser passes no subtype; the Linux
/// kernel takes one as an option, so /proc/mounts says fuse.agentfs either way.
fn kernel_subtype() -> Option<MountOption> {
    #[cfg(target_os = "linux")]
    if rustix::process::geteuid().is_root() {
        return Some(MountOption::CUSTOM("subtype=agentfs".into()));
    }
    None
}

/// Mounts `fs` at `spec.mountpoint`. When this returns, the kernel has sent INIT, the io_uring
/// queues serve (if the mount got io_uring), and the rest is served as soon as [`Session::run`]
/// starts. A mount that asked for io_uring `on` and cannot have it fails (unmounted again).
pub fn mount(fs: AgentFs, spec: &MountSpec<'_>) -> io::Result<(Session<Classic>, Transport)> {
    let ops = Arc::clone(&fs.ops);
    let mut options = vec![
        MountOption::FSName(spec.fsname.clone()),
        MountOption::Subtype("agentfs".into()),
        MountOption::DefaultPermissions,
        if spec.read_only { MountOption::RO } else { MountOption::RW },
    ];
    options.extend(kernel_subtype());
    // As root fuser calls mount(2) itself, whose FUSE options cannot say strictatime,
    // nodiratime or nosymfollow: those are set on the mount once it exists. fusermount3 (for
    // a user) takes every option by name.
    let direct = cfg!(target_os = "linux") && rustix::process::geteuid().is_root();
    options.extend(spec.kernel.fuser_options(direct));
    let mut config = Config::default();
    config.mount_options = options;
    config.acl = if spec.allow_other { SessionACL::All } else { SessionACL::Owner };
    config.n_threads = Some(spec.threads.max(1));
    config.clone_fd = cfg!(target_os = "linux");
    let session = Session::new(Classic::new(Arc::clone(&ops)), spec.mountpoint, &config)?;
    #[cfg(target_os = "linux")]
    if direct && spec.kernel.need_mount_flags_after_mount() {
        // On failure the session is dropped, which unmounts.
        spec.kernel.set_mount_flags(spec.mountpoint, spec.read_only)?;
    }
    let _ = ops.notifier.set(session.notifier());
    let _ = ops.device.set(Arc::new(session.as_fd().try_clone_to_owned()?));
    let transport = transport::start(&ops)?;
    tracing::info!(transport = transport.name(), reason = transport.reason(), "transport");
    Ok((session, transport))
}

/// The kernel's coarse wall clock (what it stamps file times with when a filesystem has no
/// fine-grained timestamps, FUSE included).
#[cfg(target_os = "linux")]
fn coarse_now() -> agentfs_core::Timestamp {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
    agentfs_core::Timestamp::new(t.tv_sec, t.tv_nsec as u32)
}
