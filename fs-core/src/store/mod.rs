//! Upper-layer file data: where the bytes of copied-up and new files live.
//!
//! A [`DataStore`] makes empty [`FileData`] objects. On Linux the platform crate stores data in
//! memfds (RAM, swappable, usable as FUSE passthrough backing files); [`heap::HeapStore`] keeps it
//! in process memory for tests and other platforms.
//!
//! `FileData` is sparse by contract (holes read as zeros and cost nothing), so a later partial
//! copy-up can keep only the written extents of a large lower file in it and read the rest from
//! the lower file, without any change to the engine's operations.

pub mod heap;
mod vec_map;

use crate::errno::Result;

/// The bytes of one upper file. All methods may be called from many threads at once.
pub trait FileData: Send + Sync {
    /// The file size.
    fn len(&self) -> u64;
    /// Whether the size is zero.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Reads at `offset`; returns 0 at or past the end.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize>;
    /// Writes all of `data` at `offset`, extending the size if the write ends past it.
    fn write_at(&self, data: &[u8], offset: u64) -> Result<()>;
    /// Truncates or extends (with a hole) to `len`.
    fn set_len(&self, len: u64) -> Result<()>;
    /// Bytes of memory the data holds now.
    fn allocated(&self) -> u64;
    /// An upper bound of the bytes that writing or allocating `[offset, offset+len)` would add.
    fn growth(&self, offset: u64, len: u64) -> u64;
    /// Deallocates `[offset, offset+len)` so it reads as zeros; the size does not change.
    fn punch_hole(&self, offset: u64, len: u64) -> Result<()>;
    /// Allocates `[offset, offset+len)` (holes become zeros); the size does not change.
    fn allocate(&self, offset: u64, len: u64) -> Result<()>;
    /// `SEEK_DATA`: first data offset at or after `offset`; ENXIO if none before the end.
    fn seek_data(&self, offset: u64) -> Result<u64>;
    /// `SEEK_HOLE`: first hole at or after `offset` (the end counts); ENXIO past the end.
    fn seek_hole(&self, offset: u64) -> Result<u64>;
    /// A file descriptor holding exactly these bytes that the kernel may read and write
    /// directly (FUSE passthrough), if there is one. Only data on a filesystem that enforces
    /// the RAM budget itself has one: the kernel's writes never pass through the budget.
    #[cfg(unix)]
    fn backing_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        None
    }
    /// Moves the data where [`FileData::backing_fd`] gives a descriptor, if the store has such
    /// a place and room for it; returns whether the data is there now.
    fn make_backing(&self) -> Result<bool> {
        Ok(false)
    }
    /// When the bytes last changed, by the store's own clock (so changes the kernel made
    /// through [`FileData::backing_fd`] show); None where the store keeps no such time.
    fn modified(&self) -> Option<crate::types::Timestamp> {
        None
    }
}

/// Makes new, empty upper files.
pub trait DataStore: Send + Sync {
    fn create(&self) -> Result<Box<dyn FileData>>;

    /// Whether the store holds data that the kernel writes without asking the engine, bounded
    /// by a limit of the store's own: it is then told how much of the budget is used
    /// ([`DataStore::budget_used`]) to keep that limit to what the rest leaves free.
    fn bounds_itself(&self) -> bool {
        false
    }

    /// What is used of `budget` moved by a step.
    fn budget_used(&self, _budget: &crate::budget::Budget) {}
}
