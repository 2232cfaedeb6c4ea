//! How each inode's opens are served: through the page cache and the daemon, or passed
//! through by the kernel to a backing file: the lower file, for large lower files read only;
//! the upper data, for files in the upper layer (lent by the engine, see
//! `agentfs_core::upper::UpperFile::lend`).
//!
//! The kernel keeps one backing file per inode and wants every open of an inode with a backing
//! to use it, so every open of an inode follows the mode of the first open while any is left.
//! A lower backing must never serve stale data, and the lower layer is never written: while an
//! inode is read through its lower file it may not be copied up, so an open for writing (or a
//! truncate) gets ETXTBSY, as the kernel itself answers when io modes conflict. When the last
//! reader goes, so does the backing; later opens see the upper data. An upper backing is the
//! data itself, so readers and writers share it.

use super::backing::Backing;
use dashmap::DashMap;
use std::sync::Arc;

enum Mode {
    Cached,
    Lower(Arc<Backing>),
    Upper(Arc<Backing>),
}

impl Mode {
    /// What an open of an inode in this mode gets.
    fn decision(&self) -> Decision {
        match self {
            Mode::Cached => Decision::Cached,
            Mode::Lower(backing) | Mode::Upper(backing) => Decision::Passthrough(Arc::clone(backing)),
        }
    }
}

struct InodeIo {
    mode: Mode,
    opens: u64,
}

/// A backing file the first open of an inode may use.
pub enum Lent {
    /// The lower file, for reading only.
    Lower(Backing),
    /// The upper data, for reading and writing.
    Upper(Backing),
}

/// What an open gets.
pub enum Decision {
    /// Page cache and daemon.
    Cached,
    /// Reads (and for upper data, writes) go to the backing file.
    Passthrough(Arc<Backing>),
    /// Refused: the inode is read through its lower file and this open would write.
    Busy,
}

#[derive(Default)]
pub struct IoModes {
    inodes: DashMap<u64, InodeIo>,
}

impl IoModes {
    /// Decides how an open of `ino` is served. `make_backing` is asked only for an inode with
    /// no open yet (and must not lend the lower file to a writer); None means cached.
    pub fn open(&self, ino: u64, write: bool, make_backing: impl FnOnce() -> Option<Lent>) -> Decision {
        let mut e = self.inodes.entry(ino).or_insert(InodeIo { mode: Mode::Cached, opens: 0 });
        if e.opens > 0 {
            if write && matches!(e.mode, Mode::Lower(_)) {
                return Decision::Busy;
            }
            e.opens += 1;
            return e.mode.decision();
        }
        e.opens = 1;
        e.mode = match make_backing() {
            Some(Lent::Lower(b)) => Mode::Lower(Arc::new(b)),
            Some(Lent::Upper(b)) => Mode::Upper(Arc::new(b)),
            None => Mode::Cached,
        };
        e.mode.decision()
    }

    /// An open of `ino` went away; the last one takes the backing with it.
    pub fn release(&self, ino: u64) {
        if let Some(mut e) = self.inodes.get_mut(&ino) {
            e.opens = e.opens.saturating_sub(1);
        }
        self.inodes.remove_if(&ino, |_, e| e.opens == 0);
    }

    /// Whether `ino` is being read through its lower file (so it must not change).
    pub fn reads_lower(&self, ino: u64) -> bool {
        self.inodes.get(&ino).is_some_and(|e| e.opens > 0 && matches!(e.mode, Mode::Lower(_)))
    }
}
