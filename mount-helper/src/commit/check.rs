//! Deciding, by content, whether SRC still holds what a commit expects somewhere: the pinned
//! object, or what the last commit of the mount left there. Files are compared by their bytes
//! (blake3); metadata is a shortcut only where it proves equality (the same inode with the same
//! size, mtime and ctime, which any change of the inode moves).

use super::base::{Base, Content, Left};
use crate::confined::{Dir, Identity, ObjectMeta, errno, kind_of, split};
use rustix::fs::FileType;
use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What SRC is expected to hold at some place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ground {
    Absent,
    /// The pinned object at this path of the pin.
    Pin(PathBuf),
    /// What the last commit left at this path of SRC (a key of the base).
    Left(PathBuf),
}

/// An object found in a tree: its directory, name and metadata.
pub struct Found {
    pub dir: Dir,
    pub name: OsString,
    pub om: ObjectMeta,
}

impl Found {
    pub fn id(&self) -> Identity {
        Identity::of(&self.om.st)
    }
    pub fn kind(&self) -> FileType {
        kind_of(&self.om.st)
    }
    #[allow(clippy::unnecessary_cast)]
    pub fn size(&self) -> u64 {
        self.om.st.st_size as u64
    }
    #[allow(clippy::unnecessary_cast)]
    pub fn ctime(&self) -> (i64, u32) {
        (self.om.st.st_ctime as i64, self.om.st.st_ctime_nsec as u32)
    }
    #[allow(clippy::unnecessary_cast)]
    pub fn rdev(&self) -> u64 {
        self.om.st.st_rdev as u64
    }
    pub fn hash(&self) -> io::Result<[u8; 32]> {
        hash_file(&self.dir, &self.name)
    }
    pub fn target(&self) -> io::Result<Vec<u8>> {
        self.dir.readlink(&self.name)
    }
}

/// The blake3 hash of the regular file `name` of `dir`.
pub fn hash_file(dir: &Dir, name: &OsStr) -> io::Result<[u8; 32]> {
    let mut f = std::fs::File::from(dir.open_file(name, false)?);
    let mut h = blake3::Hasher::new();
    h.update_reader(&mut f).map_err(|e| crate::confined::err_at(&dir.path_of(name), e))?;
    Ok(*h.finalize().as_bytes())
}

/// The object at `rel` below `root` (None: nothing there, or a non-directory on the way). A
/// symlink or another mount on the way is an error.
pub fn find(root: &Dir, rel: &Path) -> io::Result<Option<Found>> {
    find_at(root, rel, true)
}

/// Like [`find`], but a non-directory on the way (a type change) is an error too.
pub fn find_strict(root: &Dir, rel: &Path) -> io::Result<Option<Found>> {
    find_at(root, rel, false)
}

fn find_at(root: &Dir, rel: &Path, not_dir_is_absent: bool) -> io::Result<Option<Found>> {
    let (parent, name) = split(rel)?;
    let dir = match root.open_dir(parent) {
        Ok(d) => d,
        Err(e) if errno(&e) == Some(libc::ENOENT) => return Ok(None),
        Err(e) if not_dir_is_absent && errno(&e) == Some(libc::ENOTDIR) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(dir.meta(name)?.map(|om| Found { dir, name: name.to_os_string(), om }))
}

/// The trees a commit compares: SRC, the pin, and what the last commit left.
pub struct Trees<'a> {
    pub src: &'a Dir,
    pub pin: &'a Dir,
    pub base: &'a Base,
    /// Whether pinned objects keep SRC's inode numbers and times (a btrfs snapshot pin), so that
    /// the same inode with the same size, mtime and ctime proves the same content.
    pub same_inodes: bool,
}

