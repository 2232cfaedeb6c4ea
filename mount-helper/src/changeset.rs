//! The changes of a mount as the commands use them: checked paths, kinds, and what each change
//! means to a person (added, modified, deleted, renamed, metadata).

use crate::control::{WireChange, WireWhat};
use crate::error::{Error, Result};
use agentfs_core::FileKind;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum What {
    /// The lower object at this path is gone (deleted, moved away, or replaced).
    Removed,
    /// New in the upper layer.
    Created,
    /// The lower object from `from` is here now.
    Moved { from: PathBuf, data: bool, meta: bool },
    /// The lower object here changed in place.
    Modified { data: bool, meta: bool },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// Relative to the mount's root; never empty, absolute or with "..".
    pub path: PathBuf,
    pub kind: FileKind,
    pub id: u64,
    pub what: What,
}

pub struct ChangeSet {
    pub items: Vec<Item>,
    removed: HashSet<PathBuf>,
}

/// A relative path of normal components only (what the daemon sends must never lead outside).
fn checked(bytes: &[u8]) -> Result<PathBuf> {
    let p = Path::new(OsStr::from_bytes(bytes));
    if p.as_os_str().is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(Error::System(format!("the daemon sent an unusable path {p:?}")));
    }
    Ok(p.to_path_buf())
}

impl ChangeSet {
    pub fn from_wire(wire: Vec<WireChange>) -> Result<ChangeSet> {
        let mut items = Vec::with_capacity(wire.len());
        for w in wire {
            let kind = FileKind::from_mode(w.mode_type)
                .ok_or_else(|| Error::System(format!("the daemon sent an unknown file type {:o}", w.mode_type)))?;
            let what = match w.what {
                WireWhat::Removed => What::Removed,
                WireWhat::Created => What::Created,
                WireWhat::Moved { from, data, meta } => What::Moved { from: checked(&from)?, data, meta },
                WireWhat::Modified { data, meta } => What::Modified { data, meta },
            };
            items.push(Item { path: checked(&w.path)?, kind, id: w.id, what });
        }
        let removed = items.iter().filter(|i| i.what == What::Removed).map(|i| i.path.clone()).collect();
        Ok(ChangeSet { items, removed })
    }

    /// Whether the lower object at `path` is gone from where it was.
    pub fn is_removed(&self, path: &Path) -> bool {
        self.removed.contains(path)
    }

    /// Whether the lower object at `path` left it by a move (a rename, as a person says).
    pub fn moved_away(&self, path: &Path) -> bool {
        self.is_removed(path) && self.items.iter().any(|i| matches!(&i.what, What::Moved { from, .. } if from == path))
    }
}

/// How `diff` names a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Added,
    Modified,
    Deleted,
    Renamed,
    Metadata,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Added => "added",
            Verdict::Modified => "modified",
            Verdict::Deleted => "deleted",
            Verdict::Renamed => "renamed",
            Verdict::Metadata => "metadata",
        }
    }
}

pub fn kind_name(k: FileKind) -> &'static str {
    match k {
        FileKind::Regular => "file",
        FileKind::Directory => "dir",
        FileKind::Symlink => "symlink",
        FileKind::Fifo => "fifo",
        FileKind::Socket => "socket",
        FileKind::CharDevice => "char-device",
        FileKind::BlockDevice => "block-device",
    }
}
