//! Every FUSE operation, written once, with typed results: a transport (fuser's classic
//! session, or FUSE over io_uring) decodes a request, calls the operation, and encodes what it
//! returns. No decision about a request is made anywhere else.
//!
//! Errors are the engine's [`Errno`] (Linux numbering); each transport converts them.

mod attrs;
mod dirs;
mod files;
mod names;
mod walkers;
mod xattrs;

pub use files::LseekDone;

use super::FuseOptions;
use super::backing::Backing;
use super::caller;
use super::io_mode::IoModes;
use super::listing_cache::ListingCache;
use super::lseek::LseekWorker;
use agentfs_core::{Attr, Caller, Engine, Errno, PrivilegeDrop};
use fuser::{INodeNo, Notifier};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use walkers::Walkers;

pub type Result<T> = std::result::Result<T, Errno>;

/// Who sent a request.
#[derive(Clone, Copy, Debug)]
pub struct Req {
    pub uid: u32,
    pub gid: u32,
    pub pid: u32,
}

impl Req {
    fn caller(&self) -> Caller {
        Caller { uid: self.uid, gid: self.gid, pid: self.pid, umask: 0 }
    }
}

/// The mode a new object is asked for, and the caller's umask (which the kernel may leave to
/// us, see [`Granted::dont_mask`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewMode {
    pub mode: u32,
    pub umask: u32,
}

/// A name resolved to a node (or, with `attr.ino == 0`, a cached "no such name").
#[derive(Clone, Copy, Debug)]
pub struct EntryOut {
    pub attr: Attr,
    pub entry_ttl: Duration,
    pub attr_ttl: Duration,
}

impl EntryOut {
    pub fn is_negative(&self) -> bool {
        self.attr.ino == 0
    }
}

#[derive(Clone, Copy, Debug)]
pub struct AttrOut {
    pub attr: Attr,
    pub ttl: Duration,
}

/// Flags of an OPEN or CREATE reply (`FOPEN_*` of the kernel's fuse.h).
pub mod fopen {
    pub const KEEP_CACHE: u32 = 1 << 1;
    pub const PASSTHROUGH: u32 = 1 << 7;
}

/// The answer to OPEN (and the open part of CREATE).
#[derive(Clone, Debug)]
pub struct OpenOut {
    pub fh: u64,
    /// `FOPEN_*` bits.
    pub flags: u32,
    /// A passthrough backing file registered with the kernel (then `flags` has PASSTHROUGH).
    pub backing: Option<Arc<Backing>>,
}

/// The answer to GETXATTR or LISTXATTR: the size asked for, or the bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XattrOut {
    Size(u32),
    Data(Vec<u8>),
}

impl XattrOut {
    /// The reply to a request for `size` bytes of `data` (0: how many there are).
    fn sized(data: Vec<u8>, size: u32) -> Result<XattrOut> {
        if size == 0 {
            Ok(XattrOut::Size(data.len() as u32))
        } else if data.len() > size as usize {
            Err(Errno::ERANGE)
        } else {
            Ok(XattrOut::Data(data))
        }
    }
}

/// What the kernel granted at INIT.
#[derive(Default)]
pub struct Granted {
    /// The writeback cache.
    pub writeback: AtomicBool,
    /// Dropping set-id bits and capabilities on write, truncate and chown is ours
    /// (HANDLE_KILLPRIV_V2).
    pub killpriv: AtomicBool,
    /// POSIX ACLs passed through to us (FUSE_POSIX_ACL): without it, ACL attributes are refused,
    /// so tools fall back to mode bits instead of storing ACLs that would change nothing.
    pub posix_acl: AtomicBool,
    /// The umask is ours to apply (FUSE_DONT_MASK).
    pub dont_mask: AtomicBool,
    /// FUSE passthrough (shared, so the daemon can report it).
    pub passthrough: Arc<AtomicBool>,
    /// FUSE over io_uring.
    pub io_uring: AtomicBool,
    /// Whether the kernel offered FUSE over io_uring at INIT.
    pub io_uring_offered: AtomicBool,
    /// Why io_uring could not be used although the kernel offered it.
    pub io_uring_unusable: OnceLock<String>,
    /// The largest request or reply payload the kernel may send or accept (what a ring
    /// entry's payload buffer must hold).
    pub max_payload: AtomicUsize,
}

impl Granted {
    /// The payload buffer size of a ring entry: at least what the kernel asks for,
    /// `max(FUSE_MIN_READ_BUFFER, max_write, max_pages * PAGE_SIZE)`.
    pub fn ring_payload_size(&self) -> usize {
        self.max_payload.load(Ordering::Acquire).max(8192)
    }
}

