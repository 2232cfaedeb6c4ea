//! What the upper layer changed, path by path, relative to the lower layer: the input of diff,
//! snapshot and commit.

use crate::lower::LowerPath;
use crate::types::FileKind;
use std::path::PathBuf;

/// How the object at a path differs from the lower layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// The lower object at this path is gone: deleted, moved away, or replaced by what a later
    /// change at the same path puts there.
    Removed,
    /// An object made in the upper layer. A node with several names (hardlinks) is created once
    /// per name, each change carrying the same node id.
    Created,
    /// The lower object from `from` is now at this path; `data` and `meta` say whether its
    /// content or its metadata changed as well.
    Moved { from: LowerPath, data: bool, meta: bool },
    /// The lower object at this path, changed in place.
    Modified { data: bool, meta: bool },
}

/// One change, at `path` (relative to the root of the mount).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub path: PathBuf,
    pub kind: FileKind,
    /// The node now at `path` (0 for [`ChangeKind::Removed`]).
    pub id: u64,
    pub what: ChangeKind,
}

impl Change {
    /// Whether the file's data differs from the lower file it started as (for a moved or
    /// modified file; created objects have no lower file).
    pub fn data_changed(&self) -> bool {
        matches!(self.what, ChangeKind::Moved { data: true, .. } | ChangeKind::Modified { data: true, .. })
    }
}
