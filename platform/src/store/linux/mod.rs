//! Linux upper file data in RAM: small files on the heap, larger ones in shmem files.
//!
//! A shmem file is a memfd (swappable, no mount, no privilege) or, when upper files may be lent
//! to the kernel (passthrough), an unnamed file of a private tmpfs the budget's size. It costs a
//! file descriptor, so files stay on the heap until they grow past [`SMALL_FILE`] (or are
//! lent), and the number of shmem files is bounded: a workload that creates 100k files does not
//! run out of descriptors (past the bound, files stay on the heap).

mod shmem;
mod tmpfs;

use agentfs_core::budget::Budget;
use agentfs_core::store::heap::HeapFile;
use agentfs_core::store::{DataStore, FileData};
use agentfs_core::{Errno, Result};
use parking_lot::RwLock;
use shmem::ShmemFile;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
pub use tmpfs::CappedTmpfs;

/// Files up to this size stay on the heap.
pub const SMALL_FILE: u64 = 64 * 1024;

/// Counts memfds against a limit.
#[derive(Debug)]
struct FdSlots {
    free: AtomicU64,
}

impl FdSlots {
    fn take(&self) -> bool {
        self.free.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| v.checked_sub(1)).is_ok()
    }

    fn give_back(&self) {
        self.free.fetch_add(1, Ordering::AcqRel);
    }
}

/// The Linux data store.
#[derive(Debug)]
pub struct MemStore {
    slots: Arc<FdSlots>,
    /// Where larger files go when the kernel may write them directly; memfds otherwise.
    capped: Option<Arc<CappedTmpfs>>,
}

impl MemStore {
    /// A store using at most `max_memfds` memfds, none of them lent to the kernel.
    pub fn new(max_memfds: u64) -> MemStore {
        MemStore { slots: Arc::new(FdSlots { free: AtomicU64::new(max_memfds) }), capped: None }
    }

    /// A store sized to the process's open-file limit: half of it may be memfds (or files of
    /// `capped`, which may then be lent to the kernel).
    pub fn for_fd_limit(nofile: u64, capped: Option<CappedTmpfs>) -> MemStore {
        MemStore { capped: capped.map(Arc::new), ..MemStore::new(nofile / 2) }
    }
}

impl DataStore for MemStore {
    fn create(&self) -> Result<Box<dyn FileData>> {
        Ok(Box::new(MemFile {
            heap: RwLock::new(HeapFile::default()),
            shmem: OnceLock::new(),
            slots: Arc::clone(&self.slots),
            capped: self.capped.clone(),
        }))
    }

    fn bounds_itself(&self) -> bool {
        self.capped.is_some()
    }

    /// The private tmpfs may hold what the budget leaves once the rest is counted (see
    /// [`CappedTmpfs::fit`]).
    fn budget_used(&self, budget: &Budget) {
        if let Some(tmpfs) = &self.capped {
            // Not what writes in progress reserved: a large write or fallocate into a file of
            // the tmpfs would otherwise shrink the tmpfs by its own size before it lands.
            tmpfs.fit(|| budget.held());
        }
    }
}

/// One file: on the heap while small, in a shmem file (a memfd, or a file of the private tmpfs)
/// once large or asked for (never back). Once set, the shmem file never changes, so its
/// descriptor can be lent out for the file's lifetime.
pub struct MemFile {
    heap: RwLock<HeapFile>,
    shmem: OnceLock<ShmemFile>,
    slots: Arc<FdSlots>,
    capped: Option<Arc<CappedTmpfs>>,
}