/// The operations of one mount, shared by its transports.
pub struct Ops {
    engine: Arc<Engine>,
    opts: FuseOptions,
    pub granted: Granted,
    io: IoModes,
    /// Set once the session exists: lets the daemon ask the kernel to drop or flush caches.
    pub notifier: Arc<OnceLock<Notifier>>,
    /// The session's /dev/fuse (a duplicate): passthrough backing files are registered on it.
    pub device: OnceLock<Arc<OwnedFd>>,
    lseek: LseekWorker,
    /// Requests answered, by opcode (a debug counter: requests per operation).
    counts: Vec<AtomicU64>,
    /// Which listings carry the attributes of their files.
    walkers: Walkers,
    listing_cache: ListingCache,
}

impl Ops {
    pub fn new(engine: Arc<Engine>, opts: FuseOptions) -> std::io::Result<Ops> {
        let notifier = Arc::new(OnceLock::new());
        let lseek = LseekWorker::start(Arc::clone(&engine), Arc::clone(&notifier))?;
        let listing_cache = ListingCache::start(Arc::clone(&notifier))?;
        Ok(Ops {
            engine,
            opts,
            granted: Granted::default(),
            io: IoModes::default(),
            notifier,
            device: OnceLock::new(),
            lseek,
            counts: (0..=opcode::MAX).map(|_| AtomicU64::new(0)).collect(),
            walkers: Walkers::default(),
            listing_cache,
        })
    }

