//! Writing a mount's changes into a private tree that starts as a copy of its lower layer: what
//! makes a snapshot. Nothing sees the tree while this runs, so files are changed in place (the
//! commit into SRC, which others see, goes through a journal instead).

use crate::changeset::{ChangeSet, Item, What};
use crate::control::WireLayout;
use crate::control::client::Client;
use crate::error::{Error, Result};
use agentfs_core::FileKind;
use agentfs_platform::tree_copy::{DataMode, copy_entry};
use rustix::fs::{AtFlags, Timespec, Timestamps};
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// What applying the changes wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Objects created, moved in or changed.
    pub objects: u64,
    /// Bytes of file data written.
    pub bytes: u64,
}

/// A tree being brought from the lower layer's state to the mount's.
pub struct Tree<'a> {
    pub client: &'a mut Client,
    /// The lower layer the changes are relative to (moved objects are copied from it).
    pub lower: &'a Path,
    /// The tree to change; it starts as a copy of `lower`.
    pub root: &'a Path,
    /// How objects are copied from `lower` (clones where the filesystem can).
    pub data_mode: DataMode,
}

fn io_err<'a>(what: &'a str, path: &'a Path) -> impl Fn(std::io::Error) -> Error + 'a {
    move |e| Error::io(what, path, &e)
}

