//! Cloning a directory tree with std::fs: the pins of Windows (ReFS block cloning, or a copy),
//! built and tested on every OS. The Unix pins use [`crate::tree_copy`], which works through
//! directory descriptors and keeps owners and xattrs.
//!
//! A clone is made in two steps:
//! 1. [`plan`] walks the source (iteratively, never following a symlink) and lists what to make:
//!    directories (parents before children), regular files, symlinks, and the further names of
//!    hardlinked files;
//! 2. [`execute`] makes it: directories, then files in parallel through a [`FileCloner`] (a
//!    block clone or a copy), symlinks and hardlinks; then modes or read-only flags and times,
//!    directories deepest first so that filling them does not change their times.
//!
//! [`clone_ranges`] splits a file into the calls ReFS block cloning needs.

mod exec;
mod ranges;
#[cfg(windows)]
pub mod refs;

pub use exec::{CopyCloner, FileCloner, execute};
pub use ranges::{MAX_CLONE_CALL, clone_ranges};

use crate::file_id::{self, FileId};
use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

/// Progress of a copy, readable while it runs.
#[derive(Debug, Default)]
pub struct Progress {
    pub files: AtomicU64,
    pub dirs: AtomicU64,
    pub bytes: AtomicU64,
}

/// A regular file to clone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileItem {
    pub rel: PathBuf,
    pub size: u64,
}

/// What to make, every path relative to the roots.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TreePlan {
    /// Directories, each after its parent (the root, "", is not listed).
    pub dirs: Vec<PathBuf>,
    pub files: Vec<FileItem>,
    /// (name, target, target is a directory).
    pub symlinks: Vec<(PathBuf, PathBuf, bool)>,
    /// (further name, first name) of hardlinked files.
    pub links: Vec<(PathBuf, PathBuf)>,
    /// What cannot be made by path (FIFOs, sockets, devices): left out, with a warning.
    pub skipped: Vec<PathBuf>,
    /// Bytes of all files (hardlinks counted once).
    pub bytes: u64,
}

/// Walks the tree at `src` and plans its clone, leaving out the top-level names `skip_top`.
pub fn plan(src: &Path, skip_top: &[OsString]) -> io::Result<TreePlan> {
    let mut out = TreePlan::default();
    let mut first_names: HashMap<FileId, PathBuf> = HashMap::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let mut names: Vec<OsString> =
            std::fs::read_dir(src.join(&rel))?.map(|e| e.map(|e| e.file_name())).collect::<io::Result<_>>()?;
        // A stable order: the same tree always gives the same plan.
        names.sort();
        for name in names {
            if rel.as_os_str().is_empty() && skip_top.contains(&name) {
                continue;
            }
            let child = rel.join(&name);
            let path = src.join(&child);
            let md = std::fs::symlink_metadata(&path)?;
            let t = md.file_type();
            if t.is_symlink() {
                let target = std::fs::read_link(&path)?;
                let is_dir = std::fs::metadata(&path).is_ok_and(|m| m.is_dir());
                out.symlinks.push((child, target, is_dir));
            } else if t.is_dir() {
                out.dirs.push(child.clone());
                todo.push(child);
            } else if t.is_file() {
                let id = file_id::of(&path, &md)?;
                if id.nlink > 1 {
                    if let Some(first) = first_names.get(&id) {
                        out.links.push((child, first.clone()));
                        continue;
                    }
                    first_names.insert(id, child.clone());
                }
                out.bytes += md.len();
                out.files.push(FileItem { rel: child, size: md.len() });
            } else {
                out.skipped.push(child);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
