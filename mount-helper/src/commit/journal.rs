//! The journal of a commit: the plan, written before the target is touched, so that after a
//! crash or a failure at any point the commit is either finished or rolled back, never left half
//! done.
//!
//! - `Staging`: new content is being prepared in the staging directory; the target is untouched.
//!   Recovery removes the staging directory.
//! - `Applying` (after the commit point): the operations are being applied. Each one is a single
//!   rename or exchange (or a metadata change) whose effect can be seen by looking at the objects
//!   it names (device and inode), so recovery can tell which were done. Nothing is deleted: what
//!   an operation replaces or removes is moved into the staging directory. Recovery applies the
//!   rest; if that fails, it rolls back.
//! - `RollingBack`: the operations are being undone, last first: placed objects go back into the
//!   staging directory and what was moved aside comes back. Recovery undoes the rest.
//!
//! - `Done`: finished or rolled back, and synced; the staging directory is being removed.
//!   Recovery removes what is left of it.
//!
//! A journal that can be neither finished nor rolled back is set aside (`*.stuck`) with a message
//! naming the paths involved, and is never tried again.

use crate::confined::{Identity, Meta};
use crate::error::{Error, Result};
use crate::runtime::ensure_private_dir;
use crate::sealed;
use crate::state::journals_dir;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"AGFSJRN2";

#[derive(Clone, Copy, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Phase {
    Staging,
    Applying,
    RollingBack,
    /// Finished or rolled back, and durable: only the staging directory is left to remove.
    Done,
}

/// One step of a commit. `at` is relative to the target root; staged names are names in the
/// staging directory.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Op {
    /// Moves the object at `at`, if it is `old`, into the staging directory as `aside`.
    Aside { at: Vec<u8>, old: Identity, aside: Vec<u8> },
    /// Moves the staged object `staged` (which is `new`) to `at`: where nothing is (`old` is
    /// None), or in exchange for `old`, which then has the staged name.
    Put { staged: Vec<u8>, new: Identity, at: Vec<u8>, old: Option<Identity> },
    /// Sets the metadata of `at` (which is `who`) to `meta`; `old` is what it had.
    SetMeta { at: Vec<u8>, who: Identity, meta: Meta, old: Meta },
    /// Makes `staged` another name of the object at `at` (which is `who`), for a `Put` to place.
    Link { at: Vec<u8>, who: Identity, staged: Vec<u8> },
}

impl Op {
    /// The path (relative to the target root) this operation changes.
    pub fn at(&self) -> PathBuf {
        match self {
            Op::Aside { at, .. } | Op::Put { at, .. } | Op::SetMeta { at, .. } | Op::Link { at, .. } => path(at),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Journal {
    pub id: String,
    /// The process running the commit (with its start time): another process recovers the
    /// journal only once this one is gone.
    pub pid: u32,
    pub pid_start: u64,
    pub phase: Phase,
    /// The root the operations are relative to (SRC, or the parent of `--to DIR`), and its
    /// identity (a different directory at that path is never touched).
    pub target: Vec<u8>,
    pub target_id: Identity,
    /// The directory holding staging directories (on the target's filesystem), and the name of
    /// this commit's staging directory in it.
    pub staging_parent: Vec<u8>,
    pub staging_name: Vec<u8>,
    /// The mount point, to name paths as the user sees them.
    pub mount: Vec<u8>,
    pub ops: Vec<Op>,
    /// Why the commit is being rolled back, and the operation that failed (those after it never
    /// ran).
    pub why: String,
    pub failed_at: u32,
}

pub fn bytes(p: &Path) -> Vec<u8> {
    p.as_os_str().as_bytes().to_vec()
}

pub fn path(b: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(b))
}

fn file_of(id: &str) -> PathBuf {
    journals_dir().join(format!("{id}.journal"))
}

/// The pid in the name of a temporary file of [`sealed::write_atomic`] (".NAME.tmp.PID").
fn temp_file_owner(p: &Path) -> Option<u32> {
    let name = p.file_name()?.to_str()?;
    name.strip_prefix('.')?.rsplit_once(".tmp.")?.1.parse().ok()
}

/// Whether process `pid` exists (Linux: its /proc entry; macOS has no /proc).
fn process_exists(pid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        Path::new(&format!("/proc/{pid}")).exists()
    }
    #[cfg(not(target_os = "linux"))]
    {
        crate::process::start_time(pid).is_some()
    }
}

/// Where a commit writes, as the journal records it.
pub struct Target<'a> {
    pub root: &'a Path,
    pub root_id: Identity,
    pub staging_parent: &'a Path,
    pub mount: &'a Path,
}

