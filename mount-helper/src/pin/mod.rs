//! Pins: the frozen copy of SRC that serves as the lower layer.
//!
//! - snapshot: SRC lies in a btrfs subvolume: a read-only snapshot of the subvolume (one ioctl,
//!   cost independent of the tree), read at SRC's path inside it (Linux only);
//! - reflink: a clone of the tree, file by file, no data block copied: FICLONE on Linux,
//!   clonefile on APFS, block cloning (FSCTL_DUPLICATE_EXTENTS_TO_FILE) on ReFS;
//! - copy: the same walk, copying the data;
//! - live: no pin; SRC is read as it is, and outside changes may show through.
//!
//! Pins live on SRC's filesystem under a `.agentfs-pins` directory (see [`location`]) and are
//! named after the mount id, so the registry record of a mount says where its pin is.

pub mod location;
pub mod progress;
pub mod remove;
#[cfg(unix)]
pub mod snapshot;

use crate::error::{Error, Result};
use crate::runtime::{bytes_os, bytes_path, path_bytes};
use agentfs_platform::clone_tree::Progress;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

pub use location::{PINS_DIR_NAME, SNAPSHOTS_DIR_NAME};
pub use remove::remove;

/// What pins the lower layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum PinKind {
    Snapshot,
    Reflink,
    Copy,
    Live,
    /// A snapshot made by `agentfs snapshot`, already read-only: used as it is, never removed
    /// by the mount.
    Branch,
}

impl PinKind {
    pub fn name(self) -> &'static str {
        match self {
            PinKind::Snapshot => "snapshot",
            PinKind::Reflink => "reflink",
            PinKind::Copy => "copy",
            PinKind::Live => "live",
            PinKind::Branch => "branch",
        }
    }
}

/// What the user asked for (`--pin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinRequest {
    Auto,
    Exactly(PinKind),
}

impl std::str::FromStr for PinRequest {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Ok(match s {
            "auto" => PinRequest::Auto,
            "snapshot" => PinRequest::Exactly(PinKind::Snapshot),
            "reflink" => PinRequest::Exactly(PinKind::Reflink),
            "copy" => PinRequest::Exactly(PinKind::Copy),
            "live" => PinRequest::Exactly(PinKind::Live),
            other => return Err(format!("unknown pin {other:?}; use auto, snapshot, reflink, copy or live")),
        })
    }
}

/// A pin that exists (or, while being made, will exist) on disk.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Pin {
    pub kind: PinKind,
    /// What to delete at unmount: the snapshot subvolume or the cloned tree (empty for live).
    pub path: Vec<u8>,
    /// The directory the engine reads.
    pub lower_root: Vec<u8>,
    /// Names hidden at the lower root (the pins directory, when it had to go inside SRC).
    pub hide: Vec<Vec<u8>>,
    pub files: u64,
    pub bytes: u64,
    pub millis: u64,
}

impl Pin {
    pub fn path(&self) -> PathBuf {
        bytes_path(&self.path)
    }

    pub fn lower_root(&self) -> PathBuf {
        bytes_path(&self.lower_root)
    }

    pub fn hidden_names(&self) -> Vec<OsString> {
        self.hide.iter().map(|h| bytes_os(h)).collect()
    }

    /// A pin of `kind` removed through `path` and read at `lower_root`, hiding nothing, with no
    /// pinning statistics yet.
    pub fn new(kind: PinKind, path: &Path, lower_root: &Path) -> Pin {
        Pin {
            kind,
            path: path_bytes(path),
            lower_root: path_bytes(lower_root),
            hide: Vec::new(),
            files: 0,
            bytes: 0,
            millis: 0,
        }
    }

    /// No pin yet (a record in the pinning state; `gc` then looks for every possible kind).
    pub fn pending() -> Pin {
        Pin::new(PinKind::Live, Path::new(""), Path::new(""))
    }

    /// Encodes the pin for the daemon's command line.
    pub fn to_hex(&self) -> String {
        let bytes = bincode::encode_to_vec(self, bincode::config::standard()).unwrap_or_default();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Decodes [`Pin::to_hex`].
    pub fn from_hex(s: &str) -> std::result::Result<Pin, String> {
        if s.len() % 2 != 0 {
            return Err("odd length".into());
        }
        let bytes = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| e.to_string()))
            .collect::<std::result::Result<Vec<u8>, String>>()?;
        bincode::decode_from_slice(&bytes, bincode::config::standard()).map(|(p, _)| p).map_err(|e| e.to_string())
    }

    /// The snapshot whose tree is `root` (inside `container`), as the pin of a branch.
    pub fn branch(container: &Path, root: &Path) -> Pin {
        Pin::new(PinKind::Branch, container, root)
    }

    fn live(src: &Path) -> Pin {
        Pin::new(PinKind::Live, Path::new(""), src)
    }
}

