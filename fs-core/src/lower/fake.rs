//! An in-memory lower tree for tests: built once, then immutable, with call counters.

use super::{Lower, LowerAttr, LowerEntry, LowerFile, LowerPath};
use crate::errno::{Errno, Result};
use crate::types::{FileKind, Timestamp};
use std::ffi::{OsStr, OsString};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Device number of every fake object.
pub const FAKE_DEV: u64 = 42;
/// Inode number of the fake root.
pub const FAKE_ROOT_INO: u64 = 2;

/// File content: a size and the extents that hold data; the rest reads as zeros (holes).
#[derive(Clone, Debug, Default)]
struct FakeData {
    size: u64,
    extents: Vec<(u64, Vec<u8>)>,
}

impl FakeData {
    fn read(&self, buf: &mut [u8], offset: u64) -> usize {
        if offset >= self.size {
            return 0;
        }
        let n = buf.len().min((self.size - offset) as usize);
        buf[..n].fill(0);
        for (start, bytes) in &self.extents {
            let end = start + bytes.len() as u64;
            let lo = offset.max(*start);
            let hi = (offset + n as u64).min(end);
            if lo < hi {
                let src = &bytes[(lo - start) as usize..(hi - start) as usize];
                buf[(lo - offset) as usize..(hi - offset) as usize].copy_from_slice(src);
            }
        }
        n
    }
}

#[derive(Debug)]
struct FakeObject {
    attr: LowerAttr,
    data: FakeData,
    target: Vec<u8>,
    children: Vec<(OsString, usize)>,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Number of calls the engine made, to check what it caches and what it never touches.
#[derive(Debug, Default)]
pub struct FakeCounters {
    pub stat: AtomicUsize,
    pub read_dir: AtomicUsize,
    pub open: AtomicUsize,
}

/// An immutable in-memory tree. Build it with the `&mut` methods, then share it in an `Arc`.
#[derive(Debug)]
pub struct FakeLower {
    objects: Vec<FakeObject>,
    next_ino: u64,
    pub counters: FakeCounters,
}

impl Default for FakeLower {
    fn default() -> Self {
        Self::new()
    }
}

fn attr(kind: FileKind, ino: u64, perm: u16) -> LowerAttr {
    let t = Timestamp::new(1_600_000_000, 0);
    LowerAttr {
        dev: FAKE_DEV,
        ino,
        kind,
        perm,
        nlink: if kind == FileKind::Directory { 2 } else { 1 },
        uid: 1000,
        gid: 1000,
        rdev: 0,
        size: if kind == FileKind::Directory { 4096 } else { 0 },
        blocks: 0,
        blksize: 4096,
        atime: t,
        mtime: t,
        ctime: t,
        crtime: t,
    }
}

impl FakeLower {
    /// An empty tree: just a root directory (mode 0755, owner 1000:1000).
    pub fn new() -> FakeLower {
        let root = FakeObject {
            attr: attr(FileKind::Directory, FAKE_ROOT_INO, 0o755),
            data: FakeData::default(),
            target: Vec::new(),
            children: Vec::new(),
            xattrs: Vec::new(),
        };
        FakeLower { objects: vec![root], next_ino: 100, counters: FakeCounters::default() }
    }

    fn split(path: &str) -> Vec<&str> {
        path.split('/').filter(|c| !c.is_empty()).collect()
    }

    /// Index of the object at `path`, creating missing directories on the way.
    fn dir_index(&mut self, comps: &[&str]) -> usize {
        let mut idx = 0;
        for comp in comps {
            let found = self.objects[idx].children.iter().find(|(n, _)| n == comp).map(|(_, i)| *i);
            idx = match found {
                Some(i) => i,
                None => self.add(idx, comp, FileKind::Directory, 0o755),
            };
        }
        idx
    }

    fn add(&mut self, parent: usize, name: &str, kind: FileKind, perm: u16) -> usize {
        let ino = self.next_ino;
        self.next_ino += 1;
        self.objects.push(FakeObject {
            attr: attr(kind, ino, perm),
            data: FakeData::default(),
            target: Vec::new(),
            children: Vec::new(),
            xattrs: Vec::new(),
        });
        let idx = self.objects.len() - 1;
        self.objects[parent].children.retain(|(n, _)| n != name);
        self.objects[parent].children.push((name.into(), idx));
        if kind == FileKind::Directory {
            self.objects[parent].attr.nlink += 1;
        }
        idx
    }

    fn new_object(&mut self, path: &str, kind: FileKind, perm: u16) -> usize {
        let comps = Self::split(path);
        let (last, dirs) = comps.split_last().expect("fake paths are not empty");
        let parent = self.dir_index(dirs);
        self.add(parent, last, kind, perm)
    }

    /// Adds a directory (and its missing parents).
    pub fn dir(&mut self, path: &str) -> &mut Self {
        let comps = Self::split(path);
        self.dir_index(&comps);
        self
    }

    /// Adds a regular file with mode 0644.
    pub fn file(&mut self, path: &str, content: &[u8]) -> &mut Self {
        self.file_mode(path, content, 0o644)
    }

    /// Adds a regular file with the given permission bits.
    pub fn file_mode(&mut self, path: &str, content: &[u8], perm: u16) -> &mut Self {
        let i = self.new_object(path, FileKind::Regular, perm);
        let o = &mut self.objects[i];
        o.data = FakeData { size: content.len() as u64, extents: vec![(0, content.to_vec())] };
        o.attr.size = content.len() as u64;
        o.attr.blocks = (content.len() as u64).div_ceil(512);
        self
    }

