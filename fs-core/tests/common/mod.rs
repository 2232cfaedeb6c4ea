//! Shared helpers of the engine's integration tests: real trees on disk, path resolution through
//! the engine the way the kernel would do it, and snapshots of trees for comparison.
#![allow(dead_code)]

use agentfs_core::FileRef;
use agentfs_core::{Engine, Errno, FileKind, OpenFlags, ROOT_ID};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// What a tree shows at one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Obj {
    Dir { perm: u32, nlink: u32 },
    File { perm: u32, nlink: u32, data: Vec<u8> },
    Symlink { target: Vec<u8> },
    Other { kind: String },
}

/// A whole tree: objects by path, and groups of paths that name one inode.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub objects: BTreeMap<String, Obj>,
    pub link_groups: Vec<Vec<String>>,
}

fn groups(map: BTreeMap<u64, Vec<String>>) -> Vec<Vec<String>> {
    let mut g: Vec<Vec<String>> = map.into_values().filter(|v| v.len() > 1).collect();
    for v in &mut g {
        v.sort();
    }
    g.sort();
    g
}

/// Snapshot of a real directory tree (never following symlinks).
pub fn snapshot_dir(root: &Path) -> Snapshot {
    let mut objects = BTreeMap::new();
    let mut inodes: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    fn walk(dir: &Path, rel: &str, objects: &mut BTreeMap<String, Obj>, inodes: &mut BTreeMap<u64, Vec<String>>) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            let md = fs::symlink_metadata(e.path()).unwrap();
            let perm = md.permissions().mode() & 0o7777;
            let obj = if md.is_dir() {
                walk(&e.path(), &path, objects, inodes);
                Obj::Dir { perm, nlink: md.nlink() as u32 }
            } else if md.is_file() {
                inodes.entry(md.ino()).or_default().push(path.clone());
                Obj::File { perm, nlink: md.nlink() as u32, data: fs::read(e.path()).unwrap() }
            } else if md.file_type().is_symlink() {
                Obj::Symlink { target: fs::read_link(e.path()).unwrap().into_os_string().into_encoded_bytes() }
            } else {
                Obj::Other { kind: format!("{:?}", md.file_type()) }
            };
            objects.insert(path, obj);
        }
    }
    walk(root, "", &mut objects, &mut inodes);
    Snapshot { objects, link_groups: groups(inodes) }
}

