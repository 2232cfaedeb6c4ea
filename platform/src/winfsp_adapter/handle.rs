//! An open handle: what WinFsp keeps per `CreateFile` until close.

use super::dir::DirItem;
use super::resolve::NodeRef;
use agentfs_core::Engine;
use parking_lot::Mutex;
use std::sync::Arc;

/// An open file or directory. Dropping it gives back the engine file handle and the node
/// reference.
pub struct Handle {
    engine: Arc<Engine>,
    node: Mutex<NodeRef>,
    /// The engine's handle of an open regular file.
    fh: Mutex<Option<u64>>,
    /// The sorted listing of a directory, made when a listing starts (no marker) and used to
    /// resume after a marker.
    pub(super) listing: Mutex<Option<Arc<Vec<DirItem>>>>,
}

impl Handle {
    pub(super) fn new(engine: &Arc<Engine>, node: NodeRef, fh: Option<u64>) -> Handle {
        Handle { engine: Arc::clone(engine), node: Mutex::new(node), fh: Mutex::new(fh), listing: Mutex::new(None) }
    }

    /// The node this handle is open on.
    pub fn id(&self) -> u64 {
        self.node.lock().id()
    }

    /// The engine's file handle (0, "none", for directories and symlinks).
    pub(super) fn fh(&self) -> u64 {
        self.fh.lock().unwrap_or(agentfs_core::FileRef::NO_HANDLE)
    }

    /// What data requests name.
    pub(super) fn file(&self) -> agentfs_core::FileRef {
        agentfs_core::FileRef::new(self.id(), self.fh())
    }

    /// Points the handle at another node (a file that became a symlink, or back), giving back
    /// the old node's engine handle.
    pub(super) fn replace(&self, node: NodeRef, fh: Option<u64>) {
        let old = std::mem::replace(&mut *self.fh.lock(), fh);
        if let Some(old) = old {
            let _ = self.engine.release(old);
        }
        *self.node.lock() = node;
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(fh) = self.fh.lock().take() {
            let _ = self.engine.release(fh);
        }
    }
}