impl Trees<'_> {
    /// What SRC may hold at `src_rel`, whose pinned object is at `origin` in the pin: the pinned
    /// object first, then what the last commit left there (if it wrote there).
    pub fn grounds(&self, src_rel: &Path, origin: Option<&Path>) -> Vec<Ground> {
        let mut g = vec![origin.map_or(Ground::Absent, |o| Ground::Pin(o.to_path_buf()))];
        if self.base.get(src_rel).is_some() {
            g.push(Ground::Left(src_rel.to_path_buf()));
        }
        g
    }

    /// The first of `grounds` that `found` is (not looking inside directories).
    pub fn which(&self, found: Option<&Found>, grounds: &[Ground]) -> io::Result<Option<Ground>> {
        for g in grounds {
            if self.same(found, g)? {
                return Ok(Some(g.clone()));
            }
        }
        Ok(None)
    }

    /// Whether `found` (in SRC) is what `ground` says, not looking inside directories.
    pub fn same(&self, found: Option<&Found>, ground: &Ground) -> io::Result<bool> {
        match ground {
            Ground::Absent => Ok(found.is_none()),
            Ground::Pin(o) => {
                let pinned = find(self.pin, o)?;
                match (found, pinned) {
                    (None, None) => Ok(true),
                    (Some(a), Some(b)) => self.same_as_pinned(a, &b),
                    _ => Ok(false),
                }
            }
            Ground::Left(k) => match (found, self.base.get(k)) {
                (None, Some(Left::Absent)) => Ok(true),
                (Some(a), Some(left @ Left::Object { .. })) => same_as_left(a, left),
                _ => Ok(false),
            },
        }
    }

    fn same_as_pinned(&self, a: &Found, b: &Found) -> io::Result<bool> {
        if a.kind() != b.kind() || !a.om.meta.same_apart_from_times(&b.om.meta) {
            return Ok(false);
        }
        Ok(match a.kind() {
            FileType::RegularFile => {
                if a.size() != b.size() {
                    return Ok(false);
                }
                let proven = self.same_inodes
                    && a.om.st.st_ino == b.om.st.st_ino
                    && a.om.meta.mtime == b.om.meta.mtime
                    && a.ctime() == b.ctime();
                proven || a.hash()? == b.hash()?
            }
            FileType::Symlink => a.target()? == b.target()?,
            FileType::Directory => true,
            _ => a.rdev() == b.rdev(),
        })
    }

    /// Whether the whole tree at `src_rel` in SRC is one of `grounds`, all the way down: each
    /// object as pinned or as the last commit left it, each directory holding the names of its
    /// pinned directory (with or without what the last commit added and removed).
    pub fn same_tree(&self, src_rel: &Path, grounds: Vec<Ground>) -> io::Result<bool> {
        let mut todo = vec![(src_rel.to_path_buf(), grounds)];
        while let Some((rel, grounds)) = todo.pop() {
            let found = find(self.src, &rel)?;
            let mut matching = Vec::new();
            for g in grounds {
                if self.same(found.as_ref(), &g)? {
                    matching.push(g);
                }
            }
            if matching.is_empty() {
                return Ok(false);
            }
            let Some(f) = found.filter(|f| f.kind() == FileType::Directory) else { continue };
            let here = f.dir.open_dir(Path::new(&f.name))?;
            let have: BTreeSet<OsString> = crate::confined::entries(&here)?.into_iter().map(|e| e.name).collect();
            let pinned: Vec<PathBuf> = matching.iter().filter_map(|g| self.pinned_dir(g)).collect();
            if !self.names_fit(&rel, &pinned, &have)? {
                return Ok(false);
            }
            for n in have {
                let child = rel.join(&n);
                let mut g: Vec<Ground> = pinned.iter().map(|o| Ground::Pin(o.join(&n))).collect();
                if self.base.get(&child).is_some() {
                    g.push(Ground::Left(child.clone()));
                }
                if g.is_empty() {
                    g.push(Ground::Absent);
                }
                todo.push((child, g));
            }
        }
        Ok(true)
    }

    /// The pinned directory a ground stands for, if any.
    fn pinned_dir(&self, ground: &Ground) -> Option<PathBuf> {
        match ground {
            Ground::Pin(o) => Some(o.clone()),
            Ground::Left(k) => match self.base.get(k) {
                Some(Left::Object { origin: Some(o), .. }) => Some(super::journal::path(o)),
                _ => None,
            },
            Ground::Absent => None,
        }
    }

    /// Whether `have` (the names of SRC's directory `src_rel`) are those of one of the `pinned`
    /// directories, or those with the last commit's additions and removals.
    fn names_fit(&self, src_rel: &Path, pinned: &[PathBuf], have: &BTreeSet<OsString>) -> io::Result<bool> {
        let mut bases: Vec<BTreeSet<OsString>> = Vec::new();
        for o in pinned {
            let d = self.pin.open_dir(o)?;
            bases.push(crate::confined::entries(&d)?.into_iter().map(|e| e.name).collect());
        }
        if bases.is_empty() {
            bases.push(BTreeSet::new());
        }
        for names in bases {
            let mut overlaid = names.clone();
            for (n, left) in self.base.children(src_rel) {
                match left {
                    Left::Absent => overlaid.remove(&n),
                    Left::Object { .. } => overlaid.insert(n),
                };
            }
            if *have == names || *have == overlaid {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

fn same_as_left(a: &Found, left: &Left) -> io::Result<bool> {
    let Left::Object { id, ctime, mtime, meta, content, .. } = left else { return Ok(false) };
    if !a.om.meta.same_apart_from_times(meta) {
        return Ok(false);
    }
    Ok(match (a.kind(), content) {
        (FileType::RegularFile, Content::File { size, hash }) => {
            let proven = a.id() == *id && a.ctime() == *ctime && a.om.meta.mtime == *mtime && a.size() == *size;
            proven || (a.size() == *size && a.hash()? == *hash)
        }
        (FileType::Symlink, Content::Symlink { target }) => a.target()? == *target,
        (FileType::Directory, Content::Dir) => true,
        (k, Content::Other { kind, rdev }) => raw_kind(k) == *kind && a.rdev() == *rdev,
        _ => false,
    })
}

/// The type bits of `k` (`mode_t`: 32 bits on Linux, 16 on macOS; recorded as 32).
#[allow(clippy::unnecessary_cast)]
fn raw_kind(k: FileType) -> u32 {
    k.as_raw_mode() as u32
}

/// What is at `found` now, as the base records it (`origin`: where in the pin it came from).
pub fn left_of(found: Option<&Found>, origin: Option<&Path>) -> io::Result<Left> {
    let Some(f) = found else { return Ok(Left::Absent) };
    let content = match f.kind() {
        FileType::RegularFile => Content::File { size: f.size(), hash: f.hash()? },
        FileType::Symlink => Content::Symlink { target: f.target()? },
        FileType::Directory => Content::Dir,
        k => Content::Other { kind: raw_kind(k), rdev: f.rdev() },
    };
    Ok(Left::Object {
        id: f.id(),
        ctime: f.ctime(),
        mtime: f.om.meta.mtime,
        meta: f.om.meta.clone(),
        content,
        origin: origin.map(|o| o.as_os_str().as_bytes().to_vec()),
    })
}
