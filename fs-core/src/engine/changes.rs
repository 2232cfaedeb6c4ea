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
        let root = self.node(ROOT_ID)?;
        self.walk_changes(&root, Path::new(""), Some(LowerPath::root()), &mut out)?;
        Ok(out)
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

    /// The changes inside a directory whose listing is still the lower one: every entry is the
    /// lower object at its place, and only those holding upper state (or directories, for what
    /// is below them) need a look. The common case, kept cheap: most of a big tree is like this.
    fn walk_unchanged_listing(
        &self,
        entries: &BTreeMap<Name, Entry>,
        path: &Path,
        out: &mut Vec<Change>,
    ) -> Result<()> {
        for (name, e) in entries {
            let Some(node) = self.nodes.get(&e.id).map(|n| Arc::clone(&n)) else { continue };
            let is_dir = node.kind == FileKind::Directory;
            if !is_dir && !node.pinned.load(std::sync::atomic::Ordering::Acquire) {
                continue;
            }
            let here = path.join(&**name);
            let (data, meta) = Self::node_changes(&node);
            if data || meta {
                out.push(Change {
                    path: here.clone(),
                    kind: node.kind,
                    id: e.id,
                    what: ChangeKind::Modified { data, meta },
                });
            }
            if is_dir {
                self.walk_changes(&node, &here, e.origin.clone(), out)?;
            }
        }
        Ok(())
    }

    /// The changes inside directory `dir`, shown at `path`, whose content started as the lower
    /// directory `base` (`None`: started empty).
    fn walk_changes(&self, dir: &Arc<Node>, path: &Path, base: Option<LowerPath>, out: &mut Vec<Change>) -> Result<()> {
        let (entries, listing_changed): (BTreeMap<Name, Entry>, bool) = {
            let body = dir.dir()?.read();
            // Never listed: nothing below it was ever reached, so nothing there changed.
            if !body.is_loaded() {
                return Ok(());
            }
            (body.entries().map(|(n, e)| (Arc::clone(n), e.clone())).collect(), body.is_changed())
        };
        if base.is_some() && !listing_changed {
            return self.walk_unchanged_listing(&entries, path, out);
        }
        let lower: BTreeMap<OsString, FileKind> = match &base {
            Some(b) => self.lower.read_dir(b)?.into_iter().map(|e| (e.name, e.kind)).collect(),
            None => BTreeMap::new(),
        };
        let same_object = |name: &std::ffi::OsStr, e: &Entry| {
            base.as_ref().is_some_and(|b| lower.contains_key(name) && e.origin.as_ref() == Some(&b.child(name)))
        };
        for (name, kind) in &lower {
            if !entries.get(name.as_os_str()).is_some_and(|e| same_object(name, e)) {
                out.push(Change { path: path.join(name), kind: *kind, id: 0, what: ChangeKind::Removed });
            }
        }
        for (name, e) in &entries {
            let here = path.join(&**name);
            let node = self.nodes.get(&e.id).map(|n| Arc::clone(&n));
            let kind = node.as_ref().map_or(e.kind, |n| n.kind);
            if same_object(name, e) {
                // Not in memory: it holds nothing of the upper layer.
                let Some(node) = node else { continue };
                let (data, meta) = Self::node_changes(&node);
                if data || meta {
                    out.push(Change { path: here.clone(), kind, id: e.id, what: ChangeKind::Modified { data, meta } });
                }
                if kind == FileKind::Directory {
                    self.walk_changes(&node, &here, e.origin.clone(), out)?;
                }
                continue;
            }
            match &e.origin {
                Some(from) => {
                    let (data, meta) = node.as_deref().map_or((false, false), Self::node_changes);
                    let what = ChangeKind::Moved { from: from.clone(), data, meta };
                    out.push(Change { path: here.clone(), kind, id: e.id, what });
                    if let (Some(node), FileKind::Directory) = (&node, kind) {
                        self.walk_changes(node, &here, Some(from.clone()), out)?;
                    }
                }
                None => {
                    let Some(node) = node else {
                        tracing::error!(id = e.id, path = ?here, "an upper node is missing from the node table");
                        return Err(Errno::EIO);
                    };
                    out.push(Change { path: here.clone(), kind, id: e.id, what: ChangeKind::Created });
                    if kind == FileKind::Directory {
                        self.walk_changes(&node, &here, None, out)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The path of a change, for messages: "." for the root.
pub fn display_path(p: &Path) -> PathBuf {
    if p.as_os_str().is_empty() { PathBuf::from(".") } else { p.to_path_buf() }
}
