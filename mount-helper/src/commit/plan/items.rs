//! Planning each change: checking SRC where it acts, staging what it needs, and the operations.

use super::{Planner, Way};
use crate::changeset::kind_name;
use crate::changeset::{Item, What};
use crate::commit::base::Left;
use crate::commit::check::{Found, Ground};
use crate::commit::journal::{Op, bytes};
use crate::commit::shown;
use crate::commit::stage::Staged;
use crate::confined::Identity;
use crate::error::{Error, Result};
use agentfs_core::FileKind;
use std::ffi::OsString;
use std::path::Path;

impl Planner<'_> {
    /// A fresh name in the staging directory (a placeholder in a dry run).
    fn aside_name(&mut self) -> OsString {
        self.stager.as_mut().map_or_else(|| OsString::from("-"), |s| s.name())
    }

    /// Whether the base says the last commit left `found` at `now` (the very object).
    fn left_here(&self, now: &Path, found: &Found) -> bool {
        matches!(self.inp.trees.base.get(now), Some(Left::Object { id, .. }) if *id == found.id())
    }

    /// First pass, in the mount's order: which created and moved items SRC already shows, and
    /// which moved objects are renamed from where (the places below them depend on it).
    pub(super) fn decide(&mut self, item: &Item) -> Result<()> {
        let p = item.path.clone();
        let way = match &item.what {
            What::Moved { from, data, .. } => {
                if item.kind == FileKind::Regular && *data {
                    Some(Way::Stage)
                } else if item.kind != FileKind::Directory && !self.removed_origins.contains(from) {
                    Some(Way::Link)
                } else {
                    Some(Way::Detach)
                }
            }
            What::Created => None,
            _ => return Ok(()),
        };
        let done = self.already_done(item, way)?;
        match (&item.what, way) {
            _ if done => {
                self.done.insert(p);
            }
            (What::Created, _) if item.kind == FileKind::Directory => {
                self.new_dirs.insert(p);
            }
            (What::Moved { from, .. }, Some(Way::Detach)) => {
                self.relocated.insert(p, self.source_of(from));
                self.detached_origins.insert(from.clone());
            }
            _ => {}
        }
        if let Some(w) = way {
            self.ways.insert(item.path.clone(), w);
        }
        Ok(())
    }

    /// Whether SRC already shows a created or moved item as the mount does (an earlier commit
    /// did it). A directory, or a place whose pinned object leaves, counts only if it is the
    /// very object the last commit left there.
    fn already_done(&mut self, item: &Item, way: Option<Way>) -> Result<bool> {
        let now = self.dest_now(&item.path);
        let Some(found) = self.find(now.as_deref())? else { return Ok(false) };
        let now = now.unwrap_or_default();
        if !shown::shows(self.inp.client, item.id, item.kind, Some(&found))? {
            return Ok(false);
        }
        if item.kind == FileKind::Directory || self.removed_paths.contains(&item.path) {
            return Ok(self.left_here(&now, &found));
        }
        if let (Some(Way::Link), What::Moved { from, .. }) = (way, &item.what) {
            let src = self.source_of(from);
            return Ok(self.find(Some(&src))?.is_some_and(|f| f.id() == found.id()));
        }
        Ok(true)
    }

    /// What is at the place `p` when something is put there: nothing, or what the last commit
    /// of this mount left (replaced in one exchange). Anything else is a conflict.
    fn replaced(&mut self, p: &Path) -> Result<Option<Identity>> {
        if self.cleared.contains(p) {
            return Ok(None);
        }
        let now = self.dest_now(p);
        let Some(found) = self.find(now.as_deref())? else { return Ok(None) };
        let now = now.unwrap_or_default();
        let ours =
            self.inp.trees.same_tree(&now, vec![Ground::Left(now.clone())]).map_err(|e| self.io_conflict(&now, &e))?;
        if !ours {
            return Err(self.conflict(p, "SRC has something there that the mount did not see"));
        }
        self.covered.insert(now);
        Ok(Some(found.id()))
    }

    /// A removed object: moved aside if SRC still holds it as pinned (all the way down).
    pub(super) fn removed(&mut self, item: &Item) -> Result<bool> {
        let p = &item.path;
        let origin = self.origin_below(p);
        if origin.as_ref().is_some_and(|o| self.detached_origins.contains(o)) {
            self.cleared.insert(p.clone());
            return Ok(false);
        }
        // What a later change puts here is there already: it stays.
        if self.done.contains(p) {
            return Ok(false);
        }
        let now = self.dest_now(p);
        let Some(found) = self.find(now.as_deref())? else {
            self.cleared.insert(p.clone());
            return Ok(false);
        };
        let now = now.unwrap_or_default();
        let grounds = self.inp.trees.grounds(&now, origin.as_deref());
        if !self.inp.trees.same_tree(&now, grounds).map_err(|e| self.io_conflict(&now, &e))? {
            return Err(self.changed_conflict(p));
        }
        self.check_place(p, Some(&now))?;
        let aside = self.aside_name();
        self.main.push(Op::Aside { at: bytes(p), old: found.id(), aside: bytes(Path::new(&aside)) });
        self.cleared.insert(p.clone());
        self.covered.insert(now);
        Ok(true)
    }

    /// A new object: staged, then put where nothing is (or what the last commit left).
    pub(super) fn created(&mut self, item: &Item) -> Result<bool> {
        if self.done.contains(&item.path) {
            return Ok(false);
        }
        let p = item.path.clone();
        self.check_place(&p, self.dest_now(&p).as_deref())?;
        let old = self.replaced(&p)?;
        let shown = self.shown(&p);
        let Some(stager) = self.stager.as_mut() else { return Ok(true) };
        let staged = match item.kind {
            FileKind::Directory => {
                let (s, meta) = stager.dir(self.inp.client, item.id, &shown)?;
                let op = Op::SetMeta { at: bytes(&p), who: s.id, meta: meta.clone(), old: meta };
                self.dir_meta.push((p.clone(), op));
                s
            }
            FileKind::Regular => match self.first.get(&item.id).cloned() {
                Some(first) => stager.link(stager.staging, &first.name, first.id, &shown)?,
                None => {
                    let s = stager.file(self.inp.client, item.id, None, &shown)?;
                    self.first.insert(item.id, s.clone());
                    s
                }
            },
            kind => stager.special(self.inp.client, item.id, kind, &shown)?,
        };
        self.put(&staged, &p, old);
        Ok(true)
    }

    /// A lower object at a new place: renamed there, linked there, or staged anew.
    pub(super) fn moved(&mut self, item: &Item) -> Result<bool> {
        let What::Moved { from, meta, .. } = &item.what else { return Ok(false) };
        if self.done.contains(&item.path) {
            return Ok(false);
        }
        let p = item.path.clone();
        self.check_place(&p, self.dest_now(&p).as_deref())?;
        let old = self.replaced(&p)?;
        match self.ways.get(&p).copied().unwrap_or(Way::Detach) {
            Way::Detach => self.detach(item, from, *meta, old)?,
            Way::Link => {
                let from_first = self.first.contains_key(&item.id);
                if let Some(s) = self.another_name(item, from)? {
                    self.put(&s, &p, old);
                    if *meta && !from_first {
                        let m = shown::meta(self.inp.client, item.id, item.kind)?;
                        let f = self.find(Some(&self.source_of(from)))?.ok_or_else(|| self.gone(&p, from))?;
                        self.main.push(Op::SetMeta { at: bytes(&p), who: s.id, meta: m, old: f.om.meta });
                    }
                }
            }
            Way::Stage => {
                if let Some(s) = self.stage_from_pin(item, from)? {
                    self.put(&s, &p, old);
                }
            }
        }
        Ok(true)
    }

    fn gone(&self, p: &Path, from: &Path) -> Error {
        self.conflict(p, &format!("what it was moved from ({}) is gone from SRC", from.display()))
    }

    /// A moved object renamed from where it is in SRC now; its metadata checked where the
    /// mount changed it.
    fn detach(&mut self, item: &Item, from: &Path, meta: bool, old: Option<Identity>) -> Result<()> {
        let p = item.path.clone();
        let src = self.relocated.get(&p).cloned().unwrap_or_else(|| self.source_of(from));
        let f = self.find(Some(&src))?.ok_or_else(|| self.gone(&p, from))?;
        if shown::kind_of(f.kind()) != Some(item.kind) {
            return Err(
                self.conflict(&p, &format!("{} is no longer a {} in SRC", from.display(), kind_name(item.kind)))
            );
        }
        if meta {
            let grounds = self.inp.trees.grounds(&src, Some(from));
            let same = self.inp.trees.which(Some(&f), &grounds).map_err(|e| self.sys(&p, &e))?.is_some();
            if !same && !shown::shows(self.inp.client, item.id, item.kind, Some(&f))? {
                return Err(self.changed_conflict(&p));
            }
        }
        self.check_place(&src, Some(&src))?;
        let aside = self.aside_name();
        let at = Op::Aside { at: bytes(&src), old: f.id(), aside: bytes(Path::new(&aside)) };
        self.detach_ops.push((src.components().count(), at));
        let s = Staged { name: aside, id: f.id() };
        self.put(&s, &p, old);
        if meta {
            let m = shown::meta(self.inp.client, item.id, item.kind)?;
            let op = Op::SetMeta { at: bytes(&p), who: f.id(), meta: m, old: f.om.meta.clone() };
            if item.kind == FileKind::Directory { self.dir_meta.push((p, op)) } else { self.main.push(op) }
        }
        self.covered.insert(src);
        Ok(())
    }

    /// Another name of an object that stays where it is (or of content staged for its node).
    fn another_name(&mut self, item: &Item, from: &Path) -> Result<Option<Staged>> {
        let shown = self.shown(&item.path);
        if let (Some(first), Some(stager)) = (self.first.get(&item.id).cloned(), self.stager.as_mut()) {
            return stager.link(stager.staging, &first.name, first.id, &shown).map(Some);
        }
        let src = self.source_of(from);
        let f = self.find(Some(&src))?.ok_or_else(|| self.gone(&item.path, from))?;
        // The new name must lead to the very object the mount shows: as pinned, or as left.
        let grounds = self.inp.trees.grounds(&src, Some(from));
        if self.inp.trees.which(Some(&f), &grounds).map_err(|e| self.io_conflict(&src, &e))?.is_none() {
            return Err(
                self.conflict(&item.path, &format!("{} changed in SRC since the mount was pinned", from.display()))
            );
        }
        self.check_place(&src, Some(&src))?;
        // Linked after the commit point: before it, SRC is not touched at all (a link moves
        // the file's ctime).
        let staged = self.aside_name();
        self.link_ops.push(Op::Link { at: bytes(&src), who: f.id(), staged: bytes(Path::new(&staged)) });
        Ok(Some(Staged { name: staged, id: f.id() }))
    }

    /// New content of node `item.id` over the pinned file `origin` (its changed ranges).
    fn stage_from_pin(&mut self, item: &Item, origin: &Path) -> Result<Option<Staged>> {
        let shown = self.shown(&item.path);
        if let (Some(first), Some(stager)) = (self.first.get(&item.id).cloned(), self.stager.as_mut()) {
            return stager.link(stager.staging, &first.name, first.id, &shown).map(Some);
        }
        if self.stager.is_none() {
            return Ok(None);
        }
        let (pdir, name) = self.inp.trees.pin.parent_of(origin).map_err(|e| self.sys(&item.path, &e))?;
        let Some(stager) = self.stager.as_mut() else { return Ok(None) };
        let s = stager.file(self.inp.client, item.id, Some((&pdir, name)), &shown)?;
        self.first.insert(item.id, s.clone());
        Ok(Some(s))
    }

    /// A lower object changed in place: new content exchanged for the old, or new metadata.
    pub(super) fn modified(&mut self, item: &Item) -> Result<bool> {
        let What::Modified { data, .. } = item.what else { return Ok(false) };
        let p = item.path.clone();
        let now = self.dest_now(&p);
        let found = self.find(now.as_deref())?;
        let now = now.unwrap_or_default();
        // Already as the mount shows it (cheap to rule out: the times differ unless it is)?
        if shown::shows(self.inp.client, item.id, item.kind, found.as_ref())? {
            return Ok(false);
        }
        let origin = self.origin_below(&p);
        let grounds = self.inp.trees.grounds(&now, origin.as_deref());
        if self.inp.trees.which(found.as_ref(), &grounds).map_err(|e| self.io_conflict(&now, &e))?.is_none() {
            return Err(self.changed_conflict(&p));
        }
        let f = found.ok_or_else(|| self.conflict(&p, "it is gone from SRC"))?;
        self.check_place(&p, Some(&now))?;
        if data && item.kind == FileKind::Regular {
            let staged = match origin {
                Some(o) => self.stage_from_pin(item, &o)?,
                None => None,
            };
            if let Some(s) = staged {
                self.put(&s, &p, Some(f.id()));
            }
            return Ok(true);
        }
        let m = shown::meta(self.inp.client, item.id, item.kind)?;
        let op = Op::SetMeta { at: bytes(&p), who: f.id(), meta: m, old: f.om.meta.clone() };
        if item.kind == FileKind::Directory {
            self.dir_meta.push((p, op))
        } else {
            self.main.push(op)
        }
        Ok(true)
    }
}
