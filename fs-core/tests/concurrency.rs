//! Many threads call the engine at once. Afterwards the tree must be consistent, and removing
//! everything must give back every node and every byte of the budget.
#![cfg(target_os = "linux")]

mod common;

use agentfs_core::FileRef;
use agentfs_core::{Caller, Config, Engine, Errno, FileKind, OpenFlags, ROOT_ID, RenameFlags, SetAttr};
use agentfs_platform::lower::DirLower;
use agentfs_platform::store::MemStore;
use common::*;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

const THREADS: usize = 8;
const OPS_PER_THREAD: usize = 20_000;
const DIRS: [&str; 6] = ["", "d0", "d1", "d0/s", "d2", "d2/t"];
const NAMES: [&str; 8] = ["n0", "n1", "n2", "n3", "x", "y", "s", "t"];

/// Errors that random operations may meet; anything else (EIO, ESTALE) is a bug.
const EXPECTED: [Errno; 8] = [
    Errno::ENOENT,
    Errno::EEXIST,
    Errno::ENOTEMPTY,
    Errno::ENOTDIR,
    Errno::EISDIR,
    Errno::EINVAL,
    Errno::EPERM,
    Errno::ELOOP,
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

fn make_lower(root: &Path) {
    for d in ["d0/s", "d1", "d2/t"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    for (i, d) in DIRS.iter().enumerate() {
        for n in ["n0", "n1"] {
            fs::write(root.join(d).join(n), vec![i as u8; 3000 + i * 20_000]).unwrap();
        }
    }
    // Large enough to be copied up in part.
    fs::write(root.join("shared"), vec![b'.'; 2 << 20]).unwrap();
}

fn engine(lower: &Path) -> Engine {
    Engine::new(
        Arc::new(DirLower::open(lower).unwrap()),
        Arc::new(MemStore::new(1000)),
        Config { budget_bytes: 1 << 30, ..Config::default() },
    )
    .unwrap()
}

/// Looks up a directory path, holding references the way the kernel would; returns the id
/// and the ids to forget.
fn dir(e: &Engine, path: &str) -> Result<(u64, Vec<u64>), Errno> {
    let mut cur = ROOT_ID;
    let mut held = Vec::new();
    for c in path.split('/').filter(|c| !c.is_empty()) {
        match e.lookup(cur, OsStr::new(c)) {
            Ok(a) => {
                held.push(a.ino);
                if a.kind != FileKind::Directory {
                    for h in held {
                        e.forget(h, 1);
                    }
                    return Err(Errno::ENOTDIR);
                }
                cur = a.ino;
            }
            Err(err) => {
                for h in held {
                    e.forget(h, 1);
                }
                return Err(err);
            }
        }
    }
    Ok((cur, held))
}

fn one_op(e: &Engine, rng: &mut Rng) -> Result<(), Errno> {
    let (d, held) = dir(e, rng.pick(&DIRS))?;
    let name = OsStr::new(rng.pick(&NAMES));
    let caller = Caller::new(1000, 1000);
    let r = (|| match rng.next() % 12 {
        0 => {
            let (a, fh) = e.create(d, name, 0o644, OpenFlags::RDWR, &caller)?;
            let r = e.write(FileRef::handle(fh), rng.next() % 100_000, &vec![7u8; (rng.next() % 70_000) as usize]);
            e.release(fh)?;
            e.forget(a.ino, 1);
            r.map(|_| ())
        }
        1 | 2 => {
            let a = e.lookup(d, name)?;
            let r = (|| {
                let fh = e.open(a.ino, if rng.next() % 2 == 0 { OpenFlags::RDONLY } else { OpenFlags::RDWR })?;
                let mut buf = vec![0u8; 8192];
                let r = e.read(FileRef::handle(fh), rng.next() % 50_000, &mut buf).and_then(|_| {
                    if rng.next() % 2 == 0 {
                        e.write(FileRef::handle(fh), rng.next() % 50_000, b"written").map(|_| ())
                    } else {
                        Ok(())
                    }
                });
                e.release(fh)?;
                r.or_else(|err| if err == Errno::EBADF { Ok(()) } else { Err(err) })
            })();
            e.forget(a.ino, 1);
            r
        }
        3 => e.mkdir(d, name, 0o755, &caller).map(|a| e.forget(a.ino, 1)),
        4 => e.unlink(d, name),
        5 => e.rmdir(d, name),
        6 | 7 => {
            let (d2, held2) = dir(e, rng.pick(&DIRS))?;
            let flags = match rng.next() % 4 {
                0 => RenameFlags::NOREPLACE,
                1 => RenameFlags::EXCHANGE,
                _ => RenameFlags::default(),
            };
            let r = e.rename(d, name, d2, OsStr::new(rng.pick(&NAMES)), flags);
            for h in held2 {
                e.forget(h, 1);
            }
            r
        }
        8 => {
            let a = e.lookup(d, name)?;
            let r = e.link(a.ino, d, OsStr::new(rng.pick(&NAMES))).map(|l| e.forget(l.ino, 1));
            e.forget(a.ino, 1);
            r
        }
        9 => {
            let mut n = 0;
            e.readdirplus(d, 0, |entry, a| {
                n += 1;
                if n > 6 {
                    // Not taken: the engine gives the reference back itself.
                    return false;
                }
                // "." and ".." carry no reference.
                if entry.name != "." && entry.name != ".." {
                    e.forget(a.ino, 1);
                }
                true
            })
        }
        10 => {
            let a = e.lookup(d, name)?;
            let r = e.setattr(a.ino, &SetAttr { size: Some(rng.next() % 90_000), ..Default::default() }).map(|_| ());
            e.forget(a.ino, 1);
            r
        }
        _ => {
            let a = e.lookup(d, name)?;
            let r = e
                .setattr(a.ino, &SetAttr { mode: Some(0o600 | (rng.next() % 0o100) as u32), ..Default::default() })
                .map(|_| ());
            e.forget(a.ino, 1);
            r
        }
    })();
    for h in held {
        e.forget(h, 1);
    }
    r
}

/// Runs `f` on a thread and fails the test if it does not finish in time (a deadlock).
fn with_deadline(secs: u64, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) => h.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => h.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("the engine did not finish in {secs}s: deadlock?")
        }
    }
}

