//! Reading back what the upper layer holds: the list of changes against the lower layer, and a
//! freeze that holds every change still while it is read.

use super::Engine;
use crate::changes::{Change, ChangeKind};
use crate::dir::{Entry, Name};
use crate::errno::{Errno, Result};
use crate::lower::LowerPath;
use crate::node::Node;
use crate::types::{FileKind, ROOT_ID};
use crate::upper::Layout;
use parking_lot::{RwLockReadGuard, RwLockWriteGuard};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// While held, nothing changes the upper layer: every operation that would waits.
pub struct Frozen<'a> {
    _gate: RwLockWriteGuard<'a, ()>,
}

impl Engine {
    /// Stops every change until the returned guard is dropped (reads go on). Operations in
    /// flight finish first.
    pub fn freeze(&self) -> Frozen<'_> {
        Frozen { _gate: self.gate.write() }
    }

    /// Held by every operation that changes the upper layer, once, at its entry point.
    pub(super) fn mutation(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read()
    }

    /// Every difference between what the mount shows and the lower layer, directories before
    /// what they hold, removals in a directory before the rest, names in byte order. Hold
    /// [`Engine::freeze`] for a consistent list.
    pub fn changes(&self) -> Result<Vec<Change>> {
        let mut out = Vec::new();
        self.for_each_change(|c| {
            out.push(c);
            Ok(())
        })?;
        Ok(out)
    }

    /// [`Engine::changes`] one at a time, in the same order, without holding them all: `emit`
    /// gets each change as it is found and may stop the walk with an error. The walk keeps one
    /// frame per directory level on the heap (never the stack), so any depth is fine.
    pub fn for_each_change(&self, mut emit: impl FnMut(Change) -> Result<()>) -> Result<()> {
        let root = self.node(ROOT_ID)?;
        // The names from the root to the directory being walked.
        let mut at: Vec<Name> = Vec::new();
        let mut stack = Vec::new();
        if let Some(frame) = self.open_frame(&root, Some(LowerPath::root()), &at, &mut emit)? {
            stack.push(frame);
        }
        while let Some(top) = stack.last_mut() {
            let Some((name, e)) = top.entries.next() else {
                stack.pop();
                at.pop();
                continue;
            };
            at.push(Arc::clone(&name));
            let next = self.visit_entry(top, &name, &e, &at, &mut emit)?;
            let frame = match next {
                Some((node, base)) => self.open_frame(&node, base, &at, &mut emit)?,
                None => None,
            };
            match frame {
                Some(f) => stack.push(f),
                None => {
                    at.pop();
                }
            }
        }
        Ok(())
    }

    /// Which bytes of node `id` differ from its lower file; `None` while its data is still the
    /// lower file (or it is not a regular file).
    pub fn upper_layout(&self, id: u64) -> Result<Option<Layout>> {
        Ok(self.node(id)?.upper_data().map(|d| d.layout()))
    }

    /// Whether a node's data and its metadata differ from its lower object's.
    fn node_changes(node: &Node) -> (bool, bool) {
        (node.upper_data().is_some(), node.meta.lock().changed)
    }

    /// Starts the walk of directory `dir` (at `at`, whose content started as the lower
    /// directory `base`, or empty): emits the removals in it and returns the frame that walks
    /// its entries; None if nothing below it can have changed (it was never listed).
    fn open_frame(
        &self,
        dir: &Node,
        base: Option<LowerPath>,
        at: &[Name],
        emit: &mut impl FnMut(Change) -> Result<()>,
    ) -> Result<Option<Frame>> {
        let (entries, removed) = {
            let body = dir.dir()?.read();
            if !body.is_loaded() {
                return Ok(None);
            }
            let mut entries: Vec<(Name, Entry)> = body.entries().map(|(n, e)| (Arc::clone(n), e.clone())).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            // An unchanged listing is the lower one: every entry is the lower object at its
            // place. A changed one is compared with the lower listing.
            let lower = match (&base, body.is_changed()) {
                (Some(_), false) => None,
                (Some(b), true) => Some(self.lower.read_dir(b)?.into_iter().map(|e| (e.name, e.kind)).collect()),
                (None, _) => Some(BTreeMap::new()),
            };
            let frame = Frame { base, lower, entries: entries.into_iter() };
            let removed: Vec<(OsString, FileKind)> = frame
                .lower
                .iter()
                .flatten()
                .filter(|(name, _)| !body.get(name).is_some_and(|e| frame.same_object(e)))
                .map(|(n, k)| (n.clone(), *k))
                .collect();
            (frame, removed)
        };
        for (name, kind) in removed {
            let mut path = join(at);
            path.push(name);
            emit(Change { path, kind, id: 0, what: ChangeKind::Removed })?;
        }
        Ok(Some(entries))
    }

    /// Emits the change of one entry of `frame`'s directory (named by `at`); returns the
    /// directory to walk next, with the lower directory its content started as.
    fn visit_entry(
        &self,
        frame: &Frame,
        name: &Name,
        e: &Entry,
        at: &[Name],
        emit: &mut impl FnMut(Change) -> Result<()>,
    ) -> Result<Option<(Arc<Node>, Option<LowerPath>)>> {
        let node = self.nodes.get(&e.id).map(|n| Arc::clone(&n));
        if frame.same_object(e) {
            // Not in memory: it holds nothing of the upper layer.
            let Some(node) = node else { return Ok(None) };
            let is_dir = node.kind == FileKind::Directory;
            if !is_dir && !node.pinned.load(Ordering::Acquire) {
                return Ok(None);
            }
            let (data, meta) = Self::node_changes(&node);
            if data || meta {
                emit(Change { path: join(at), kind: node.kind, id: e.id, what: ChangeKind::Modified { data, meta } })?;
            }
            return Ok(is_dir.then(|| (node, e.origin_in(frame.base.as_ref(), name))));
        }
        let kind = node.as_ref().map_or(e.kind, |n| n.kind);
        match &e.origin_in(frame.base.as_ref(), name) {
            Some(from) => {
                let (data, meta) = node.as_deref().map_or((false, false), Self::node_changes);
                let what = ChangeKind::Moved { from: from.clone(), data, meta };
                emit(Change { path: join(at), kind, id: e.id, what })?;
                Ok(node.filter(|_| kind == FileKind::Directory).map(|n| (n, Some(from.clone()))))
            }
            None => {
                let Some(node) = node else {
                    tracing::error!(id = e.id, path = ?join(at), "an upper node is missing from the node table");
                    return Err(Errno::EIO);
                };
                emit(Change { path: join(at), kind, id: e.id, what: ChangeKind::Created })?;
                Ok((kind == FileKind::Directory).then_some((node, None)))
            }
        }
    }
}

/// One directory level of the change walk.
struct Frame {
    /// The lower directory the content started as (None: started empty).
    base: Option<LowerPath>,
    /// Its lower listing, when the overlay changed the directory (None: unchanged, so every
    /// entry is the lower object at its place).
    lower: Option<BTreeMap<OsString, FileKind>>,
    /// The entries still to walk, in name order.
    entries: std::vec::IntoIter<(Name, Entry)>,
}

impl Frame {
    /// Whether entry `e` is the lower object that was at this place.
    fn same_object(&self, e: &Entry) -> bool {
        self.base.is_some() && e.in_place()
    }
}

/// The path made of `names`.
fn join(names: &[Name]) -> PathBuf {
    let mut p = PathBuf::with_capacity(names.iter().map(|n| n.len() + 1).sum());
    for n in names {
        p.push(&**n);
    }
    p
}

/// The path of a change, for messages: "." for the root.
pub fn display_path(p: &Path) -> PathBuf {
    if p.as_os_str().is_empty() { PathBuf::from(".") } else { p.to_path_buf() }
}
