//! The memfd store, and its private tmpfs for files lent to the kernel.
#![cfg(target_os = "linux")]

use agentfs_core::store::{DataStore, FileData};
use agentfs_core::upper::UpperFile;
use agentfs_core::{Errno, budget::Budget, budget::Charge, budget::ChargedData};
use agentfs_platform::store::{CappedTmpfs, MemStore, SMALL_FILE};
use std::sync::Arc;

/// Whether the data moved off the heap into a shmem file (which, unlike the heap, keeps a
/// modification time).
fn in_shmem(f: &dyn FileData) -> bool {
    f.modified().is_some()
}

#[test]
fn small_files_stay_on_the_heap_and_large_ones_move_to_a_memfd() {
    let s = MemStore::new(10);
    let f = s.create().unwrap();
    f.write_at(b"small", 0).unwrap();
    assert!(!in_shmem(&*f));
    f.write_at(&vec![7u8; 100_000], SMALL_FILE).unwrap();
    assert!(in_shmem(&*f));
    assert!(f.backing_fd().is_none(), "a memfd is never lent: nothing would bound the kernel's writes");
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
    assert_eq!(files.iter().filter(|f| in_shmem(&***f)).count(), 2);
    for f in &files {
        assert_eq!(f.len(), 2 * SMALL_FILE);
    }
    drop(files);
    let f = s.create().unwrap();
    f.set_len(10 * SMALL_FILE).unwrap();
    assert!(in_shmem(&*f), "slots come back when files go");
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

/// Only root may make the private tmpfs (as only root may use FUSE passthrough).
fn capped_store(size: u64) -> Option<MemStore> {
    match CappedTmpfs::new(size) {
        Ok(t) => Some(MemStore::for_fd_limit(64, Some(t))),
        Err(e) => {
            eprintln!("skipped: no private tmpfs here ({e})");
            None
        }
    }
}

#[test]
fn lent_data_takes_in_what_the_kernel_wrote_and_the_tmpfs_bounds_it() {
    let Some(s) = capped_store(1 << 20) else { return };
    let budget = Budget::new(1 << 30);
    let file = Arc::new(UpperFile::whole(ChargedData::new(s.create().unwrap(), &budget)));
    file.write_at(b"own", 0).unwrap();
    assert!(file.lend(false).is_none(), "a small file is lent only when a writer asks");
    let fd = file.lend(true).expect("moved to the private tmpfs and lent").try_clone_to_owned().unwrap();
    assert_eq!(file.kernel_change(), None);
    // What the daemon writes itself is not the kernel's doing.
    std::thread::sleep(std::time::Duration::from_millis(20));
    file.write_at(b"OWN", 0).unwrap();
    assert_eq!(file.kernel_change(), None);
    // Writes through the lent descriptor, as the kernel's passthrough makes them.
    std::thread::sleep(std::time::Duration::from_millis(20));
    rustix::io::pwrite(&fd, &[9u8; 256 << 10], 4096).unwrap();
    assert!(file.kernel_change().is_some());
    assert_eq!(file.kernel_change(), None, "told once");
    assert_eq!(file.len(), 4096 + (256 << 10));
    assert_eq!(budget.used(), 4096 + (256 << 10), "the charge follows the kernel's pages");
    let mut b = [0u8; 3];
    file.read_at(&mut b, 0).unwrap();
    assert_eq!(&b, b"OWN");
    // The tmpfs holds at most its size: past it, the kernel's writes fail.
    let err = rustix::io::pwrite(&fd, &vec![1u8; 2 << 20], 0).map(|n| n as u64);
    assert!(matches!(err, Err(rustix::io::Errno::NOSPC)) || err.is_ok_and(|n| n <= 1 << 20), "{err:?}");
    drop(fd);
    drop(file);
    assert_eq!(budget.used(), 0);
}

#[test]
fn the_private_tmpfs_keeps_to_what_the_rest_of_the_budget_leaves() {
    let Some(s) = capped_store(8 << 20) else { return };
    assert!(s.bounds_itself());
    let budget = Budget::new(8 << 20);
    let file = Arc::new(UpperFile::whole(ChargedData::new(s.create().unwrap(), &budget)));
    let fd = file.lend(true).expect("lent").try_clone_to_owned().unwrap();
    // Writes through the lent descriptor are taken in when their mtime moves.
    std::thread::sleep(std::time::Duration::from_millis(20));
    rustix::io::pwrite(&fd, &[1u8; 1 << 20], 0).unwrap();
    assert!(file.kernel_change().is_some());
    assert_eq!(budget.used(), 1 << 20, "the kernel's MiB, charged");
    // 5 MiB more charged elsewhere (the heap, the bookkeeping): 2 MiB more fit in the tmpfs.
    let elsewhere = Charge::new(&budget, 5 << 20).unwrap();
    s.budget_used(&budget);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let more = rustix::io::pwrite(&fd, &vec![2u8; 4 << 20], 1 << 20).map(|n| n as u64);
    assert!(matches!(more, Err(rustix::io::Errno::NOSPC)) || more.is_ok_and(|n| n <= 2 << 20), "{more:?}");
    let _ = file.kernel_change();
    assert!(budget.used() <= 8 << 20, "{} used", budget.used());
    // Charged past what the budget leaves it: the tmpfs keeps what it holds, takes no more.
    let past = Charge::new(&budget, budget.limit() - budget.used()).unwrap();
    s.budget_used(&budget);
    let none = rustix::io::pwrite(&fd, &[3u8; 4096], 8 << 20);
    assert!(matches!(none, Err(rustix::io::Errno::NOSPC)), "{none:?}");
    // Room comes back as the rest goes.
    drop((past, elsewhere));
    s.budget_used(&budget);
    rustix::io::pwrite(&fd, &vec![4u8; 6 << 20], 0).unwrap();
}