impl Journal {
    /// Starts the journal of a commit (written durably before anything is staged).
    pub fn begin(id: String, t: &Target<'_>) -> Result<Journal> {
        let j = Journal {
            staging_name: id.as_bytes().to_vec(),
            id,
            pid: std::process::id(),
            pid_start: crate::process::own_start_time(),
            phase: Phase::Staging,
            target: bytes(t.root),
            target_id: t.root_id,
            staging_parent: bytes(t.staging_parent),
            mount: bytes(t.mount),
            ops: Vec::new(),
            why: String::new(),
            failed_at: 0,
        };
        j.save()?;
        Ok(j)
    }

    /// Writes the journal durably (replacing its previous state).
    pub fn save(&self) -> Result<()> {
        ensure_private_dir(&journals_dir())?;
        sealed::write_atomic(&file_of(&self.id), &sealed::seal(MAGIC, self)?)
    }

    /// Removes the journal: the commit is over (done or rolled back).
    pub fn finish(&self) -> Result<()> {
        match fs::remove_file(file_of(&self.id)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("cannot remove the commit journal", &file_of(&self.id), &e)),
        }
    }

    /// Renames the journal to `*.stuck`: it is never tried again. Returns its new path.
    pub fn set_aside(&self) -> PathBuf {
        let stuck = journals_dir().join(format!("{}.stuck", self.id));
        let _ = fs::rename(file_of(&self.id), &stuck);
        stuck
    }

    pub fn owner_alive(&self) -> bool {
        crate::process::alive(self.pid, self.pid_start)
    }

    pub fn target_path(&self) -> PathBuf {
        path(&self.target)
    }

    pub fn staging_path(&self) -> PathBuf {
        path(&self.staging_parent).join(OsStr::from_bytes(&self.staging_name))
    }

    /// Where the user sees `rel` (a path below the target root).
    pub fn shown(&self, rel: &Path) -> PathBuf {
        let m = path(&self.mount);
        if m.as_os_str().is_empty() { self.target_path().join(rel) } else { m.join(rel) }
    }
}

/// Every journal on disk, and a line for each damaged one (set aside as `*.corrupt`).
/// Half-written journal files of dead processes are removed.
pub fn all() -> (Vec<Journal>, Vec<String>) {
    let Ok(entries) = fs::read_dir(journals_dir()) else {
        return (Vec::new(), Vec::new());
    };
    let (mut out, mut problems): (Vec<Journal>, Vec<String>) = (Vec::new(), Vec::new());
    for e in entries.flatten() {
        let p = e.path();
        if let Some(pid) = temp_file_owner(&p) {
            if !process_exists(pid) {
                let _ = fs::remove_file(&p);
            }
            continue;
        }
        if p.extension().and_then(|x| x.to_str()) != Some("journal") {
            continue;
        }
        match fs::read(&p).map_err(|e| e.to_string()).and_then(|b| sealed::unseal(MAGIC, &b)) {
            Ok(j) => out.push(j),
            Err(why) => {
                let aside = p.with_extension("corrupt");
                let _ = fs::rename(&p, &aside);
                problems.push(format!(
                    "the commit journal {} is damaged ({why}); it is set aside as {}: look at the directory it \
                     was committing into",
                    p.display(),
                    aside.display()
                ));
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    (out, problems)
}
