//! Paths to nodes, holding engine references while they are used.

use super::status::{NtStatus, Result};
use super::{Adapter, names};
use agentfs_core::{Attr, Engine, Errno, FileKind, ROOT_ID};
use std::ffi::{OsStr, OsString};
use std::sync::Arc;

/// One counted engine reference to a node, given back when dropped.
pub struct NodeRef {
    engine: Arc<Engine>,
    id: u64,
}

impl NodeRef {
    /// Takes over the reference a lookup (or create) just counted on `id`.
    pub fn counted(engine: &Arc<Engine>, id: u64) -> NodeRef {
        NodeRef { engine: Arc::clone(engine), id }
    }

    /// A counted reference to the root.
    pub fn root(engine: &Arc<Engine>) -> Result<NodeRef> {
        engine.lookup_id(ROOT_ID)?;
        Ok(NodeRef::counted(engine, ROOT_ID))
    }

    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for NodeRef {
    fn drop(&mut self) {
        self.engine.forget(self.id, 1);
    }
}

/// A node found by path.
pub struct Found {
    pub node: NodeRef,
    pub attr: Attr,
    /// The names as stored (their case may differ from the path's).
    pub names: Vec<OsString>,
}

impl Adapter {
    /// Looks `name` up in directory `dir`: the exact name, else (ignoring case) the first name
    /// equal to it without case. Returns the node (counted), its attributes and its stored name.
    pub(super) fn lookup_name(&self, dir: u64, name: &OsStr) -> std::result::Result<(NodeRef, Attr, OsString), Errno> {
        match self.engine.lookup(dir, name) {
            Ok(a) => return Ok((NodeRef::counted(&self.engine, a.ino), a, name.to_owned())),
            Err(Errno::ENOENT) if self.cfg.ignore_case => {}
            Err(e) => return Err(e),
        }
        let mut actual = None;
        self.engine.readdir(dir, 0, |e| {
            let dot = e.name == "." || e.name == "..";
            if !dot && names::same(&e.name, name, true) {
                actual = Some(e.name.clone());
                return false;
            }
            true
        })?;
        let actual = actual.ok_or(Errno::ENOENT)?;
        let a = self.engine.lookup(dir, &actual)?;
        Ok((NodeRef::counted(&self.engine, a.ino), a, actual))
    }

    /// Walks `comps` from the root. A missing last component is NAME_NOT_FOUND (or, with
    /// `all_dirs`, where every component must be a directory, PATH_NOT_FOUND like the others).
    fn walk(&self, comps: &[OsString], all_dirs: bool) -> Result<Found> {
        let mut node = NodeRef::root(&self.engine)?;
        let mut attr = self.engine.getattr(ROOT_ID)?;
        let mut stored = Vec::with_capacity(comps.len());
        for (i, c) in comps.iter().enumerate() {
            if attr.kind != FileKind::Directory {
                return Err(NtStatus::OBJECT_PATH_NOT_FOUND);
            }
            let last = i + 1 == comps.len() && !all_dirs;
            let (child, a, name) = self.lookup_name(node.id(), c).map_err(|e| match e {
                Errno::ENOENT if last => NtStatus::OBJECT_NAME_NOT_FOUND,
                Errno::ENOENT | Errno::ENOTDIR => NtStatus::OBJECT_PATH_NOT_FOUND,
                e => NtStatus::from(e),
            })?;
            node = child;
            attr = a;
            stored.push(name);
        }
        if all_dirs && attr.kind != FileKind::Directory {
            return Err(NtStatus::OBJECT_PATH_NOT_FOUND);
        }
        Ok(Found { node, attr, names: stored })
    }

    /// The node at `path`.
    pub fn resolve(&self, path: &[u16]) -> Result<Found> {
        self.walk(&names::components(path)?, false)
    }

    /// The directory holding the last name of `path`, and that name as given.
    pub(super) fn resolve_parent(&self, path: &[u16]) -> Result<(Found, OsString)> {
        let (parent, name) = names::split(path)?;
        Ok((self.walk(&parent, true)?, name))
    }
}