impl MemFile {
    /// Moves the data into a shmem file, if a descriptor is available. Returns whether it is there.
    fn promote(&self) -> Result<bool> {
        if self.shmem.get().is_some() {
            return Ok(true);
        }
        let mut heap = self.heap.write();
        if self.shmem.get().is_some() {
            return Ok(true);
        }
        if !self.slots.take() {
            return Ok(false);
        }
        let mfd = match ShmemFile::new(self.capped.as_deref()) {
            Ok(m) => m,
            Err(e) => {
                self.slots.give_back();
                tracing::warn!(%e, "could not make a shmem file; keeping the file on the heap");
                return Ok(false);
            }
        };
        if let Err(e) = copy_heap(&heap, &mfd) {
            self.slots.give_back();
            return Err(e);
        }
        if self.shmem.set(mfd).is_err() {
            self.slots.give_back();
        }
        // The heap copy is stale from now on; free it.
        *heap = HeapFile::default();
        // Its bytes moved from the heap into the private tmpfs, which may hold that much more.
        if let Some(tmpfs) = &self.capped {
            tmpfs.refit();
        }
        Ok(true)
    }

    /// Runs `f` on wherever the data is now.
    fn with<R>(&self, f: impl FnOnce(&dyn FileData) -> R) -> R {
        if let Some(m) = self.shmem.get() {
            return f(m);
        }
        let heap = self.heap.read();
        // Promoted while we waited for the lock: the heap is empty now.
        match self.shmem.get() {
            Some(m) => f(m),
            None => f(&*heap),
        }
    }

    fn grow_to(&self, end: u64) -> Result<()> {
        if end > SMALL_FILE && self.shmem.get().is_none() {
            self.promote()?;
        }
        Ok(())
    }
}

/// Copies a heap file's data (not its holes) and size into a shmem file.
fn copy_heap(heap: &HeapFile, mfd: &ShmemFile) -> Result<()> {
    let len = heap.len();
    let mut buf = vec![0u8; SMALL_FILE as usize];
    let mut pos = 0;
    while pos < len {
        let start = match heap.seek_data(pos) {
            Ok(s) => s,
            Err(Errno::ENXIO) => break,
            Err(e) => return Err(e),
        };
        let stop = heap.seek_hole(start)?;
        let mut p = start;
        while p < stop {
            let want = ((stop - p) as usize).min(buf.len());
            let n = heap.read_at(&mut buf[..want], p)?;
            if n == 0 {
                break;
            }
            mfd.write_at(&buf[..n], p)?;
            p += n as u64;
        }
        pos = stop;
    }
    mfd.set_len(len)
}

impl Drop for MemFile {
    fn drop(&mut self) {
        if self.shmem.get().is_some() {
            self.slots.give_back();
        }
    }
}

impl FileData for MemFile {
    fn len(&self) -> u64 {
        self.with(|d| d.len())
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        self.with(|d| d.read_at(buf, offset))
    }

    fn write_at(&self, data: &[u8], offset: u64) -> Result<()> {
        self.grow_to(offset.saturating_add(data.len() as u64))?;
        self.with(|d| d.write_at(data, offset))
    }

    fn set_len(&self, len: u64) -> Result<()> {
        self.grow_to(len)?;
        self.with(|d| d.set_len(len))
    }

    fn allocated(&self) -> u64 {
        self.with(|d| d.allocated())
    }

    fn growth(&self, offset: u64, len: u64) -> u64 {
        self.with(|d| d.growth(offset, len))
    }

    fn punch_hole(&self, offset: u64, len: u64) -> Result<()> {
        self.with(|d| d.punch_hole(offset, len))
    }

    fn allocate(&self, offset: u64, len: u64) -> Result<()> {
        self.grow_to(offset.saturating_add(len))?;
        self.with(|d| d.allocate(offset, len))
    }

    fn seek_data(&self, offset: u64) -> Result<u64> {
        self.with(|d| d.seek_data(offset))
    }

    fn seek_hole(&self, offset: u64) -> Result<u64> {
        self.with(|d| d.seek_hole(offset))
    }

    fn backing_fd(&self) -> Option<BorrowedFd<'_>> {
        self.shmem.get().and_then(|m| m.backing_fd())
    }

    fn make_backing(&self) -> Result<bool> {
        if self.capped.is_none() {
            return Ok(false);
        }
        self.promote()
    }

    fn modified(&self) -> Option<agentfs_core::Timestamp> {
        self.shmem.get().and_then(|m| m.modified())
    }
}
