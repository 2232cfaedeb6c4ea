//! What a frontend may hand to the kernel for direct I/O (FUSE passthrough): the lower file
//! of a node still read from the lower layer, for reading; the upper data of a node in the
//! upper layer, for reading and writing, where the store's filesystem enforces the budget
//! (see [`UpperFile::lend`]).

use super::Engine;
use crate::FileKind;
use crate::lower::LowerFile;
use crate::upper::UpperFile;
use std::sync::Arc;

impl Engine {
    /// The lower file a read-only open of node `id` may pass through to: the node's data is
    /// still its lower file, of at least `min_size` bytes. The caller must keep the node from
    /// being copied up while it reads from it.
    pub fn lower_backing(&self, id: u64, min_size: u64) -> Option<Arc<dyn LowerFile>> {
        let node = self.nodes.get(&id).map(|n| Arc::clone(&n))?;
        if node.kind != FileKind::Regular || node.upper_data().is_some() || node.meta.lock().size < min_size {
            return None;
        }
        self.open_lower(&node).ok().flatten()
    }

    /// The upper data an open of node `id` may lend the kernel: a regular file whose every
    /// byte is upper data. Files with set-id bits or file capabilities are never lent: the
    /// kernel's own writes would not take them away, as a write must.
    pub fn upper_backing(&self, id: u64) -> Option<Arc<UpperFile>> {
        let node = self.nodes.get(&id).map(|n| Arc::clone(&n))?;
        if node.kind != FileKind::Regular {
            return None;
        }
        let data = node.upper_data().filter(|d| !d.is_partial())?;
        match self.holds_privileges(&node) {
            Ok(false) => Some(data),
            _ => None,
        }
    }
}