/// Every pin mount `id` could have in `pins_dir` (to clean up after a crash while pinning).
pub fn possible_pins(pins_dir: &Path, id: &str) -> Vec<Pin> {
    if pins_dir.as_os_str().is_empty() {
        return Vec::new();
    }
    [PinKind::Snapshot, PinKind::Reflink, PinKind::Copy]
        .into_iter()
        .map(|kind| {
            let path = pins_dir.join(format!("{id}.{}", kind.name()));
            Pin::new(kind, &path, &path)
        })
        .collect()
}

/// Where a pin of `src` for mount `id` would go, for each kind.
pub struct Plan {
    pub src: PathBuf,
    pub id: String,
    /// The pins directory on SRC's filesystem (None: there is no room for one).
    pub pins_dir: Option<PathBuf>,
    /// Names to leave out of SRC's top level (the pins directory if it lies there).
    pub hide: Vec<OsString>,
}

impl Plan {
    /// Plans a pin; the pins directory is looked for (and made) only if `req` may need one.
    pub fn new(src: &Path, id: &str, req: PinRequest) -> Plan {
        let (pins_dir, hide) = match req {
            PinRequest::Exactly(PinKind::Live) => (None, Vec::new()),
            _ => match location::pins_dir(src) {
                Some(loc) => (Some(loc.dir), loc.hide.into_iter().collect()),
                None => (None, Vec::new()),
            },
        };
        Plan { src: src.to_path_buf(), id: id.to_string(), pins_dir, hide }
    }

    /// Removes the pins directory if nothing is in it (after a live or failed pin).
    pub fn tidy(&self) {
        if let Some(d) = &self.pins_dir {
            let _ = std::fs::remove_dir(d);
        }
    }

    /// The path a pin of `kind` gets (None for live).
    pub fn pin_path(&self, kind: PinKind) -> Option<PathBuf> {
        if kind == PinKind::Live {
            return None;
        }
        Some(self.pins_dir.as_ref()?.join(format!("{}.{}", self.id, kind.name())))
    }

    fn pins_dir_or_err(&self, kind: PinKind) -> Result<&Path> {
        self.pins_dir.as_deref().ok_or_else(|| {
            Error::Input(format!(
                "no writable place for a {} pin on the filesystem of {}; use --pin live, or mount a writable parent",
                kind.name(),
                self.src.display()
            ))
        })
    }
}

/// Why auto chose live, for the warning.
pub struct Fallback(pub String);

/// Makes the pin `req` asks for. With `Auto`: a snapshot if SRC is in a btrfs subvolume we may
/// snapshot, else a reflink clone if the filesystem clones, else live (with the reason).
///
/// The pins directory is shared by every mount of the filesystem and removed with its last pin,
/// so another mount's unmount can remove it between our finding it and our pin's first entry:
/// then it is made again and the pin tried again.
pub fn create(plan: &Plan, req: PinRequest, progress: &Arc<Progress>) -> Result<(Pin, Option<Fallback>)> {
    const ATTEMPTS: usize = 5;
    let mut attempt = 1;
    loop {
        if let Some(dir) = &plan.pins_dir {
            location::ensure_dir(dir);
        }
        let r = create_once(plan, req, progress);
        let vanished = plan.pins_dir.as_deref().is_some_and(|d| !d.exists());
        if r.is_ok() || !vanished || attempt == ATTEMPTS {
            return r;
        }
        tracing::info!(attempt, "the pins directory was removed while pinning; trying again");
        attempt += 1;
    }
}

