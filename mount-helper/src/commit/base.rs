//! What the last commit of a mount left in SRC, path by path. A later commit of the same mount
//! compares SRC with it (as well as with the pin): SRC as the last commit left it is no
//! conflict, so a mount can be committed again and again as work goes on.

use crate::error::Result;
use crate::runtime::{ensure_private_dir, records_dir};
use crate::sealed;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"AGFSBAS1";

/// What is at a path, as far as a commit cares.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Summary {
    Absent,
    File { size: u64, mtime: (i64, i64), perm: u32 },
    Symlink { target: Vec<u8> },
    Dir,
    Other { rdev: u64 },
}

/// The summary of what is at `p` now.
pub fn summary(p: &Path) -> std::io::Result<Summary> {
    let md = match fs::symlink_metadata(p) {
        Ok(md) => md,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Summary::Absent),
        Err(e) => return Err(e),
    };
    Ok(if md.is_file() {
        Summary::File { size: md.len(), mtime: (md.mtime(), md.mtime_nsec()), perm: md.mode() & 0o7777 }
    } else if md.is_dir() {
        Summary::Dir
    } else if md.file_type().is_symlink() {
        Summary::Symlink { target: fs::read_link(p)?.into_os_string().into_encoded_bytes() }
    } else {
        Summary::Other { rdev: md.rdev() }
    })
}

#[derive(Clone, Debug, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Base {
    /// Relative path (bytes) -> what the last commit left there.
    pub paths: BTreeMap<Vec<u8>, Summary>,
}

fn file_of(mount_id: &str) -> PathBuf {
    records_dir().join(format!("{mount_id}.base"))
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

    /// Whether SRC's object at `rel` (at `abs`) is what the last commit left there.
    pub fn left(&self, rel: &Path, abs: &Path) -> std::io::Result<bool> {
        match self.paths.get(rel.as_os_str().as_encoded_bytes()) {
            Some(s) => Ok(summary(abs)? == *s),
            None => Ok(false),
        }
    }
}

/// Forgets the base of a mount that is gone.
pub fn remove(mount_id: &str) {
    let _ = fs::remove_file(file_of(mount_id));
}
