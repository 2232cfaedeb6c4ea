//! The write-ahead journal of a commit: the plan, written before SRC is touched, so that after a
//! crash at any point the commit is either finished or rolled back, never left half done.
//!
//! - `Staging`: new content is being prepared in a staging directory; SRC is untouched. After a
//!   crash: remove the staging directory (roll back).
//! - `Applying`: every staged object exists and is durable; the operations are being applied to
//!   SRC. After a crash: apply them all again (each one is safe to repeat), then clean up (roll
//!   forward).

use crate::error::{Error, Result};
use crate::runtime::ensure_private_dir;
use crate::sealed;
use crate::state::journals_dir;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"AGFSJRN1";

#[derive(Clone, Copy, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Phase {
    Staging,
    Applying,
}

/// An object's identity: an operation that removes or moves something only acts on the very
/// object it planned for, so that repeating it after a crash cannot hit something made later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Identity {
    pub dev: u64,
    pub ino: u64,
}

/// Metadata to set on an object.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Meta {
    pub perm: u16,
    pub uid: u32,
    pub gid: u32,
    pub atime: (i64, u32),
    pub mtime: (i64, u32),
    /// `None` for symlinks (no xattrs set on them).
    pub xattrs: Option<Vec<(Vec<u8>, Vec<u8>)>>,
}

/// One step of applying a commit. Paths are absolute. Each is safe to repeat.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Op {
    /// Moves the object at `from` (if it is still `who`) to `to` in the staging directory.
    Detach { from: Vec<u8>, who: Identity, to: Vec<u8> },
    /// Removes the object at `path` (a whole tree for a directory) if it is still `who`.
    Remove { path: Vec<u8>, who: Identity },
    /// Creates the directory `path` if missing (its metadata comes with a later `SetMeta`).
    Mkdir { path: Vec<u8> },
    /// Renames the staged object `staged` to `path` (replacing a file there), if still staged.
    Place { staged: Vec<u8>, path: Vec<u8> },
    /// Makes `path` another name of the object at `existing` (replacing what is at `path`).
    Link { existing: Vec<u8>, path: Vec<u8> },
    /// Sets the metadata of `path`.
    SetMeta { path: Vec<u8>, meta: Meta },
}

#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Journal {
    pub id: String,
    /// The process running the commit (with its start time): another process recovers the
    /// journal only once this one is gone.
    pub pid: u32,
    pub pid_start: u64,
    pub phase: Phase,
    /// What is committed into: SRC, or the new tree of `--to`.
    pub target: Vec<u8>,
    /// Where new content is prepared (on the target's filesystem), removed at the end.
    pub staging: Vec<u8>,
    /// With `--to`: the staging directory becomes the target by one rename at the end.
    pub whole_tree: bool,
    pub ops: Vec<Op>,
}

/// The pid in the name of a temporary file of [`sealed::write_atomic`] (".NAME.tmp.PID").
fn temp_file_owner(p: &Path) -> Option<u32> {
    let name = p.file_name()?.to_str()?;
    name.strip_prefix('.')?.rsplit_once(".tmp.")?.1.parse().ok()
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

impl Journal {
    /// Starts the journal of a commit into `target`, staging in `staging` (written durably
    /// before anything is staged).
    pub fn begin(id: String, target: &Path, staging: &Path, whole_tree: bool) -> Result<Journal> {
        let j = Journal {
            id,
            pid: std::process::id(),
            pid_start: crate::process::own_start_time(),
            phase: Phase::Staging,
            target: bytes(target),
            staging: bytes(staging),
            whole_tree,
            ops: Vec::new(),
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

    pub fn owner_alive(&self) -> bool {
        crate::process::alive(self.pid, self.pid_start)
    }
}

/// Every journal on disk (a damaged one is reported and skipped: it is left for a person).
/// Half-written journal files of dead processes are removed.
pub fn all() -> Vec<Journal> {
    let Ok(entries) = fs::read_dir(journals_dir()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if let Some(pid) = temp_file_owner(&p) {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = fs::remove_file(&p);
            }
            continue;
        }
        if p.extension().and_then(|x| x.to_str()) != Some("journal") {
            continue;
        }
        match fs::read(&p).map_err(|e| e.to_string()).and_then(|b| sealed::unseal(MAGIC, &b)) {
            Ok(j) => out.push(j),
            Err(why) => eprintln!("agentfs: warning: ignoring the commit journal {}: {why}", p.display()),
        }
    }
    out
}
