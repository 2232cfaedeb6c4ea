//! Places an earlier commit of this mount wrote that the mount no longer changes (a file
//! added, committed, then deleted; a rename taken back): SRC goes back to the pinned object
//! there, if it is still what that commit left.

use super::Planner;
use crate::commit::check::Ground;
use crate::commit::journal::{Op, bytes};
use crate::error::Result;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

impl Planner<'_> {
    /// The place of the mount that the place `now` of SRC is (moves of this commit undone).
    fn mount_path_of(&self, now: &Path) -> PathBuf {
        for (to, from) in &self.relocated {
            if let Ok(rest) = now.strip_prefix(from) {
                return to.join(rest);
            }
        }
        now.to_path_buf()
    }

    fn is_covered(&self, k: &Path) -> bool {
        k.ancestors().skip(1).any(|a| self.covered.contains(a))
    }

    pub(super) fn revert_stale(&mut self) -> Result<()> {
        let mut mentioned: HashSet<PathBuf> = self.plan.record.keys().cloned().collect();
        mentioned.extend(self.plan.record.keys().filter_map(|p| self.dest_now(p)));
        mentioned.extend(self.relocated.values().cloned());
        for k in self.inp.trees.base.keys() {
            if mentioned.contains(&k) || self.covered.contains(&k) || self.is_covered(&k) {
                continue;
            }
            self.revert_one(&k)?;
        }
        Ok(())
    }

    fn revert_one(&mut self, k: &Path) -> Result<()> {
        let found = self.find_lenient(k)?;
        let origin = self.origin_below(&self.mount_path_of(k));
        let pinned = origin.clone().map_or(Ground::Absent, Ground::Pin);
        let trees = &self.inp.trees;
        let io = |e: std::io::Error| self.io_conflict(k, &e);
        if trees.same(found.as_ref(), &pinned).map_err(io)? {
            self.plan.forget.push(k.to_path_buf());
            return Ok(());
        }
        let ours = match &found {
            Some(_) => trees.same_tree(k, vec![Ground::Left(k.to_path_buf())]).map_err(io)?,
            None => trees.same(None, &Ground::Left(k.to_path_buf())).map_err(io)?,
        };
        if !ours {
            let why =
                "SRC changed there since the last commit of this mount, and the mount took that commit's change back";
            return Err(self.conflict(k, why));
        }
        self.check_place(k, Some(k))?;
        let pinned_obj = match &origin {
            Some(o) => crate::commit::check::find(self.inp.trees.pin, o).map_err(|e| self.sys(k, &e))?,
            None => None,
        };
        let old = found.as_ref().map(|f| f.id());
        let shown = self.shown(k);
        if let Some(stager) = self.stager.as_mut() {
            match (&pinned_obj, old) {
                (Some(p), _) => {
                    let s = stager.copy(&p.dir, &p.name, &shown)?;
                    self.stale_ops.push(Op::Put { staged: bytes(Path::new(&s.name)), new: s.id, at: bytes(k), old });
                }
                (None, Some(id)) => {
                    let aside = stager.name();
                    self.stale_ops.push(Op::Aside { at: bytes(k), old: id, aside: bytes(Path::new(&aside)) });
                }
                (None, None) => {}
            }
        }
        self.covered.insert(k.to_path_buf());
        self.plan.forget.push(k.to_path_buf());
        self.plan.lines.push(format!("restore {} as pinned", crate::quote::text(k)));
        Ok(())
    }
}