    /// Adds a sparse file of `size` bytes with data only in the given extents.
    pub fn sparse_file(&mut self, path: &str, size: u64, extents: &[(u64, &[u8])]) -> &mut Self {
        let i = self.new_object(path, FileKind::Regular, 0o644);
        let o = &mut self.objects[i];
        o.data = FakeData { size, extents: extents.iter().map(|(off, b)| (*off, b.to_vec())).collect() };
        o.attr.size = size;
        o.attr.blocks = extents.iter().map(|(_, b)| b.len() as u64).sum::<u64>().div_ceil(512);
        self
    }

    /// Adds a symlink.
    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        let i = self.new_object(path, FileKind::Symlink, 0o777);
        self.objects[i].target = target.as_bytes().to_vec();
        self.objects[i].attr.size = target.len() as u64;
        self
    }

    /// Adds a FIFO, socket or device node.
    pub fn special(&mut self, path: &str, kind: FileKind, rdev: u64) -> &mut Self {
        let i = self.new_object(path, kind, 0o644);
        self.objects[i].attr.rdev = rdev;
        self
    }

    /// Adds `path` as another name of the existing non-directory `existing`.
    pub fn hardlink(&mut self, path: &str, existing: &str) -> &mut Self {
        let target = self.find(existing).expect("hardlink target exists");
        let comps = Self::split(path);
        let (last, dirs) = comps.split_last().expect("fake paths are not empty");
        let parent = self.dir_index(dirs);
        self.objects[parent].children.push(((*last).into(), target));
        self.objects[target].attr.nlink += 1;
        self
    }

    /// Sets an extended attribute.
    pub fn xattr(&mut self, path: &str, name: &str, value: &[u8]) -> &mut Self {
        let i = self.find(path).expect("xattr target exists");
        self.objects[i].xattrs.push((name.as_bytes().to_vec(), value.to_vec()));
        self
    }

    /// Sets owner and permission bits.
    pub fn owner(&mut self, path: &str, uid: u32, gid: u32, perm: u16) -> &mut Self {
        let i = self.find(path).expect("owner target exists");
        let a = &mut self.objects[i].attr;
        a.uid = uid;
        a.gid = gid;
        a.perm = perm;
        self
    }

    fn find(&self, path: &str) -> Option<usize> {
        let mut idx = 0;
        for comp in Self::split(path) {
            idx = self.objects[idx].children.iter().find(|(n, _)| n == comp)?.1;
        }
        Some(idx)
    }

    fn resolve(&self, path: &LowerPath) -> Result<&FakeObject> {
        let mut idx = 0;
        for comp in path.components() {
            let o = &self.objects[idx];
            if o.attr.kind != FileKind::Directory {
                return Err(Errno::ENOTDIR);
            }
            idx = o.children.iter().find(|(n, _)| n.as_os_str() == comp).ok_or(Errno::ENOENT)?.1;
        }
        Ok(&self.objects[idx])
    }
}

struct FakeFile {
    data: FakeData,
}

impl LowerFile for FakeFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        Ok(self.data.read(buf, offset))
    }

    fn seek_data(&self, offset: u64) -> Result<u64> {
        if offset >= self.data.size {
            return Err(Errno::ENXIO);
        }
        self.data
            .extents
            .iter()
            .filter(|(s, b)| s + b.len() as u64 > offset && !b.is_empty())
            .map(|(s, _)| (*s).max(offset))
            .min()
            .filter(|o| *o < self.data.size)
            .ok_or(Errno::ENXIO)
    }

    fn seek_hole(&self, offset: u64) -> Result<u64> {
        if offset >= self.data.size {
            return Err(Errno::ENXIO);
        }
        let mut pos = offset;
        loop {
            let covering = self.data.extents.iter().find(|(s, b)| *s <= pos && pos < s + b.len() as u64);
            match covering {
                Some((s, b)) => pos = s + b.len() as u64,
                None => return Ok(pos.min(self.data.size)),
            }
        }
    }
}

impl Lower for FakeLower {
    fn stat(&self, path: &LowerPath) -> Result<LowerAttr> {
        self.counters.stat.fetch_add(1, Ordering::Relaxed);
        Ok(self.resolve(path)?.attr)
    }

    fn read_dir(&self, path: &LowerPath) -> Result<Vec<LowerEntry>> {
        self.counters.read_dir.fetch_add(1, Ordering::Relaxed);
        let o = self.resolve(path)?;
        if o.attr.kind != FileKind::Directory {
            return Err(Errno::ENOTDIR);
        }
        Ok(o.children
            .iter()
            .map(|(name, i)| {
                let a = self.objects[*i].attr;
                LowerEntry { name: name.clone(), kind: a.kind, dev: a.dev, ino: a.ino, attr: None }
            })
            .collect())
    }

    fn open(&self, path: &LowerPath) -> Result<Arc<dyn LowerFile>> {
        self.counters.open.fetch_add(1, Ordering::Relaxed);
        let o = self.resolve(path)?;
        match o.attr.kind {
            FileKind::Regular => Ok(Arc::new(FakeFile { data: o.data.clone() })),
            FileKind::Directory => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    fn readlink(&self, path: &LowerPath) -> Result<Vec<u8>> {
        let o = self.resolve(path)?;
        if o.attr.kind != FileKind::Symlink {
            return Err(Errno::EINVAL);
        }
        Ok(o.target.clone())
    }

    fn xattrs(&self, path: &LowerPath, _kind: FileKind) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        Ok(self.resolve(path)?.xattrs.clone())
    }
}

impl FakeLower {
    /// A lower path from a slash-separated string, for tests.
    pub fn path(path: &str) -> LowerPath {
        let mut p = LowerPath::root();
        for c in Self::split(path) {
            p = p.child(OsStr::new(c));
        }
        p
    }
}
