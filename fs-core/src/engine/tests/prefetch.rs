//! Reading ahead across the files of a listing.

use super::os;
use crate::lower::fake::FakeLower;
use crate::store::heap::HeapStore;
use crate::types::FileRef;
use crate::{Config, Engine, ROOT_ID};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[test]
fn the_first_read_of_a_listed_file_opens_the_next_ones_ahead_and_their_reads_use_them() {
    let mut l = FakeLower::new();
    for i in 0..10 {
        l.file(&format!("d/f{i}"), format!("content {i}").as_bytes());
    }
    let lower = Arc::new(l);
    let cfg = Config { tracks_opens: false, read_ahead_files: 4, ..Config::default() };
    let e = Engine::new(lower.clone(), Arc::new(HeapStore), cfg).unwrap();
    let dir = e.lookup(ROOT_ID, os("d")).unwrap().ino;
    let mut ids = Vec::new();
    e.readdirplus(dir, 0, |d, a| {
        if d.name != "." && d.name != ".." {
            ids.push((d.name.to_string_lossy().into_owned(), a.ino));
        }
        true
    })
    .unwrap();
    assert_eq!(ids.len(), 10);
    let opens = || lower.counters.open.load(Ordering::Relaxed);
    let mut buf = [0u8; 64];
    let n = e.read(FileRef::inode(ids[0].1), 0, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"content 0");
    let t = Instant::now();
    while opens() < 5 && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(opens(), 5, "f0 and the four files after it");
    for (name, id) in &ids[1..4] {
        let n = e.read(FileRef::inode(*id), 0, &mut buf).unwrap();
        assert_eq!(&buf[..n], format!("content {}", &name[1..]).as_bytes());
    }
    // Reading f1..f3 moved the window on: by now f5..f7 are read ahead too, f8 and f9 are not.
    let t = Instant::now();
    while opens() < 8 && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(opens(), 8, "reads of files read ahead open nothing; the window stays {} files", 4);
    for (i, (_, id)) in ids.iter().enumerate() {
        let n = e.read(FileRef::inode(*id), 0, &mut buf).unwrap();
        assert_eq!(&buf[..n], format!("content {i}").as_bytes());
    }
}

#[test]
fn without_read_ahead_nothing_is_opened_before_it_is_read() {
    let mut l = FakeLower::new();
    for i in 0..5 {
        l.file(&format!("d/f{i}"), b"x");
    }
    let lower = Arc::new(l);
    let e =
        Engine::new(lower.clone(), Arc::new(HeapStore), Config { tracks_opens: false, ..Config::default() }).unwrap();
    let dir = e.lookup(ROOT_ID, os("d")).unwrap().ino;
    let mut first = None;
    e.readdirplus(dir, 0, |d, a| {
        if d.name == "f0" {
            first = Some(a.ino);
        }
        true
    })
    .unwrap();
    let mut buf = [0u8; 8];
    e.read(FileRef::inode(first.unwrap()), 0, &mut buf).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(lower.counters.open.load(Ordering::Relaxed), 1);
}
