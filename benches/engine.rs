//! Micro-benchmarks of the engine, without FUSE: what one request costs the daemon once the
//! kernel has handed it over. The lower layer is a real directory, read as the daemon reads it
//! (`DirLower` on Unix), and upper data lives in the daemon's store (memfds on Linux).
//!
//!     cargo bench --bench engine

use agentfs_core::FileRef;
use agentfs_core::{Caller, Config, Engine, ROOT_ID, SetAttr};
use agentfs_platform::store::for_daemon;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::ffi::OsStr;
use std::fs;
use std::hint::black_box;
use std::path::Path;

const DIR_ENTRIES: usize = 10_000;
const SMALL: usize = 64 << 10;
const LARGE: u64 = 64 << 20;

/// dir10k/ with 10k small files, small (64 KiB) and large (64 MiB, sparse) lower files.
fn populate(root: &Path) {
    let dir = root.join("dir10k");
    fs::create_dir(&dir).unwrap();
    for i in 0..DIR_ENTRIES {
        fs::write(dir.join(format!("file{i:05}.rs")), b"fn main() {}\n").unwrap();
    }
    fs::write(root.join("small"), vec![7u8; SMALL]).unwrap();
    let large = fs::File::create(root.join("large")).unwrap();
    large.set_len(LARGE).unwrap();
}

fn engine(root: &Path) -> Engine {
    let lower = agentfs_platform::lower::open_for_daemon(root, Vec::new(), Vec::new()).unwrap();
    Engine::new(lower, for_daemon(2048, None), Config::default()).unwrap()
}

fn lookup(e: &Engine, parent: u64, name: &str) -> u64 {
    e.lookup(parent, OsStr::new(name)).unwrap().ino
}

fn names(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    populate(tmp.path());
    let e = engine(tmp.path());
    let dir = lookup(&e, ROOT_ID, "dir10k");
    // Held, so the node stays in memory.
    let held = lookup(&e, dir, "file05000.rs");
    c.bench_function("lookup (node in memory)", |b| {
        b.iter(|| {
            let a = e.lookup(dir, OsStr::new("file05000.rs")).unwrap();
            e.forget(a.ino, 1);
            black_box(a)
        })
    });
    c.bench_function("lookup (node built from the lower layer)", |b| {
        // Nobody holds file07000: each lookup stats the lower file and each forget drops the node.
        b.iter(|| {
            let a = e.lookup(dir, OsStr::new("file07000.rs")).unwrap();
            e.forget(a.ino, 1);
            black_box(a)
        })
    });
    c.bench_function("getattr", |b| b.iter(|| black_box(e.getattr(held).unwrap())));
    c.bench_function("create and unlink", |b| {
        let who = Caller::ROOT;
        b.iter(|| {
            let a = e.mknod(dir, OsStr::new("new.tmp"), 0o100644, 0, &who).unwrap();
            e.forget(a.ino, 1);
            e.unlink(dir, OsStr::new("new.tmp")).unwrap();
        })
    });
}

fn listing(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    populate(tmp.path());
    let e = engine(tmp.path());
    let dir = lookup(&e, ROOT_ID, "dir10k");
    let mut g = c.benchmark_group("readdir of 10k entries");
    g.throughput(Throughput::Elements(DIR_ENTRIES as u64));
    g.bench_function("readdir", |b| {
        b.iter(|| {
            let mut n = 0;
            e.readdir(dir, 0, |_| {
                n += 1;
                true
            })
            .unwrap();
            assert!(n >= DIR_ENTRIES);
        })
    });
    g.bench_function("readdirplus", |b| {
        b.iter(|| {
            let mut seen = Vec::with_capacity(DIR_ENTRIES + 2);
            e.readdirplus(dir, 0, |d, a| {
                if d.name != "." && d.name != ".." {
                    seen.push(a.ino);
                }
                true
            })
            .unwrap();
            // Each entry handed out but "." and ".." counts a reference, as a kernel's would;
            // give them back.
            for ino in seen {
                e.forget(ino, 1);
            }
        })
    });
    g.finish();
}

fn data(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    populate(tmp.path());
    let e = engine(tmp.path());
    let who = Caller::ROOT;
    let file = e.mknod(ROOT_ID, OsStr::new("upper"), 0o100644, 0, &who).unwrap().ino;
    let block = vec![0x5au8; 4096];
    let mut g = c.benchmark_group("4 KiB writes");
    g.throughput(Throughput::Bytes(4096));
    let mut i = 0u64;
    g.bench_function("sequential, 64 MiB then over again", |b| {
        b.iter(|| {
            e.write(FileRef::inode(file), (i % 16384) * 4096, &block).unwrap();
            i += 1;
        })
    });
    g.finish();
    e.setattr(file, &SetAttr { size: Some(0), ..SetAttr::default() }).unwrap();

    let mut g = c.benchmark_group("copy-up");
    g.throughput(Throughput::Bytes(SMALL as u64));
    let root = tmp.path();
    let fresh = |name: &'static str| {
        move || {
            let e = engine(root);
            let id = lookup(&e, ROOT_ID, name);
            (e, id)
        }
    };
    g.bench_function("first write into a 64 KiB lower file (whole copy)", |b| {
        b.iter_batched(fresh("small"), |(e, id)| e.write(FileRef::inode(id), 0, b"x").unwrap(), BatchSize::PerIteration)
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("append to a 64 MiB lower file (partial copy)", |b| {
        b.iter_batched(
            fresh("large"),
            |(e, id)| e.write(FileRef::inode(id), LARGE, b"x").unwrap(),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, names, listing, data);
criterion_main!(benches);