    pub fn opts(&self) -> &FuseOptions {
        &self.opts
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Counts one request of `opcode` (the kernel's FUSE opcode number).
    pub fn count(&self, opcode: u32) {
        if let Some(c) = self.counts.get(opcode as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Requests answered so far, by opcode name, leaving out those never seen.
    pub fn request_counts(&self) -> Vec<(&'static str, u64)> {
        self.counts
            .iter()
            .enumerate()
            .filter_map(|(op, c)| {
                let n = c.load(Ordering::Relaxed);
                (n > 0).then(|| (opcode::name(op as u32), n))
            })
            .collect()
    }

    fn entry(&self, attr: Attr) -> EntryOut {
        EntryOut { attr_ttl: self.attr_ttl(attr.ino), attr, entry_ttl: self.opts.entry_ttl }
    }

    fn attr_out(&self, attr: Attr) -> AttrOut {
        AttrOut { ttl: self.attr_ttl(attr.ino), attr }
    }

    /// How long the kernel may keep the attributes of node `ino`. Not at all for upper data
    /// lent to the kernel: it changes it without telling anyone (through a mapping that
    /// outlives its file, for one), so every stat must ask, and we look at the data's times.
    fn attr_ttl(&self, ino: u64) -> std::time::Duration {
        if self.granted.passthrough.load(Ordering::Relaxed) && self.engine.upper_lent(ino) {
            std::time::Duration::ZERO
        } else {
            self.opts.attr_ttl
        }
    }

    /// Whether the caller belongs to the group of node `ino`; only asked for a set-group-id
    /// bit without group execute, the one case where membership decides.
    fn caller_in_group(&self, req: &Req, ino: u64) -> bool {
        match self.engine.getattr(ino) {
            Ok(a) if a.perm & 0o2010 == 0o2000 => caller::in_group(req.pid, req.gid, a.gid),
            _ => true,
        }
    }

    /// Takes set-id bits and capabilities away as a write does; when that changed the mode, the
    /// kernel's cached attributes are dropped (they would otherwise show the old mode for as
    /// long as they may be cached, which pinned is forever).
    fn drop_privileges(&self, ino: u64, drop: PrivilegeDrop) -> Result<()> {
        if self.engine.drop_privileges(ino, drop)? {
            self.attributes_changed(ino);
        }
        Ok(())
    }

    /// Records an access to `ino` (its access time, as the mount's atime policy says).
    fn accessed(&self, ino: u64) {
        if self.engine.accessed(ino) {
            self.attributes_changed(ino);
        }
    }

    /// Tells the kernel that attributes of `ino` changed without a request that replied with
    /// them: only its cached attributes are dropped, which takes no lock a request in progress
    /// could hold.
    fn attributes_changed(&self, ino: u64) {
        if let Some(n) = self.notifier.get() {
            if let Err(e) = n.inval_inode(INodeNo(ino), -1, 0) {
                tracing::debug!(ino, %e, "could not drop the kernel's cached attributes");
            }
        }
    }

    /// Who creates an object, with the umask the engine must apply: the kernel leaves it to us
    /// when it passes POSIX ACLs through (a default ACL replaces the umask).
    fn creator(&self, req: &Req, umask: u32) -> Caller {
        let umask = if self.granted.dont_mask.load(Ordering::Acquire) { umask } else { 0 };
        Caller { umask, ..req.caller() }
    }
}

/// Logs what should never happen (EIO means a lower I/O failure or an engine bug); returns
/// the error for the reply.
pub fn logged(op: &str, e: Errno) -> Errno {
    if e == Errno::EIO {
        tracing::error!(op, "I/O error");
    } else {
        tracing::trace!(op, %e);
    }
    e
}

/// The kernel's FUSE opcodes (include/uapi/linux/fuse.h), for counting and decoding.
pub mod opcode {
    pub const LOOKUP: u32 = 1;
    pub const FORGET: u32 = 2;
    pub const GETATTR: u32 = 3;
    pub const SETATTR: u32 = 4;
    pub const READLINK: u32 = 5;
    pub const SYMLINK: u32 = 6;
    pub const MKNOD: u32 = 8;
    pub const MKDIR: u32 = 9;
    pub const UNLINK: u32 = 10;
    pub const RMDIR: u32 = 11;
    pub const RENAME: u32 = 12;
    pub const LINK: u32 = 13;
    pub const OPEN: u32 = 14;
    pub const READ: u32 = 15;
    pub const WRITE: u32 = 16;
    pub const STATFS: u32 = 17;
    pub const RELEASE: u32 = 18;
    pub const FSYNC: u32 = 20;
    pub const SETXATTR: u32 = 21;
    pub const GETXATTR: u32 = 22;
    pub const LISTXATTR: u32 = 23;
    pub const REMOVEXATTR: u32 = 24;
    pub const FLUSH: u32 = 25;
    pub const INIT: u32 = 26;
    pub const OPENDIR: u32 = 27;
    pub const READDIR: u32 = 28;
    pub const RELEASEDIR: u32 = 29;
    pub const FSYNCDIR: u32 = 30;
    pub const GETLK: u32 = 31;
    pub const SETLK: u32 = 32;
    pub const SETLKW: u32 = 33;
    pub const ACCESS: u32 = 34;
    pub const CREATE: u32 = 35;
    pub const INTERRUPT: u32 = 36;
    pub const BMAP: u32 = 37;
    pub const DESTROY: u32 = 38;
    pub const IOCTL: u32 = 39;
    pub const POLL: u32 = 40;
    pub const NOTIFY_REPLY: u32 = 41;
    pub const BATCH_FORGET: u32 = 42;
    pub const FALLOCATE: u32 = 43;
    pub const READDIRPLUS: u32 = 44;
    pub const RENAME2: u32 = 45;
    pub const LSEEK: u32 = 46;
    pub const COPY_FILE_RANGE: u32 = 47;
    pub const SETUPMAPPING: u32 = 48;
    pub const REMOVEMAPPING: u32 = 49;
    pub const SYNCFS: u32 = 50;
    pub const TMPFILE: u32 = 51;
    pub const STATX: u32 = 52;
    pub const COPY_FILE_RANGE_64: u32 = 53;
    pub const MAX: u32 = 53;

    /// The opcode's name, for counters and logs.
    pub fn name(op: u32) -> &'static str {
        const NAMES: [&str; 54] = [
            "?",
            "lookup",
            "forget",
            "getattr",
            "setattr",
            "readlink",
            "symlink",
            "?",
            "mknod",
            "mkdir",
            "unlink",
            "rmdir",
            "rename",
            "link",
            "open",
            "read",
            "write",
            "statfs",
            "release",
            "?",
            "fsync",
            "setxattr",
            "getxattr",
            "listxattr",
            "removexattr",
            "flush",
            "init",
            "opendir",
            "readdir",
            "releasedir",
            "fsyncdir",
            "getlk",
            "setlk",
            "setlkw",
            "access",
            "create",
            "interrupt",
            "bmap",
            "destroy",
            "ioctl",
            "poll",
            "notify_reply",
            "batch_forget",
            "fallocate",
            "readdirplus",
            "rename2",
            "lseek",
            "copy_file_range",
            "setupmapping",
            "removemapping",
            "syncfs",
            "tmpfile",
            "statx",
            "copy_file_range_64",
        ];
        NAMES.get(op as usize).copied().unwrap_or("?")
    }
}
