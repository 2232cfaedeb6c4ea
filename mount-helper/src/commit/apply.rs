//! Applying and undoing the operations of a journal, through confined directory handles.
//!
//! Each operation is one rename or exchange (or a metadata change) and can be told done or not
//! by the identities of the objects it names, so running it again after a crash, or undoing it,
//! is safe at any point. A step that finds something it did not plan for (a concurrent writer,
//! a directory swapped for a symlink) fails instead of guessing.

use super::faults;
use super::journal::{Op, path};
use crate::confined::{Dir, Identity, errno, split};
use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;

/// Where the operations of one journal act.
pub struct Places {
    /// The target root (SRC, or the parent of `--to DIR`).
    pub root: Dir,
    /// This commit's staging directory.
    pub staging: Dir,
    /// Every object the journal places (a step that finds one of them knows it ran already).
    pub placed: HashSet<Identity>,
}

impl Places {
    pub fn new(root: Dir, staging: Dir, ops: &[Op]) -> Places {
        let placed = ops
            .iter()
            .filter_map(|op| match op {
                Op::Put { new, .. } => Some(*new),
                _ => None,
            })
            .collect();
        Places { root, staging, placed }
    }

    /// The parent directory of `at` and its last name; None if the parent is not there.
    fn parent(&self, at: &[u8]) -> io::Result<Option<(Dir, OsString)>> {
        let at = path(at);
        let (parent, name) = split(&at)?;
        match self.root.open_dir(parent) {
            Ok(d) => Ok(Some((d, name.to_os_string()))),
            Err(e) if errno(&e) == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn unexpected(dir: &Dir, name: &OsStr, what: &str) -> io::Error {
    io::Error::other(format!("{} {what}", dir.path_of(name).display()))
}

/// Runs operation `n`; nothing happens if it was done already.
pub fn forward(p: &Places, n: usize, op: &Op) -> io::Result<()> {
    faults::apply(n)?;
    match op {
        Op::Aside { at, old, aside } => {
            let aside = OsStr::from_bytes(aside);
            if p.staging.identity(aside)? == Some(*old) {
                return Ok(());
            }
            let Some((dir, name)) = p.parent(at)? else { return Ok(()) };
            match dir.identity(&name)? {
                Some(id) if id == *old => {
                    dir.move_to(&name, &p.staging, aside)?;
                    verify_moved(&p.staging, aside, *old, &dir, &name)
                }
                Some(id) if p.placed.contains(&id) => Ok(()),
                Some(_) => Err(unexpected(&dir, &name, "was replaced by something else during the commit")),
                None => Ok(()),
            }
        }
        Op::Put { staged, new, at, old } => {
            let staged = OsStr::from_bytes(staged);
            let (dir, name) = p.parent(at)?.ok_or_else(|| missing_parent(at))?;
            let now = dir.identity(&name)?;
            if now == Some(*new) {
                return Ok(());
            }
            if p.staging.identity(staged)? != Some(*new) {
                return Err(unexpected(&p.staging, staged, "is gone from the staging directory"));
            }
            if now != *old {
                return Err(unexpected(&dir, &name, "changed during the commit"));
            }
            match old {
                Some(o) => {
                    p.staging.exchange(staged, &dir, &name)?;
                    // A writer that swapped the object in between: swap back and stop.
                    if p.staging.identity(staged)? != Some(*o) {
                        let _ = p.staging.exchange(staged, &dir, &name);
                        return Err(unexpected(&dir, &name, "changed during the commit"));
                    }
                }
                None => p.staging.move_to(staged, &dir, &name)?,
            }
            Ok(())
        }
        Op::SetMeta { at, who, meta, .. } => {
            let (dir, name) = p.parent(at)?.ok_or_else(|| missing_parent(at))?;
            dir.set_meta(&name, *who, meta)
        }
        Op::Link { at, who, staged } => {
            let staged = OsStr::from_bytes(staged);
            // Run again after the Put that follows it, this makes a name that goes with staging.
            if p.staging.identity(staged)? == Some(*who) {
                return Ok(());
            }
            let (dir, name) = p.parent(at)?.ok_or_else(|| missing_parent(at))?;
            if dir.identity(&name)? != Some(*who) {
                return Err(unexpected(&dir, &name, "changed during the commit"));
            }
            dir.link_to(&name, &p.staging, staged)?;
            if p.staging.identity(staged)? != Some(*who) {
                let _ = p.staging.unlink(staged);
                return Err(unexpected(&dir, &name, "changed during the commit"));
            }
            Ok(())
        }
    }
}

/// After moving `name` of `dir` aside as `aside`: if a concurrent writer had put something else
/// there in between, move it back and fail.
fn verify_moved(staging: &Dir, aside: &OsStr, want: Identity, dir: &Dir, name: &OsStr) -> io::Result<()> {
    if staging.identity(aside)? == Some(want) {
        return Ok(());
    }
    let _ = staging.move_to(aside, dir, name);
    Err(unexpected(dir, name, "was replaced by something else during the commit"))
}

fn missing_parent(at: &[u8]) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("the directory holding {} is gone", path(at).display()))
}

/// Undoes operation `n`; nothing happens if it was not done (or was undone already).
pub fn undo(p: &Places, n: usize, op: &Op) -> io::Result<()> {
    faults::undo(n)?;
    match op {
        // The extra name is in the staging directory, which goes.
        Op::Link { .. } => Ok(()),
        Op::SetMeta { at, who, old, .. } => {
            let Some((dir, name)) = p.parent(at)? else { return Ok(()) };
            if dir.identity(&name)? != Some(*who) {
                return Ok(());
            }
            dir.set_meta(&name, *who, old)
        }
        Op::Put { staged, new, at, old } => {
            let staged = OsStr::from_bytes(staged);
            let Some((dir, name)) = p.parent(at)? else { return Ok(()) };
            if dir.identity(&name)? != Some(*new) {
                return Ok(());
            }
            match old {
                Some(o) if p.staging.identity(staged)? == Some(*o) => dir.exchange(&name, &p.staging, staged),
                Some(_) => Err(unexpected(&p.staging, staged, "is gone, so what it replaced cannot come back")),
                None => dir.move_to(&name, &p.staging, staged),
            }
        }
        Op::Aside { at, old, aside } => {
            let aside = OsStr::from_bytes(aside);
            if p.staging.identity(aside)? != Some(*old) {
                return Ok(());
            }
            let (dir, name) = p.parent(at)?.ok_or_else(|| missing_parent(at))?;
            p.staging.move_to(aside, &dir, &name)
        }
    }
}
