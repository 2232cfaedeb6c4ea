//! Model-based property test: random operation sequences run against the engine (over a real
//! lower tree on disk, with the memfd store) and against a plain directory that started as a copy
//! of that tree. After every sequence both trees must be identical (names, types, sizes,
//! contents, modes, link counts, hardlink groups), every operation must have returned the same
//! result, and the lower tree must be unchanged.
#![cfg(target_os = "linux")]

mod common;

use agentfs_core::FileRef;
use agentfs_core::{Config, Engine, Errno, FileKind, OpenFlags, RenameFlags, SetAttr};
use agentfs_platform::lower::DirLower;
use agentfs_platform::store::MemStore;
use common::*;
use proptest::prelude::*;
use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

const ALPHABET: [&str; 5] = ["a", "b", "c", "f", "g"];
const MODES: [u32; 4] = [0o644, 0o600, 0o755, 0o640];
/// Symlink targets never resolve (no name outside the alphabet exists), so following or not
/// following them cannot differ between the two sides.
const TARGETS: [&str; 3] = ["zz/nowhere", "../zz", "dangling"];

#[derive(Clone, Debug)]
enum Op {
    Create(String, usize),
    Write(String, u64, usize, u8),
    Truncate(String, u64),
    Mkdir(String, usize),
    Rename(String, String),
    Unlink(String),
    Rmdir(String),
    Link(String, String),
    Symlink(String, usize),
    Chmod(String, usize),
}

fn path_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(0..ALPHABET.len(), 1..=3)
        .prop_map(|v| v.iter().map(|i| ALPHABET[*i]).collect::<Vec<_>>().join("/"))
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let p = path_strategy;
    prop_oneof![
        1 => (p(), 0..MODES.len()).prop_map(|(a, m)| Op::Create(a, m)),
        3 => (p(), prop_oneof![0..5000u64, 60_000..140_000u64, 1_190_000..1_210_000u64], 1..5000usize, any::<u8>()).prop_map(|(a, o, l, b)| Op::Write(a, o, l, b)),
        1 => (p(), prop_oneof![0..100u64, 0..150_000u64, 1_000_000..1_300_000u64]).prop_map(|(a, l)| Op::Truncate(a, l)),
        1 => (p(), 0..MODES.len()).prop_map(|(a, m)| Op::Mkdir(a, m)),
        2 => (p(), p()).prop_map(|(a, b)| Op::Rename(a, b)),
        1 => p().prop_map(Op::Unlink),
        1 => p().prop_map(Op::Rmdir),
        1 => (p(), p()).prop_map(|(a, b)| Op::Link(a, b)),
        1 => (p(), 0..TARGETS.len()).prop_map(|(a, t)| Op::Symlink(a, t)),
        1 => (p(), 0..MODES.len()).prop_map(|(a, m)| Op::Chmod(a, m)),
    ]
}

/// The lower tree: names from the same alphabet as the operations, so they collide.
fn make_lower(root: &Path) {
    fs::create_dir_all(root.join("a/b")).unwrap();
    fs::create_dir_all(root.join("c/a")).unwrap();
    fs::write(root.join("a/b/f"), b"deep file").unwrap();
    // Large enough to be copied up in part (the engine then mixes written ranges and lower bytes).
    fs::write(root.join("a/f"), (0..1_200_000u32).map(|i| (i % 253) as u8).collect::<Vec<u8>>()).unwrap();
    fs::write(root.join("b"), b"top b").unwrap();
    fs::write(root.join("c/c"), b"c in c").unwrap();
    fs::write(root.join("c/a/g"), b"").unwrap();
    fs::hard_link(root.join("b"), root.join("c/b")).unwrap();
    std::os::unix::fs::symlink("zz/nowhere", root.join("f")).unwrap();
    fs::set_permissions(root.join("c"), fs::Permissions::from_mode(0o750)).unwrap();
}

fn errno_of(e: std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(-1)
}

