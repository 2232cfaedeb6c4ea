//! The memfd store.
#![cfg(target_os = "linux")]

use agentfs_core::store::DataStore;
use agentfs_core::{Errno, budget::Budget, budget::ChargedData};
use agentfs_platform::store::{MemStore, SMALL_FILE};

#[test]
fn small_files_stay_on_the_heap_and_large_ones_move_to_a_memfd() {
    let s = MemStore::new(10);
    let f = s.create().unwrap();
    f.write_at(b"small", 0).unwrap();
    assert!(f.backing_fd().is_none());
    f.write_at(&vec![7u8; 100_000], SMALL_FILE).unwrap();
    assert!(f.backing_fd().is_some());
    assert_eq!(f.len(), SMALL_FILE + 100_000);
    let mut b = [0u8; 5];
    f.read_at(&mut b, 0).unwrap();
    assert_eq!(&b, b"small");
    f.read_at(&mut b, 1000).unwrap();
    assert_eq!(b, [0; 5]);
    assert_eq!(f.seek_data(8192).unwrap(), SMALL_FILE, "the heap's hole survives promotion");
}

#[test]
fn memfds_are_bounded_and_files_past_the_bound_stay_on_the_heap() {
    let s = MemStore::new(2);
    let files: Vec<_> = (0..4).map(|_| s.create().unwrap()).collect();
    for f in &files {
        f.write_at(&vec![1u8; 2 * SMALL_FILE as usize], 0).unwrap();
    }
    assert_eq!(files.iter().filter(|f| f.backing_fd().is_some()).count(), 2);
    for f in &files {
        assert_eq!(f.len(), 2 * SMALL_FILE);
    }
    drop(files);
    let f = s.create().unwrap();
    f.set_len(10 * SMALL_FILE).unwrap();
    assert!(f.backing_fd().is_some(), "slots come back when files go");
}

#[test]
fn memfd_accounting_follows_pages() {
    let s = MemStore::new(4);
    let budget = Budget::new(10 << 20);
    let d = ChargedData::new(s.create().unwrap(), &budget);
    d.write_at(&vec![1u8; 1 << 20], 0).unwrap();
    assert_eq!(budget.used(), 1 << 20);
    d.punch_hole(0, 512 << 10).unwrap();
    assert_eq!(budget.used(), 512 << 10);
    assert_eq!(d.data().growth(0, 1 << 20), 512 << 10);
    assert_eq!(d.write_at(&vec![1u8; 10 << 20], 1 << 20).unwrap_err(), Errno::ENOSPC);
    drop(d);
    assert_eq!(budget.used(), 0);
}

#[test]
fn memfd_offsets_past_4gib() {
    let s = MemStore::new(1);
    let f = s.create().unwrap();
    f.write_at(b"far", 5 << 30).unwrap();
    assert_eq!(f.len(), (5 << 30) + 3);
    assert!(f.allocated() <= 64 << 10);
    assert_eq!(f.seek_data(0).unwrap(), 5 << 30);
}
