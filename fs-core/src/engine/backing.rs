//! What a frontend may hand to the kernel for direct reading (FUSE passthrough): the lower file
//! of a node that is still read from the lower layer.
//!
//! Upper data is never handed out: a kernel writing to it directly would bypass the RAM budget,
//! and the kernel wants every open of an inode with a backing file to use it.

use super::Engine;
use crate::lower::LowerFile;
use std::sync::Arc;

impl Engine {
    /// The lower file a read-only open of node `id` may pass through to: the node's data is
    /// still its lower file, of at least `min_size` bytes. The caller must keep the node from
    /// being copied up while it reads from it.
    pub fn lower_backing(&self, id: u64, min_size: u64) -> Option<Arc<dyn LowerFile>> {
        let node = self.nodes.get(&id).map(|n| Arc::clone(&n))?;
        if node.kind != crate::FileKind::Regular || node.upper_data().is_some() || node.meta.lock().size < min_size {
            return None;
        }
        self.open_lower(&node).ok().flatten()
    }
}