/// Reads a whole file through the engine.
pub fn engine_read(e: &Engine, ino: u64) -> Vec<u8> {
    let fh = e.open(ino, OpenFlags::RDONLY).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
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

/// Snapshot of the engine's view, checking on the way that readdir's d_ino is the node id.
pub fn snapshot_engine(e: &Engine) -> Snapshot {
    let mut objects = BTreeMap::new();
    let mut inodes: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    fn walk(
        e: &Engine,
        dir: u64,
        rel: &str,
        objects: &mut BTreeMap<String, Obj>,
        inodes: &mut BTreeMap<u64, Vec<String>>,
    ) {
        let mut entries = Vec::new();
        e.readdir(dir, 0, |d| {
            entries.push((d.name.clone(), d.ino, d.kind));
            true
        })
        .unwrap();
        entries.retain(|(n, _, _)| n != "." && n != "..");
        entries.sort();
        for (name, d_ino, d_kind) in entries {
            let name_s = name.to_string_lossy().into_owned();
            let path = if rel.is_empty() { name_s.clone() } else { format!("{rel}/{name_s}") };
            let a = e.lookup(dir, &name).unwrap();
            assert_eq!(a.ino, d_ino, "d_ino of {path}");
            assert_eq!(a.kind, d_kind, "d_type of {path}");
            let perm = u32::from(a.perm);
            let obj = match a.kind {
                FileKind::Directory => {
                    walk(e, a.ino, &path, objects, inodes);
                    Obj::Dir { perm, nlink: a.nlink }
                }
                FileKind::Regular => {
                    inodes.entry(a.ino).or_default().push(path.clone());
                    let data = engine_read(e, a.ino);
                    assert_eq!(data.len() as u64, a.size, "size of {path}");
                    Obj::File { perm, nlink: a.nlink, data }
                }
                FileKind::Symlink => Obj::Symlink { target: e.readlink(a.ino).unwrap() },
                k => Obj::Other { kind: format!("{k:?}") },
            };
            e.forget(a.ino, 1);
            objects.insert(path, obj);
        }
    }
    walk(e, ROOT_ID, "", &mut objects, &mut inodes);
    Snapshot { objects, link_groups: groups(inodes) }
}

/// Path, inode number, size, mtime (s, ns), ctime (s, ns), uid and gid of one object.
pub type ObjectMeta = (String, u64, u64, i64, i64, i64, i64, u32, u32);

/// Everything about a tree that a write could change, for checking that the lower layer is
/// untouched: the snapshot plus inode numbers, sizes, owners and modification/change times.
pub fn fingerprint(root: &Path) -> (Snapshot, Vec<ObjectMeta>) {
    let snap = snapshot_dir(root);
    let mut meta = Vec::new();
    for path in std::iter::once(String::new()).chain(snap.objects.keys().cloned()) {
        let md = fs::symlink_metadata(root.join(&path)).unwrap();
        meta.push((
            path,
            md.ino(),
            md.size(),
            md.mtime(),
            md.mtime_nsec(),
            md.ctime(),
            md.ctime_nsec(),
            md.uid(),
            md.gid(),
        ));
    }
    (snap, meta)
}

/// Resolves a directory path in the engine as the kernel would: following symlinks met on the
/// way (relative targets; absolute ones lead outside and count as missing).
pub fn resolve_dir(e: &Engine, start: u64, comps: &[&str], depth: &mut u32) -> Result<u64, Errno> {
    let mut cur = start;
    for c in comps {
        if *c == ".." {
            cur = e.lookup(cur, OsStr::new(".."))?.ino;
            continue;
        }
        let a = e.lookup(cur, OsStr::new(c))?;
        if a.kind == FileKind::Symlink {
            *depth += 1;
            if *depth > 40 {
                return Err(Errno::ELOOP);
            }
            let t = String::from_utf8(e.readlink(a.ino)?).map_err(|_| Errno::EINVAL)?;
            if t.starts_with('/') {
                return Err(Errno::ENOENT);
            }
            let parts: Vec<&str> = t.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
            cur = resolve_dir(e, cur, &parts, depth)?;
        } else {
            cur = a.ino;
        }
    }
    // The kernel wants the parent of a path to be a directory.
    if e.getattr(cur)?.kind != FileKind::Directory {
        return Err(Errno::ENOTDIR);
    }
    Ok(cur)
}

/// The parent directory's id and the last name of a slash-separated path.
pub fn parent_of<'p>(e: &Engine, path: &'p str) -> Result<(u64, &'p str), Errno> {
    let comps: Vec<&str> = path.split('/').collect();
    let (name, dirs) = comps.split_last().ok_or(Errno::EINVAL)?;
    let mut depth = 0;
    Ok((resolve_dir(e, ROOT_ID, dirs, &mut depth)?, name))
}

/// Copies a tree, keeping modes, symlinks and hardlinks (within the tree).
pub fn copy_tree(from: &Path, to: &Path) {
    let mut seen: BTreeMap<u64, std::path::PathBuf> = BTreeMap::new();
    fn walk(from: &Path, to: &Path, seen: &mut BTreeMap<u64, std::path::PathBuf>) {
        for e in fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let src = e.path();
            let dst = to.join(e.file_name());
            let md = fs::symlink_metadata(&src).unwrap();
            if md.is_dir() {
                fs::create_dir(&dst).unwrap();
                walk(&src, &dst, seen);
                fs::set_permissions(&dst, md.permissions()).unwrap();
            } else if md.file_type().is_symlink() {
                std::os::unix::fs::symlink(fs::read_link(&src).unwrap(), &dst).unwrap();
            } else if let Some(first) = seen.get(&md.ino()) {
                fs::hard_link(first, &dst).unwrap();
            } else {
                fs::copy(&src, &dst).unwrap();
                fs::set_permissions(&dst, md.permissions()).unwrap();
                seen.insert(md.ino(), dst);
            }
        }
    }
    walk(from, to, &mut seen);
    fs::set_permissions(to, fs::metadata(from).unwrap().permissions()).unwrap();
}
