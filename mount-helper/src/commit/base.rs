//! What the last commit of a mount left in SRC, path by path. A later commit of the same mount
//! compares SRC with it (as well as with the pin): SRC as the last commit left it is no
//! conflict, so a mount can be committed again and again as work goes on.

use crate::confined::{Identity, Meta};
use crate::error::Result;
use crate::runtime::{ensure_private_dir, records_dir};
use crate::sealed;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"AGFSBAS2";

/// What an object's content is, as far as a commit cares.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Content {
    File { size: u64, hash: [u8; 32] },
    Symlink { target: Vec<u8> },
    Dir,
    Other { kind: u32, rdev: u64 },
}

/// An object the last commit left (or `Absent`: it removed what was there).
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Left {
    Absent,
    Object {
        id: Identity,
        /// With `id`, proof that the object was not touched since (any change moves it).
        ctime: (i64, u32),
        mtime: (i64, u32),
        meta: Meta,
        content: Content,
        /// The path in the pin of the lower object that was moved here.
        origin: Option<Vec<u8>>,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Base {
    /// Relative path (bytes) -> what the last commit left there.
    pub paths: BTreeMap<Vec<u8>, Left>,
}

fn file_of(mount_id: &str) -> PathBuf {
    records_dir().join(format!("{mount_id}.base"))
}

fn key(rel: &Path) -> Vec<u8> {
    rel.as_os_str().as_encoded_bytes().to_vec()
}

impl Base {
    /// The base of mount `mount_id` (empty before its first commit, or if unreadable).
    pub fn load(mount_id: &str) -> Base {
        fs::read(file_of(mount_id)).ok().and_then(|b| sealed::unseal(MAGIC, &b).ok()).unwrap_or_default()
    }

    pub fn save(&self, mount_id: &str) -> Result<()> {
        ensure_private_dir(&records_dir())?;
        sealed::write_atomic(&file_of(mount_id), &sealed::seal(MAGIC, self)?)
    }

    pub fn get(&self, rel: &Path) -> Option<&Left> {
        self.paths.get(&key(rel))
    }

    pub fn set(&mut self, rel: &Path, left: Left) {
        self.paths.insert(key(rel), left);
    }

    pub fn forget(&mut self, rel: &Path) {
        self.paths.remove(&key(rel));
    }

    /// Every recorded path.
    pub fn keys(&self) -> Vec<PathBuf> {
        self.paths.keys().map(|k| super::journal::path(k)).collect()
    }

    /// Where the last commit moved the pinned object `origin` (or the directory holding it).
    pub fn moved_to(&self, origin: &Path) -> Option<PathBuf> {
        let mut best: Option<(usize, PathBuf)> = None;
        for (k, left) in &self.paths {
            let Left::Object { origin: Some(o), .. } = left else { continue };
            let o = super::journal::path(o);
            if let Ok(rest) = origin.strip_prefix(&o) {
                let depth = o.components().count();
                if best.as_ref().is_none_or(|(d, _)| depth > *d) {
                    best = Some((depth, super::journal::path(k).join(rest)));
                }
            }
        }
        best.map(|(_, p)| p)
    }

    /// The recorded children of directory `rel`.
    pub fn children(&self, rel: &Path) -> Vec<(std::ffi::OsString, &Left)> {
        let mut out = Vec::new();
        for (k, left) in &self.paths {
            let p = super::journal::path(k);
            if p.parent() == Some(rel) {
                if let Some(n) = p.file_name() {
                    out.push((n.to_os_string(), left));
                }
            }
        }
        out
    }
}

/// Forgets the base of a mount that is gone.
pub fn remove(mount_id: &str) {
    let _ = fs::remove_file(file_of(mount_id));
}