/// Removes everything below `dir` through the engine (as rm -rf does).
fn remove_all(e: &Engine, dir: u64) {
    let mut entries = Vec::new();
    e.readdir(dir, 0, |d| {
        entries.push((d.name.clone(), d.kind));
        true
    })
    .unwrap();
    for (name, kind) in entries {
        if name == "." || name == ".." {
            continue;
        }
        if kind == FileKind::Directory {
            let a = e.lookup(dir, &name).unwrap();
            remove_all(e, a.ino);
            e.forget(a.ino, 1);
            e.rmdir(dir, &name).unwrap();
        } else {
            e.unlink(dir, &name).unwrap();
        }
    }
}

#[test]
fn eight_threads_of_mixed_operations_leave_a_consistent_tree() {
    let lower = tempfile::tempdir().unwrap();
    make_lower(lower.path());
    let before = fingerprint(lower.path());
    let e = Arc::new(engine(lower.path()));
    let errors = Arc::new(parking_lot::Mutex::new(BTreeMap::<String, u64>::new()));
    let (e2, errors2) = (Arc::clone(&e), Arc::clone(&errors));
    with_deadline(120, move || {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let e = Arc::clone(&e2);
                let errors = Arc::clone(&errors2);
                std::thread::spawn(move || {
                    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((t as u64 + 1) * 0x1234_5678));
                    for _ in 0..OPS_PER_THREAD {
                        let key = match one_op(&e, &mut rng) {
                            Ok(()) => "ok".to_string(),
                            Err(err) => {
                                assert!(EXPECTED.contains(&err), "unexpected error {err}");
                                err.to_string()
                            }
                        };
                        *errors.lock().entry(key).or_default() += 1;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
    let outcomes = errors.lock().clone();
    eprintln!("outcomes: {outcomes:?}");
    let ok = outcomes.get("ok").copied().unwrap_or(0);
    assert!(ok * 4 > (THREADS * OPS_PER_THREAD) as u64, "too few operations succeeded to mean anything: {outcomes:?}");

    // Consistency: d_ino == st_ino (checked while walking), link counts agree with the names.
    let snap = snapshot_engine(&e);
    let mut names_per_group = BTreeMap::new();
    for g in &snap.link_groups {
        for p in g {
            names_per_group.insert(p.clone(), g.len() as u32);
        }
    }
    for (path, obj) in &snap.objects {
        match obj {
            Obj::File { nlink, .. } => {
                assert_eq!(*nlink, names_per_group.get(path).copied().unwrap_or(1), "nlink of {path}")
            }
            Obj::Dir { nlink, .. } => {
                let subdirs = snap
                    .objects
                    .iter()
                    .filter(|(p, o)| {
                        matches!(o, Obj::Dir { .. }) && p.rsplit_once('/').map(|(d, _)| d) == Some(path.as_str())
                    })
                    .count() as u32;
                assert_eq!(*nlink, 2 + subdirs, "nlink of directory {path}");
            }
            _ => {}
        }
    }
    assert_eq!(e.stats().open_files, 0);
    assert!(fingerprint(lower.path()) == before, "the lower tree changed");

    // Removing everything gives back every node and every byte.
    remove_all(&e, ROOT_ID);
    let st = e.stats();
    assert_eq!((st.nodes, st.used_bytes), (1, 0), "leaked nodes or budget: {st:?}");
}

#[test]
fn concurrent_writers_copy_a_lower_file_up_once_and_keep_every_write() {
    let lower = tempfile::tempdir().unwrap();
    make_lower(lower.path());
    let e = Arc::new(engine(lower.path()));
    let id = e.lookup(ROOT_ID, OsStr::new("shared")).unwrap().ino;
    let e2 = Arc::clone(&e);
    with_deadline(60, move || {
        let hs: Vec<_> = (0..THREADS as u64)
            .map(|t| {
                let e = Arc::clone(&e2);
                std::thread::spawn(move || {
                    let fh = e.open(id, OpenFlags::RDWR).unwrap();
                    for block in (t..64).step_by(THREADS) {
                        e.write(FileRef::handle(fh), block * 4096, &[b'0' + t as u8; 4096]).unwrap();
                    }
                    e.release(fh).unwrap();
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    let data = engine_read(&e, id);
    assert_eq!(data.len(), 2 << 20);
    for block in 0..64u64 {
        let want = b'0' + (block % THREADS as u64) as u8;
        assert!(data[block as usize * 4096..(block as usize + 1) * 4096].iter().all(|b| *b == want), "block {block}");
    }
    assert!(data[64 * 4096..].iter().all(|b| *b == b'.'));
}

#[test]
fn concurrent_appends_never_overwrite_each_other() {
    let lower = tempfile::tempdir().unwrap();
    make_lower(lower.path());
    let e = Arc::new(engine(lower.path()));
    let (a, fh) = e.create(ROOT_ID, OsStr::new("log"), 0o644, OpenFlags::WRONLY, &Caller::ROOT).unwrap();
    e.release(fh).unwrap();
    let e2 = Arc::clone(&e);
    with_deadline(60, move || {
        let hs: Vec<_> = (0..THREADS)
            .map(|t| {
                let e = Arc::clone(&e2);
                std::thread::spawn(move || {
                    let fh = e.open(a.ino, OpenFlags { append: true, ..OpenFlags::WRONLY }).unwrap();
                    for i in 0..500 {
                        e.write(FileRef::handle(fh), 0, format!("{t}:{i:05}\n").as_bytes()).unwrap();
                    }
                    e.release(fh).unwrap();
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    let data = String::from_utf8(engine_read(&e, a.ino)).unwrap();
    let mut lines: Vec<&str> = data.lines().collect();
    assert_eq!(lines.len(), THREADS * 500);
    lines.sort();
    lines.dedup();
    assert_eq!(lines.len(), THREADS * 500, "every record once");
}