impl Tree<'_> {
    /// Applies every change, in the order the daemon listed them.
    pub fn apply(&mut self, set: &ChangeSet) -> Result<Written> {
        let mut w = Written::default();
        // Node id -> where it was first written (a second name becomes a hardlink to it).
        let mut first: HashMap<u64, PathBuf> = HashMap::new();
        // Nodes whose data and metadata are already in place (lower hardlinks seen twice).
        let mut done: HashSet<u64> = HashSet::new();
        // Directories whose metadata is set last, deepest first (so their times stay).
        let mut dirs: Vec<(PathBuf, u64)> = Vec::new();
        for item in &set.items {
            let target = self.root.join(&item.path);
            match &item.what {
                What::Removed => remove_any(&target)?,
                What::Created => {
                    w.objects += 1;
                    if let Some(existing) = self.linked(item, &first) {
                        fs::hard_link(&existing, &target).map_err(io_err("cannot link", &target))?;
                        continue;
                    }
                    self.create(item, &target, &mut w, &mut dirs)?;
                    first.insert(item.id, target);
                }
                What::Moved { from, data, meta } => {
                    w.objects += 1;
                    let link_to = if item.kind != FileKind::Directory && !set.is_removed(from) {
                        // The lower object is still at `from` too: this is another name for it.
                        Some(self.root.join(from))
                    } else {
                        self.linked(item, &first)
                    };
                    if let Some(existing) = link_to {
                        fs::hard_link(&existing, &target).map_err(io_err("cannot link", &target))?;
                        continue;
                    }
                    copy_entry(&self.lower.join(from), &target, self.data_mode)
                        .map_err(io_err("cannot copy the lower object to", &target))?;
                    first.insert(item.id, target.clone());
                    self.change_in_place(item, &target, *data, *meta, &mut w, &mut dirs)?;
                    done.insert(item.id);
                }
                What::Modified { data, meta } => {
                    if done.insert(item.id) {
                        w.objects += 1;
                        self.change_in_place(item, &target, *data, *meta, &mut w, &mut dirs)?;
                    }
                }
            }
        }
        dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        for (path, id) in dirs {
            self.set_meta(id, FileKind::Directory, &path)?;
        }
        Ok(w)
    }

    /// Where a regular file with this node id was already written, if it was.
    fn linked(&self, item: &Item, first: &HashMap<u64, PathBuf>) -> Option<PathBuf> {
        (item.kind == FileKind::Regular).then(|| first.get(&item.id).cloned()).flatten()
    }

    fn create(&mut self, item: &Item, target: &Path, w: &mut Written, dirs: &mut Vec<(PathBuf, u64)>) -> Result<()> {
        match item.kind {
            FileKind::Directory => {
                fs::create_dir(target).map_err(io_err("cannot create", target))?;
                dirs.push((target.to_path_buf(), item.id));
                return Ok(());
            }
            FileKind::Regular => {
                let f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(target)
                    .map_err(io_err("cannot create", target))?;
                w.bytes += write_data(self.client, item.id, &f, target, false)?;
            }
            FileKind::Symlink => {
                let to = self.client.readlink(item.id)?;
                std::os::unix::fs::symlink(OsStr::from_bytes(&to), target).map_err(io_err("cannot create", target))?;
            }
            kind => {
                let a = self.client.stat(item.id)?;
                let ft = rustix::fs::FileType::from_raw_mode(kind.mode_bits() as _);
                match agentfs_platform::os::fs::mknodat(rustix::fs::CWD, target.as_os_str(), ft, 0o600, a.rdev) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                        tracing::warn!(path = %target.display(), "device node left out: only root can make one");
                        return Ok(());
                    }
                    Err(e) => return Err(io_err("cannot create", target)(e)),
                }
            }
        }
        self.set_meta(item.id, item.kind, target)
    }

    /// Brings an object that holds its lower state up to date: data, then metadata.
    fn change_in_place(
        &mut self,
        item: &Item,
        target: &Path,
        data: bool,
        meta: bool,
        w: &mut Written,
        dirs: &mut Vec<(PathBuf, u64)>,
    ) -> Result<()> {
        if data && item.kind == FileKind::Regular {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(target)
                .map_err(io_err("cannot open", target))?;
            w.bytes += write_data(self.client, item.id, &f, target, true)?;
        }
        if item.kind == FileKind::Directory {
            if meta {
                dirs.push((target.to_path_buf(), item.id));
            }
            return Ok(());
        }
        // Data writes move the times: set them (and the rest) again.
        if meta || data { self.set_meta(item.id, item.kind, target) } else { Ok(()) }
    }

    /// Owner, mode, xattrs and times of node `id` onto `target`.
    fn set_meta(&mut self, id: u64, kind: FileKind, target: &Path) -> Result<()> {
        let a = self.client.stat(id)?;
        let fail = io_err("cannot set the metadata of", target);
        if rustix::process::geteuid().is_root() {
            rustix::fs::chownat(
                rustix::fs::CWD,
                target,
                Some(rustix::fs::Uid::from_raw(a.uid)),
                Some(rustix::fs::Gid::from_raw(a.gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(|e| fail(e.into()))?;
        }
        if kind != FileKind::Symlink {
            rustix::fs::chmodat(rustix::fs::CWD, target, agentfs_platform::os::fs::perm_mode(a.perm), AtFlags::empty())
                .map_err(|e| fail(e.into()))?;
            set_xattrs(target, &self.client.xattrs(id)?).map_err(&fail)?;
        }
        let ts = |(s, n): (i64, u32)| Timespec { tv_sec: s, tv_nsec: n as _ };
        let times = Timestamps { last_access: ts(a.atime), last_modification: ts(a.mtime) };
        rustix::fs::utimensat(rustix::fs::CWD, target, &times, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| fail(e.into()))?;
        Ok(())
    }
}

/// Makes `target`'s xattrs exactly `want` (removing what the lower object had and lost).
pub fn set_xattrs(target: &Path, want: &[(Vec<u8>, Vec<u8>)]) -> std::io::Result<()> {
    let mut list = vec![0u8; 64 * 1024];
    let n = rustix::fs::llistxattr(target, &mut list[..]).unwrap_or(0);
    for name in list[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        if !want.iter().any(|(k, _)| k == name) {
            let _ = rustix::fs::lremovexattr(target, OsStr::from_bytes(name));
        }
    }
    for (k, v) in want {
        rustix::fs::lsetxattr(target, OsStr::from_bytes(k), v, rustix::fs::XattrFlags::empty())?;
    }
    Ok(())
}

/// Removes whatever is at `path` (a whole tree for a directory; a symlink itself, never its
/// target); nothing there is fine.
pub fn remove_any(path: &Path) -> Result<()> {
    let r = match fs::symlink_metadata(path) {
        Ok(md) if md.is_dir() => crate::pin::remove::remove_tree(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    r.map_err(io_err("cannot remove", path))
}

/// Writes node `id`'s data into `f`. With `on_lower`, `f` holds the lower file's data and only
/// what differs is written (partial copy-ups stay cheap); else `f` is empty. Holes stay holes.
/// Returns the bytes written.
pub fn write_data(client: &mut Client, id: u64, f: &File, path: &Path, on_lower: bool) -> Result<u64> {
    let fail = io_err("cannot write", path);
    let mut written = 0u64;
    let mut copy = |client: &mut Client, start: u64, end: u64| -> Result<()> {
        client.read_range(id, start, end, |off, bytes| {
            f.write_all_at(bytes, off).map_err(&fail)?;
            written += bytes.len() as u64;
            Ok(())
        })
    };
    match client.layout(id)? {
        // Still the lower file's data.
        None => {}
        Some(WireLayout::Whole { len }) => {
            if on_lower {
                f.set_len(0).map_err(&fail)?;
            }
            for (s, e) in client.segments(id, 0, len)? {
                copy(client, s, e)?;
            }
            f.set_len(len).map_err(&fail)?;
        }
        Some(WireLayout::Partial { len, limit, written: ranges }) => {
            let have = f.metadata().map_err(&fail)?.len();
            if !on_lower {
                // An empty file: the lower bytes are not there to keep, so copy them all.
                for (s, e) in client.segments(id, 0, len)? {
                    copy(client, s, e)?;
                }
            } else {
                if have > limit {
                    f.set_len(limit).map_err(&fail)?;
                }
                for (s, e) in ranges {
                    copy(client, s, e.min(len))?;
                }
                if len > limit {
                    for (s, e) in client.segments(id, limit, len)? {
                        copy(client, s, e)?;
                    }
                }
            }
            f.set_len(len).map_err(&fail)?;
        }
    }
    Ok(written)
}
