//! rename, RENAME_NOREPLACE, RENAME_EXCHANGE and RENAME_WHITEOUT.
//!
//! Renaming is a change of two directory maps, whatever is renamed: a lower directory with lower
//! and upper children moves as one node and keeps its content, so there is no EXDEV and no copy,
//! and the cost does not depend on what the directory holds.

use super::names::{NewKind, dec_dir_links, drop_link, inc_dir_links, remove_dir_node};
use super::{Engine, Found};
use crate::dir::{DirBody, Name};
use crate::errno::{Errno, Result};
use crate::node::Node;
use crate::types::{Caller, FileKind, ROOT_ID, RenameFlags, check_name};
use parking_lot::RwLockWriteGuard;
use std::ffi::OsStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Upper bound of a parent chain; a longer one means a cycle, which is a bug.
const MAX_DEPTH: usize = 1 << 16;

/// The directory bodies a rename changes: one, or two distinct ones.
enum Dirs<'a> {
    One(RwLockWriteGuard<'a, DirBody>),
    Two { src: RwLockWriteGuard<'a, DirBody>, dst: RwLockWriteGuard<'a, DirBody> },
}

impl Dirs<'_> {
    fn src_ref(&self) -> &DirBody {
        match self {
            Dirs::One(d) => d,
            Dirs::Two { src, .. } => src,
        }
    }

    fn dst_ref(&self) -> &DirBody {
        match self {
            Dirs::One(d) => d,
            Dirs::Two { dst, .. } => dst,
        }
    }

    fn src(&mut self) -> &mut DirBody {
        match self {
            Dirs::One(d) => d,
            Dirs::Two { src, .. } => src,
        }
    }

    fn dst(&mut self) -> &mut DirBody {
        match self {
            Dirs::One(d) => d,
            Dirs::Two { dst, .. } => dst,
        }
    }
}

/// One rename: the names, the flags, and who it is done for (the owner of a whiteout).
struct Move<'a> {
    name: &'a OsStr,
    newname: &'a OsStr,
    flags: RenameFlags,
    caller: &'a Caller,
    /// Between two directories.
    cross: bool,
}

impl Engine {
    /// Renames `parent/name` to `newparent/newname` (a whiteout, if asked for, is root's).
    pub fn rename(&self, parent: u64, name: &OsStr, newparent: u64, newname: &OsStr, flags: RenameFlags) -> Result<()> {
        self.rename_as(parent, name, newparent, newname, flags, &Caller::ROOT)
    }

    /// Renames `parent/name` to `newparent/newname` for `caller`.
    pub fn rename_as(
        &self,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        flags: RenameFlags,
        caller: &Caller,
    ) -> Result<()> {
        check_name(name)?;
        check_name(newname)?;
        if flags.exchange && (flags.noreplace || flags.whiteout) {
            return Err(Errno::EINVAL);
        }
        let mv = Move { name, newname, flags, caller, cross: parent != newparent };
        let _change = self.mutation();
        let sp = self.node(parent)?;
        let dp = self.node(newparent)?;
        sp.dir()?;
        dp.dir()?;
        let victims = if parent == newparent {
            if name == newname {
                // Renaming a name to itself changes nothing, if the name exists.
                self.dir_read(&sp)?.get(name).ok_or(Errno::ENOENT)?;
                return Ok(());
            }
            let dirs = Dirs::One(self.dir_write(&sp)?);
            self.rename_locked(dirs, &sp, &dp, &mv)?
        } else {
            let _cross = self.rename_lock.lock();
            // Lock an ancestor before its descendant, unrelated directories by id; ancestry
            // cannot change while the rename lock is held.
            let src_first =
                self.is_ancestor(parent, newparent) || (!self.is_ancestor(newparent, parent) && parent < newparent);
            let dirs = if src_first {
                let src = self.dir_write(&sp)?;
                let dst = self.dir_write(&dp)?;
                Dirs::Two { src, dst }
            } else {
                let dst = self.dir_write(&dp)?;
                let src = self.dir_write(&sp)?;
                Dirs::Two { src, dst }
            };
            self.rename_locked(dirs, &sp, &dp, &mv)?
        };
        if let Some(v) = victims {
            self.reclaim_if_unreachable(&v);
            self.maybe_evict(&v);
        }
        Ok(())
    }

