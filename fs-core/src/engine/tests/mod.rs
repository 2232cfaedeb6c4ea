//! Unit tests of the engine's semantics over the fake lower layer and the heap store.

mod budget;
mod changes;
mod copy_up;
mod data;
mod inodes;
mod names;
mod prefetch;
mod readdir;
mod rename;
mod xattr;

use crate::lower::fake::FakeLower;
use crate::store::heap::HeapStore;
use crate::types::FileRef;
use crate::{Attr, Caller, Config, Engine, OpenFlags, ROOT_ID, Result};
use std::ffi::OsStr;
use std::sync::Arc;

pub(super) const ME: Caller = Caller { uid: 1000, gid: 1000, pid: 1, umask: 0 };

/// The standard lower tree of these tests.
pub(super) fn sample_lower() -> FakeLower {
    let mut l = FakeLower::new();
    l.file("README", b"hello world\n")
        .file("src/main.rs", b"fn main() {}\n")
        .file("src/lib.rs", b"pub fn f() {}\n")
        .dir("src/empty")
        .file("docs/a/b/deep.txt", b"deep")
        .symlink("link", "src/main.rs")
        .symlink("escape", "../../etc/passwd")
        .file("hl/one", b"shared")
        .hardlink("hl/two", "hl/one")
        .xattr("README", "user.note", b"lower");
    l
}

pub(super) fn engine_with(lower: FakeLower, budget: u64) -> (Arc<FakeLower>, Engine) {
    let lower = Arc::new(lower);
    let e =
        Engine::new(lower.clone(), Arc::new(HeapStore), Config { budget_bytes: budget, ..Config::default() }).unwrap();
    (lower, e)
}

pub(super) fn engine() -> (Arc<FakeLower>, Engine) {
    engine_with(sample_lower(), 64 << 20)
}

pub(super) fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Looks up a slash-separated path from the root.
pub(super) fn lookup(e: &Engine, path: &str) -> Result<Attr> {
    let mut attr = e.getattr(ROOT_ID)?;
    for c in path.split('/').filter(|c| !c.is_empty()) {
        attr = e.lookup(attr.ino, os(c))?;
    }
    Ok(attr)
}

pub(super) fn ino(e: &Engine, path: &str) -> u64 {
    lookup(e, path).unwrap().ino
}

pub(super) fn read_all(e: &Engine, id: u64) -> Vec<u8> {
    let fh = e.open(id, OpenFlags::RDONLY).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 7000];
    loop {
        let n = e.read(FileRef::handle(fh), out.len() as u64, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    e.release(fh).unwrap();
    out
}

pub(super) fn write_at(e: &Engine, id: u64, offset: u64, data: &[u8]) {
    let fh = e.open(id, OpenFlags::WRONLY).unwrap();
    assert_eq!(e.write(FileRef::handle(fh), offset, data).unwrap(), data.len());
    e.release(fh).unwrap();
}

/// Creates `parent/name` with `data`; returns its id.
pub(super) fn create_file(e: &Engine, parent: u64, name: &str, data: &[u8]) -> u64 {
    let (attr, fh) = e.create(parent, os(name), 0o644, OpenFlags::RDWR, &ME).unwrap();
    e.write(FileRef::handle(fh), 0, data).unwrap();
    e.release(fh).unwrap();
    attr.ino
}

/// Names in a directory, without "." and "..", in readdir order.
pub(super) fn names(e: &Engine, dir: u64) -> Vec<String> {
    let mut out = Vec::new();
    e.readdir(dir, 0, |d| {
        out.push(d.name.to_string_lossy().into_owned());
        true
    })
    .unwrap();
    out.retain(|n| n != "." && n != "..");
    out
}

pub(super) fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}
