//! What a frontend may hand to the kernel for direct I/O (FUSE passthrough): the lower file
//! of a node still read from the lower layer, for reading; the upper data of a node in the
//! upper layer, for reading and writing, where the store's filesystem enforces the budget
//! (see [`UpperFile::lend`]).

use super::Engine;
use crate::FileKind;
use crate::lower::LowerFile;
use crate::upper::UpperFile;
use std::sync::Arc;
use std::sync::atomic::Ordering;

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
    /// byte is upper data. The kernel's writes to it never reach us; what a write takes away
    /// (set-id bits, capabilities) the kernel asks for itself, as a SETATTR that changes
    /// nothing and a REMOVEXATTR (see the frontend's setattr).
    /// Lending waits while the engine is frozen, like a change: a freeze cannot stop the
    /// kernel's writes to what is lent (see [`Engine::lent_writers`]).
    pub fn upper_backing(&self, id: u64) -> Option<Arc<UpperFile>> {
        let _change = self.mutation();
        let node = self.nodes.get(&id).map(|n| Arc::clone(&n))?;
        if node.kind != FileKind::Regular {
            return None;
        }
        node.upper_data().filter(|d| !d.is_partial())
    }

    /// Whether node `id`'s upper data was ever lent to the kernel.
    pub fn upper_lent(&self, id: u64) -> bool {
        self.nodes.get(&id).and_then(|n| n.upper_data()).is_some_and(|d| d.is_lent())
    }

    /// How many files the kernel may be writing directly now: lent, with handles open for
    /// writing. A freeze stops every change but those.
    pub fn lent_writers(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.writers.load(Ordering::Acquire) > 0 && n.upper_data().is_some_and(|d| d.is_lent()))
            .count()
    }
}
