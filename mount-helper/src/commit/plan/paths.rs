//! Where things are: the pinned object behind a place of the mount, where a place of the mount
//! is in SRC now, and whether a directory of SRC may be written into.

use super::Planner;
use crate::changeset::{Item, What};
use crate::confined::{Identity, errno};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

impl Planner<'_> {
    /// The pinned object shown at `p` if no change of `p` itself says otherwise: through the
    /// moved and created directories above it.
    pub(super) fn origin_below(&self, p: &Path) -> Option<PathBuf> {
        for a in p.ancestors().skip(1).take_while(|a| !a.as_os_str().is_empty()) {
            if let Some(from) = self.moved_dirs.get(a) {
                return Some(from.join(p.strip_prefix(a).unwrap_or(p)));
            }
            if self.created_dirs.contains(a) {
                return None;
            }
        }
        Some(p.to_path_buf())
    }

    /// The pinned object an item's node started as (None for new objects).
    pub(super) fn origin_of(&self, item: &Item) -> Option<PathBuf> {
        match &item.what {
            What::Created => None,
            What::Moved { from, .. } => Some(from.clone()),
            What::Removed | What::Modified { .. } => self.origin_below(&item.path),
        }
    }

    /// Where the place `p` of the mount is in SRC now, before this commit moves or creates the
    /// directories above it (None: below a directory this commit creates).
    pub(super) fn dest_now(&self, p: &Path) -> Option<PathBuf> {
        for a in p.ancestors().skip(1).take_while(|a| !a.as_os_str().is_empty()) {
            if let Some(src) = self.relocated.get(a) {
                return Some(src.join(p.strip_prefix(a).unwrap_or(p)));
            }
            if self.new_dirs.contains(a) {
                return None;
            }
        }
        Some(p.to_path_buf())
    }

    /// Where in SRC the pinned object `origin` is now: where an earlier commit of this mount
    /// moved it, if it is there, else where it was pinned.
    pub(super) fn source_of(&self, origin: &Path) -> PathBuf {
        match self.inp.trees.base.moved_to(origin) {
            Some(to)
                if to != origin && super::super::check::find(self.inp.trees.src, &to).is_ok_and(|f| f.is_some()) =>
            {
                to
            }
            _ => origin.to_path_buf(),
        }
    }

    /// Refuses to write at the place `at` (a path of the mount, `now` in SRC) unless every
    /// directory on the way is a plain directory beneath SRC, on the staging directory's
    /// filesystem, and none of agentfs's own.
    pub(super) fn check_place(&mut self, at: &Path, now: Option<&Path>) -> Result<()> {
        if let Some(name) = crate::owned::owned_component(at) {
            let why =
                format!("{} is agentfs's own directory, which a commit never writes into", name.to_string_lossy());
            return Err(self.conflict(at, &why));
        }
        let Some(parent) = now.and_then(Path::parent) else { return Ok(()) };
        if let Err(why) = self.check_dir(parent) {
            return Err(self.conflict(at, &why));
        }
        Ok(())
    }

    /// Checks the directory `rel` of SRC and those above it (each once).
    fn check_dir(&mut self, rel: &Path) -> std::result::Result<(), String> {
        if let Some(r) = self.checked.get(rel) {
            return r.clone();
        }
        let r = match rel.parent() {
            Some(up) => self.check_dir(up).and_then(|()| self.check_one(rel)),
            None => self.check_one(rel),
        };
        self.checked.insert(rel.to_path_buf(), r.clone());
        r
    }

    pub(super) fn check_one(&self, rel: &Path) -> std::result::Result<(), String> {
        let shown = || {
            if rel.as_os_str().is_empty() { "SRC".to_string() } else { format!("{} in SRC", rel.display()) }
        };
        let dir = self.inp.trees.src.open_dir(rel).map_err(|e| match errno(&e) {
            Some(libc::ELOOP) => format!("{} is a symlink (a commit never follows one)", shown()),
            Some(libc::EXDEV) => format!("{} is another filesystem mounted there", shown()),
            Some(libc::ENOTDIR) | Some(libc::ENOENT) => format!("{} is not a directory any more", shown()),
            _ => format!("cannot open {}: {}", shown(), crate::confined::cause(&e)),
        })?;
        let st = dir.stat_self().map_err(|e| format!("cannot read {}: {e}", shown()))?;
        #[allow(clippy::unnecessary_cast)]
        if st.st_dev as u64 != self.dev {
            return Err(format!(
                "{} is on another filesystem than the staging directory, so nothing can be renamed into it at once",
                shown()
            ));
        }
        if self.inp.owned.contains(&Identity::of(&st)) {
            return Err(format!("{} is one of agentfs's own directories, which a commit never writes into", shown()));
        }
        Ok(())
    }

    /// A system error about the place `rel` of the mount.
    pub(super) fn sys(&self, rel: &Path, e: &std::io::Error) -> Error {
        Error::System(format!("cannot read {}: {}", self.shown(rel).display(), crate::confined::cause(e)))
    }
}
