//! Listing and removing trees below a confined directory, one directory fd at a time.

use super::{Dir, err_at, kind_of};
use rustix::fs::{FileType, Mode};
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// One entry of a directory.
pub struct Entry {
    pub name: OsString,
    pub kind: FileType,
}

/// The entries of `dir` (without `.` and `..`), sorted by name.
pub fn entries(dir: &Dir) -> io::Result<Vec<Entry>> {
    let fail = |e: rustix::io::Errno| err_at(&dir.path(), e.into());
    let mut d = rustix::fs::Dir::read_from(dir.fd()).map_err(fail)?;
    let mut out = Vec::new();
    while let Some(e) = d.read() {
        let e = e.map_err(fail)?;
        let b = e.file_name().to_bytes();
        if b == b"." || b == b".." {
            continue;
        }
        let name = OsStr::from_bytes(b).to_os_string();
        let kind = match e.file_type() {
            FileType::Unknown => match dir.stat(&name)? {
                Some(st) => kind_of(&st),
                None => continue,
            },
            k => k,
        };
        out.push(Entry { name, kind });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A directory being emptied: its handle, its name in its parent, and its subdirectories left.
struct Level {
    dir: Dir,
    name: OsString,
    subdirs: Vec<OsString>,
}

/// Opens `name` of `parent` and removes everything but its subdirectories, which it returns.
fn empty_level(parent: &Dir, name: &OsStr) -> io::Result<Level> {
    let dir = parent.open_dir(Path::new(name))?;
    let mut subdirs = Vec::new();
    for e in entries(&dir)? {
        if e.kind == FileType::Directory {
            subdirs.push(e.name);
        } else {
            retry_writable(&dir, || dir.unlink(&e.name))?;
        }
    }
    Ok(Level { dir, name: name.to_os_string(), subdirs })
}

/// Runs `op` on an entry of `dir`; if `dir` is not writable (a copy of a 0555 directory), makes
/// it so and tries once more. Something already gone is fine.
fn retry_writable(dir: &Dir, op: impl Fn() -> io::Result<()>) -> io::Result<()> {
    let gone = |r: io::Result<()>| match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    };
    match op() {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            rustix::fs::fchmod(dir.fd(), Mode::from_raw_mode(0o700)).map_err(|e| err_at(&dir.path(), e.into()))?;
            gone(op())
        }
        other => gone(other),
    }
}

/// `rm -rf parent/name` without following any symlink, deepest first, iteratively.
pub fn remove(parent: &Dir, name: &OsStr) -> io::Result<()> {
    let Some(st) = parent.stat(name)? else { return Ok(()) };
    if kind_of(&st) != FileType::Directory {
        return retry_writable(parent, || parent.unlink(name));
    }
    let mut stack = vec![empty_level(parent, name)?];
    while let Some(top) = stack.last_mut() {
        if let Some(sub) = top.subdirs.pop() {
            let next = empty_level(&top.dir, &sub)?;
            stack.push(next);
            continue;
        }
        let done = stack.pop().map(|l| l.name).unwrap_or_default();
        let holder = stack.last().map_or(parent, |l| &l.dir);
        retry_writable(holder, || holder.rmdir(&done))?;
    }
    Ok(())
}