fn create_once(plan: &Plan, req: PinRequest, progress: &Arc<Progress>) -> Result<(Pin, Option<Fallback>)> {
    let started = Instant::now();
    let finish = |mut pin: Pin| {
        pin.files = progress.files.load(std::sync::atomic::Ordering::Relaxed);
        pin.bytes = progress.bytes.load(std::sync::atomic::Ordering::Relaxed);
        pin.millis = started.elapsed().as_millis() as u64;
        pin
    };
    match req {
        PinRequest::Exactly(PinKind::Live) => Ok((Pin::live(&plan.src), None)),
        PinRequest::Exactly(PinKind::Branch) => {
            Err(Error::Input("a branch is not a pin to make; mount a snapshot with `agentfs mount @NAME MNT`".into()))
        }
        PinRequest::Exactly(PinKind::Snapshot) => {
            let dir = plan.pins_dir_or_err(PinKind::Snapshot)?;
            Ok((finish(native_snapshot(plan, dir)?), None))
        }
        PinRequest::Exactly(kind @ (PinKind::Reflink | PinKind::Copy)) => {
            let dir = plan.pins_dir_or_err(kind)?;
            Ok((finish(clone(plan, dir, kind, progress)?), None))
        }
        PinRequest::Auto => {
            let Some(dir) = plan.pins_dir.as_deref() else {
                return Ok((
                    Pin::live(&plan.src),
                    Some(Fallback("there is no writable place for a pin on its filesystem".into())),
                ));
            };
            if let Some(pin) = try_snapshot(plan, dir) {
                return Ok((finish(pin), None));
            }
            match location::probe_reflink(dir) {
                Ok(()) => Ok((finish(clone(plan, dir, PinKind::Reflink, progress)?), None)),
                Err(why) => Ok((Pin::live(&plan.src), Some(Fallback(why)))),
            }
        }
    }
}

/// A snapshot pin (btrfs).
#[cfg(unix)]
fn native_snapshot(plan: &Plan, dir: &Path) -> Result<Pin> {
    snapshot::create(&plan.src, dir, &plan.id, &plan.hide)
}

/// Windows has no snapshot of a directory tree (VSS shadow copies cover whole volumes and
/// need administrators).
#[cfg(windows)]
fn native_snapshot(plan: &Plan, _dir: &Path) -> Result<Pin> {
    Err(Error::Input(format!(
        "Windows has no snapshot pins for {} (volume shadow copies cover whole volumes); \
         use --pin reflink (ReFS block cloning), copy or live",
        plan.src.display()
    )))
}

/// The snapshot pin auto takes where SRC's filesystem has one.
fn try_snapshot(plan: &Plan, dir: &Path) -> Option<Pin> {
    #[cfg(unix)]
    match snapshot::applies(&plan.src) {
        Ok(true) => match snapshot::create(&plan.src, dir, &plan.id, &plan.hide) {
            Ok(pin) => return Some(pin),
            Err(e) => tracing::info!(%e, "snapshot refused; trying reflink"),
        },
        Ok(false) => {}
        Err(e) => tracing::info!(%e, "cannot tell whether SRC is in a btrfs subvolume"),
    }
    let _ = (plan, dir);
    None
}

fn threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).max(2)
}

/// Clones (or copies) the tree of `plan.src` to `path`: through directory descriptors, keeping
/// owners and xattrs (Unix), or by path (Windows).
#[cfg(unix)]
fn clone_tree(plan: &Plan, path: &Path, kind: PinKind, progress: &Arc<Progress>) -> std::io::Result<()> {
    use agentfs_platform::tree_copy::{self, DataMode};
    let opts = tree_copy::Options {
        mode: if kind == PinKind::Reflink { DataMode::Reflink } else { DataMode::Copy },
        skip_top: plan.hide.clone(),
        skip_everywhere: crate::owned::names(),
        threads: threads(),
        progress: Arc::clone(progress),
    };
    tree_copy::copy_tree(&plan.src, path, &opts)
}

#[cfg(windows)]
fn clone_tree(plan: &Plan, path: &Path, kind: PinKind, progress: &Arc<Progress>) -> std::io::Result<()> {
    use agentfs_platform::clone_tree::{self, CopyCloner, FileCloner, refs::RefsCloner};
    let tree = clone_tree::plan(&plan.src, &plan.hide)?;
    let refs;
    let cloner: &dyn FileCloner = if kind == PinKind::Reflink {
        refs = RefsCloner::for_dir(path.parent().unwrap_or(path))?;
        &refs
    } else {
        &CopyCloner
    };
    clone_tree::execute(&tree, &plan.src, path, cloner, threads(), progress)
}

fn clone(plan: &Plan, dir: &Path, kind: PinKind, progress: &Arc<Progress>) -> Result<Pin> {
    let path = dir.join(format!("{}.{}", plan.id, kind.name()));
    let pin = Pin::new(kind, &path, &path);
    if let Err(e) = clone_tree(plan, &path, kind, progress) {
        let _ = remove(&pin);
        return Err(Error::System(format!("cannot make a {} pin of {}: {e}", kind.name(), plan.src.display())));
    }
    Ok(pin)
}