fn on_engine(e: &Engine, op: &Op) -> Result<(), i32> {
    let r: Result<(), Errno> = (|| match op {
        Op::Create(p, m) => {
            let (dir, name) = parent_of(e, p)?;
            let flags = OpenFlags { exclusive: true, ..OpenFlags::WRONLY };
            let (a, fh) = e.create(dir, OsStr::new(name), MODES[*m], flags, &agentfs_core::Caller::ROOT)?;
            e.release(fh)?;
            e.forget(a.ino, 1);
            Ok(())
        }
        Op::Write(p, off, len, byte) => {
            let (dir, name) = parent_of(e, p)?;
            let a = e.lookup(dir, OsStr::new(name))?;
            let fh = e.open(a.ino, OpenFlags::WRONLY)?;
            let r = e.write(FileRef::handle(fh), *off, &vec![*byte; *len]);
            e.release(fh)?;
            r.map(|_| ())
        }
        Op::Truncate(p, len) => {
            let (dir, name) = parent_of(e, p)?;
            let a = e.lookup(dir, OsStr::new(name))?;
            let fh = e.open(a.ino, OpenFlags::WRONLY)?;
            let r = e.setattr(a.ino, &SetAttr { size: Some(*len), ..Default::default() });
            e.release(fh)?;
            r.map(|_| ())
        }
        Op::Mkdir(p, m) => {
            let (dir, name) = parent_of(e, p)?;
            e.mkdir(dir, OsStr::new(name), MODES[*m], &agentfs_core::Caller::ROOT).map(|_| ())
        }
        Op::Rename(p, q) => {
            let (d1, n1) = parent_of(e, p)?;
            let (d2, n2) = parent_of(e, q)?;
            e.rename(d1, OsStr::new(n1), d2, OsStr::new(n2), RenameFlags::default())
        }
        Op::Unlink(p) => {
            let (dir, name) = parent_of(e, p)?;
            e.unlink(dir, OsStr::new(name))
        }
        Op::Rmdir(p) => {
            let (dir, name) = parent_of(e, p)?;
            e.rmdir(dir, OsStr::new(name))
        }
        Op::Link(p, q) => {
            let (d1, n1) = parent_of(e, p)?;
            let src = e.lookup(d1, OsStr::new(n1))?;
            let (d2, n2) = parent_of(e, q)?;
            e.link(src.ino, d2, OsStr::new(n2)).map(|_| ())
        }
        Op::Symlink(p, t) => {
            let (dir, name) = parent_of(e, p)?;
            e.symlink(dir, OsStr::new(name), TARGETS[*t].as_bytes(), &agentfs_core::Caller::ROOT).map(|_| ())
        }
        Op::Chmod(p, m) => {
            let (dir, name) = parent_of(e, p)?;
            let a = e.lookup(dir, OsStr::new(name))?;
            if a.kind == FileKind::Symlink {
                return Ok(());
            }
            e.setattr(a.ino, &SetAttr { mode: Some(MODES[*m]), ..Default::default() }).map(|_| ())
        }
    })();
    r.map_err(|e| e.linux())
}

fn on_dir(root: &Path, op: &Op) -> Result<(), i32> {
    let at = |p: &str| root.join(p);
    let nofollow = libc::O_NOFOLLOW;
    match op {
        Op::Create(p, m) => {
            let f = OpenOptions::new().write(true).create_new(true).mode(MODES[*m]).open(at(p)).map_err(errno_of)?;
            f.set_permissions(fs::Permissions::from_mode(MODES[*m])).map_err(errno_of)
        }
        Op::Write(p, off, len, byte) => {
            let f = OpenOptions::new().write(true).custom_flags(nofollow).open(at(p)).map_err(errno_of)?;
            f.write_all_at(&vec![*byte; *len], *off).map_err(errno_of)
        }
        Op::Truncate(p, len) => {
            let f = OpenOptions::new().write(true).custom_flags(nofollow).open(at(p)).map_err(errno_of)?;
            f.set_len(*len).map_err(errno_of)
        }
        Op::Mkdir(p, m) => {
            fs::create_dir(at(p)).map_err(errno_of)?;
            fs::set_permissions(at(p), fs::Permissions::from_mode(MODES[*m])).map_err(errno_of)
        }
        Op::Rename(p, q) => fs::rename(at(p), at(q)).map_err(errno_of),
        Op::Unlink(p) => fs::remove_file(at(p)).map_err(errno_of),
        Op::Rmdir(p) => fs::remove_dir(at(p)).map_err(errno_of),
        Op::Link(p, q) => fs::hard_link(at(p), at(q)).map_err(errno_of),
        Op::Symlink(p, t) => std::os::unix::fs::symlink(TARGETS[*t], at(p)).map_err(errno_of),
        Op::Chmod(p, m) => {
            let md = fs::symlink_metadata(at(p)).map_err(errno_of)?;
            if md.file_type().is_symlink() {
                return Ok(());
            }
            fs::set_permissions(at(p), fs::Permissions::from_mode(MODES[*m])).map_err(errno_of)
        }
    }
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let lower = tempfile::tempdir().unwrap();
    let reference = tempfile::tempdir().unwrap();
    make_lower(lower.path());
    copy_tree(lower.path(), reference.path());
    let before = fingerprint(lower.path());
    let engine = Engine::new(
        Arc::new(DirLower::open(lower.path()).unwrap()),
        Arc::new(MemStore::new(64)),
        Config { budget_bytes: 1 << 30, ..Config::default() },
    )
    .unwrap();
    prop_assert_eq!(snapshot_engine(&engine), snapshot_dir(reference.path()), "views differ before any operation");
    for (i, op) in ops.iter().enumerate() {
        let want = on_dir(reference.path(), op);
        let got = on_engine(&engine, op);
        prop_assert_eq!(got, want, "operation {} ({:?}) returned differently", i, op);
    }
    prop_assert_eq!(snapshot_engine(&engine), snapshot_dir(reference.path()), "trees differ after {:?}", ops);
    prop_assert!(fingerprint(lower.path()) == before, "the lower tree changed");
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

proptest! {
    // PROPTEST_CASES raises the count for long bug hunts.
    #![proptest_config(ProptestConfig { max_shrink_iters: 4000, ..ProptestConfig::with_cases(cases()) })]
    #[test]
    fn engine_matches_a_plain_directory(ops in prop::collection::vec(op_strategy(), 1..=20)) {
        run(&ops)?;
    }
}

/// Sequences the property test found (kept so they stay fixed).
#[test]
fn regressions() {
    let seqs: Vec<Vec<Op>> = vec![];
    for ops in seqs {
        run(&ops).unwrap();
    }
}
