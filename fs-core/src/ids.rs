//! Node ids (== st_ino == d_ino).
//!
//! A lower object keeps its own inode number when it lives on the lower root's device, so tools
//! that cache inode numbers (git's index) see the numbers they recorded, and two lower names of
//! one inode (hardlinks) are one node without any table. Objects on other devices (nested mounts,
//! btrfs subvolumes) and objects created in the upper layer get ids from disjoint ranges.

use crate::types::ROOT_ID;
use dashmap::DashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Lower inode numbers at or above this value are remapped.
pub const FOREIGN_BASE: u64 = 1 << 56;
/// First id of objects created in the upper layer.
pub const UPPER_BASE: u64 = 1 << 57;

#[derive(Debug)]
pub struct IdMap {
    root_dev: u64,
    root_ino: u64,
    foreign: DashMap<(u64, u64), u64>,
    next_foreign: AtomicU64,
    next_upper: AtomicU64,
}

impl IdMap {
    pub fn new(root_dev: u64, root_ino: u64) -> IdMap {
        IdMap {
            root_dev,
            root_ino,
            foreign: DashMap::new(),
            next_foreign: AtomicU64::new(FOREIGN_BASE),
            next_upper: AtomicU64::new(UPPER_BASE),
        }
    }

    /// The id of the lower object (dev, ino); equal for equal inputs for the life of the mount.
    pub fn lower(&self, dev: u64, ino: u64) -> u64 {
        if dev == self.root_dev {
            if ino == self.root_ino {
                return ROOT_ID;
            }
            if ino > ROOT_ID && ino < FOREIGN_BASE {
                return ino;
            }
        }
        *self.foreign.entry((dev, ino)).or_insert_with(|| self.next_foreign.fetch_add(1, Ordering::Relaxed))
    }

    /// A fresh id for an object created in the upper layer.
    pub fn upper(&self) -> u64 {
        self.next_upper.fetch_add(1, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_disjoint() {
        let m = IdMap::new(7, 256);
        assert_eq!(m.lower(7, 256), ROOT_ID);
        assert_eq!(m.lower(7, 300), 300);
        assert_eq!(m.lower(7, 1), FOREIGN_BASE);
        assert_eq!(m.lower(8, 300), FOREIGN_BASE + 1);
        assert_eq!(m.lower(8, 300), FOREIGN_BASE + 1);
        assert_eq!(m.lower(8, 256), FOREIGN_BASE + 2);
        assert_eq!(m.upper(), UPPER_BASE);
        assert_eq!(m.upper(), UPPER_BASE + 1);
    }
}
