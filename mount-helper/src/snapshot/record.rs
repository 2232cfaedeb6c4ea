//! The record of a snapshot, one sealed file per name in the state directory.

use crate::error::{Error, Result};
use crate::runtime::ensure_private_dir;
use crate::sealed;
use crate::state::snapshots_dir;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"AGFSSNP2";

/// How a snapshot's tree is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Holder {
    /// A read-only btrfs subvolume.
    Subvolume,
    /// A directory tree of clones or copies, its entries marked immutable where allowed.
    Tree,
}

#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct SnapshotRecord {
    pub name: String,
    pub uid: u32,
    /// The directory whose state this is (the SRC of the mount it was taken from).
    pub source: Vec<u8>,
    /// Seconds since the epoch.
    pub created: i64,
    pub holder: Holder,
    /// What to delete: the subvolume or the directory holding the tree.
    pub container: Vec<u8>,
    /// The tree itself (what a branch mounts), inside `container`.
    pub root: Vec<u8>,
    /// Objects the mount had changed, and bytes of file data written for them.
    pub changed_objects: u64,
    pub changed_bytes: u64,
    /// How long taking it took.
    pub millis: u64,
    /// Whether its entries are immutable (a tree made by root; a subvolume always is).
    pub sealed: bool,
    /// While it is being made: the process making it (and its start time); `gc` removes what
    /// a dead one left. (0, 0) once complete.
    pub maker: (u32, u64),
}

fn path(b: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(b))
}

impl SnapshotRecord {
    pub fn source_path(&self) -> PathBuf {
        path(&self.source)
    }
    pub fn container_path(&self) -> PathBuf {
        path(&self.container)
    }
    pub fn root_path(&self) -> PathBuf {
        path(&self.root)
    }

    /// Whether it is complete (not being made, nor left half made by a dead process).
    pub fn complete(&self) -> bool {
        self.maker == (0, 0)
    }
}

fn record_path(name: &str) -> PathBuf {
    snapshots_dir().join(format!("{name}.snap"))
}

/// Checks a snapshot name: it names files and appears after `@`, so it must be plain.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !name.contains("..");
    if ok {
        return Ok(());
    }
    Err(Error::Input(format!(
        "snapshot name {name:?} is not allowed: use 1 to 64 letters, digits, '.', '_' or '-', starting with a \
         letter or digit, with no '/' and no '..'"
    )))
}

pub fn save(rec: &SnapshotRecord) -> Result<()> {
    let dir = snapshots_dir();
    ensure_private_dir(&dir)?;
    sealed::write_atomic(&record_path(&rec.name), &sealed::seal(MAGIC, rec)?)
}

pub fn remove(name: &str) -> Result<()> {
    match fs::remove_file(record_path(name)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("cannot remove the snapshot record", &record_path(name), &e)),
    }
}

fn read(p: &Path) -> Result<SnapshotRecord> {
    let bytes = fs::read(p).map_err(|e| Error::io("cannot read the snapshot record", p, &e))?;
    sealed::unseal(MAGIC, &bytes).map_err(|why| {
        Error::System(format!("the snapshot record {} is damaged ({why}); remove it by hand", p.display()))
    })
}

/// The snapshot called `name`, if there is one.
pub fn load(name: &str) -> Result<Option<SnapshotRecord>> {
    validate_name(name)?;
    let p = record_path(name);
    if !p.exists() {
        return Ok(None);
    }
    read(&p).map(Some)
}

/// Every snapshot, by name.
pub fn list() -> Result<Vec<SnapshotRecord>> {
    let Ok(entries) = fs::read_dir(snapshots_dir()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        if e.path().extension().and_then(|x| x.to_str()) == Some("snap") {
            out.push(read(&e.path())?);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain() {
        for good in ["a", "v1.2", "before-refactor", "x_y", &"n".repeat(64)] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".hidden", "-x", "a/b", "a..b", "..", "a b", "é", &"n".repeat(65), "@x"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