    /// The rename itself, with the directories locked. Returns a replaced node, to evict.
    fn rename_locked(
        &self,
        mut dirs: Dirs<'_>,
        sp: &Arc<Node>,
        dp: &Arc<Node>,
        mv: &Move<'_>,
    ) -> Result<Option<Arc<Node>>> {
        let Move { name, newname, flags, cross, .. } = *mv;
        if dirs.dst().removed {
            return Err(Errno::ENOENT);
        }
        let se = dirs.src().get(name).ok_or(Errno::ENOENT)?.clone();
        let de = dirs.dst().get(newname).cloned();
        if flags.noreplace && de.is_some() {
            return Err(Errno::EEXIST);
        }
        if flags.exchange && de.is_none() {
            return Err(Errno::ENOENT);
        }
        let s_origin = dirs.src_ref().origin_of(name, &se);
        let d_origin = de.as_ref().and_then(|e| dirs.dst_ref().origin_of(newname, e));
        let snode = self.resolve(sp.id, Found { body: dirs.src_ref(), name, entry: &se }, false, true)?;
        if cross && snode.kind == FileKind::Directory && (snode.id == dp.id || self.is_ancestor(snode.id, dp.id)) {
            return Err(Errno::EINVAL);
        }
        let dnode = match &de {
            Some(e) => {
                Some(self.resolve(dp.id, Found { body: dirs.dst_ref(), name: newname, entry: e }, false, true)?)
            }
            None => None,
        };

        if let Some(dn) = &dnode {
            if dn.id == snode.id {
                // Two names of one object: POSIX says do nothing.
                return Ok(None);
            }
            let dn_holds_source =
                cross && dn.kind == FileKind::Directory && (dn.id == sp.id || self.is_ancestor(dn.id, sp.id));
            if flags.exchange {
                if dn_holds_source {
                    return Err(Errno::EINVAL);
                }
                dirs.src().retarget(name, dn.id, dn.kind, d_origin);
                dirs.dst().retarget(newname, snode.id, snode.kind, s_origin);
                self.after_move(&snode, sp, dp);
                self.after_move(dn, dp, sp);
                return Ok(None);
            }
            if dn_holds_source {
                return Err(Errno::ENOTEMPTY);
            }
            match (snode.kind == FileKind::Directory, dn.kind == FileKind::Directory) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) => {
                    remove_dir_node(self, dn)?;
                    dec_dir_links(&mut dp.meta.lock());
                }
                (false, false) => drop_link(dn),
            }
        }
        // Made before anything changes, so that a failure (no budget) changes nothing.
        let whiteout = match flags.whiteout {
            true => Some(self.new_node(sp, NewKind::Special(FileKind::CharDevice, 0), 0, mv.caller)?),
            false => None,
        };
        dirs.src().remove(name);
        dirs.dst().insert(Name::from(newname), snode.id, snode.kind, s_origin);
        self.after_move(&snode, sp, dp);
        if let Some(w) = whiteout {
            self.link_new(dirs.src(), sp, name, &w);
        }
        Ok(dnode)
    }

    /// Bookkeeping after `node` moved from directory `from` to directory `to`. Called with both
    /// directories still locked: link counts must change in the same order as the entries, or a
    /// decrement meeting the floor of 2 (see `dec_dir_links`) before its increment is lost.
    fn after_move(&self, node: &Node, from: &Node, to: &Node) {
        if from.id != to.id && node.parent.load(Ordering::Acquire) == from.id {
            node.parent.store(to.id, Ordering::Release);
            let _ = from.children.fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| Some(c.saturating_sub(1)));
            to.children.fetch_add(1, Ordering::AcqRel);
        }
        if node.kind == FileKind::Directory && from.id != to.id {
            dec_dir_links(&mut from.meta.lock());
            inc_dir_links(&mut to.meta.lock());
        }
        node.meta.lock().touch_changed();
        from.meta.lock().touch_modified();
        if from.id != to.id {
            to.meta.lock().touch_modified();
        }
    }

    /// Whether directory `a` is a proper ancestor of directory `b`. Directory nodes stay in
    /// memory while alive, so every parent on the chain is in the node table.
    pub(super) fn is_ancestor(&self, a: u64, b: u64) -> bool {
        let mut cur = b;
        for _ in 0..MAX_DEPTH {
            if cur == ROOT_ID {
                return false;
            }
            let Some(parent) = self.nodes.get(&cur).map(|n| n.parent.load(Ordering::Acquire)) else {
                tracing::error!(id = cur, "a directory on a parent chain is missing from the node table");
                return false;
            };
            if parent == a {
                return true;
            }
            if parent == cur {
                return false;
            }
            cur = parent;
        }
        tracing::error!(a, b, "parent chain too long: cycle?");
        false
    }
}
