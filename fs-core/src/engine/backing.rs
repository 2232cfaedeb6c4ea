//! What a frontend may hand to the kernel for direct I/O (FUSE passthrough): the lower file
//! of a node still read from the lower layer, for reading; the upper data of a node in the
//! upper layer, for reading and writing, where the store's filesystem enforces the budget
//! (see [`crate::upper::UpperFile::lend`]).

use super::Engine;
use crate::FileKind;
use crate::lower::LowerFile;
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

    /// Lends the upper data of node `id` to the kernel for an open (see [`crate::upper::UpperFile::lend`]),
    /// moving it where the kernel may write it if `promote`, and hands its descriptor to
    /// `register`. Only a regular file whose every byte is upper data, without set-id bits or
    /// file capabilities: the kernel's direct writes never reach us, and the SETATTR it sends
    /// to take those away is only trusted for a file lent with a writer (see the frontend's
    /// setattr). Runs as a change: it waits while the engine is frozen, and a freeze waits for
    /// it, so no file is lent behind a freeze's back (see [`Engine::lent_writers`]).
    #[cfg(unix)]
    pub fn lend_upper<T>(
        &self,
        id: u64,
        promote: bool,
        register: impl FnOnce(std::os::fd::BorrowedFd<'_>) -> Option<T>,
    ) -> Option<T> {
        let _change = self.mutation();
        let node = self.nodes.get(&id).map(|n| Arc::clone(&n))?;
        if node.kind != FileKind::Regular || !matches!(self.holds_privileges(&node), Ok(false)) {
            return None;
        }
        let data = node.upper_data().filter(|d| !d.is_partial())?;
        register(data.lend(promote)?)
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
