//! Writing a mount's changes into a private tree that starts as a copy of its lower layer: what
//! makes a snapshot, and the tree of `commit --to`. Nothing sees the tree while this runs, so
//! files are changed in place (the commit into SRC, which others see, goes through a journal
//! instead). The tree and the lower layer are reached through confined directory handles only.

use crate::changeset::{ChangeSet, Item, What};
use crate::commit::shown;
use crate::confined::Dir;
use crate::control::WireLayout;
use crate::control::client::Client;
use crate::error::{Error, Result};
use agentfs_core::FileKind;
use agentfs_platform::tree_copy::{DataMode, copy_entry_at};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::FileExt;
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
    pub lower: &'a Dir,
    /// The tree to change; it starts as a copy of `lower`.
    pub root: &'a Dir,
    /// How objects are copied from `lower` (clones where the filesystem can).
    pub data_mode: DataMode,
}

fn io_err<'a>(what: &'a str, path: &'a Path) -> impl Fn(std::io::Error) -> Error + 'a {
    move |e| Error::System(format!("{what} {}: {}", path.display(), crate::confined::cause(&e)))
}

impl Tree<'_> {
    /// The directory holding `rel` in the tree, and its last name.
    fn at<'p>(&self, rel: &'p Path) -> Result<(Dir, &'p std::ffi::OsStr)> {
        self.root.parent_of(rel).map_err(io_err("cannot open the directory of", &self.root.path().join(rel)))
    }

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
            let rel = &item.path;
            match &item.what {
                What::Removed => {
                    let (d, n) = self.at(rel)?;
                    d.remove_tree(n).map_err(io_err("cannot remove", rel))?;
                }
                What::Created => {
                    w.objects += 1;
                    if let Some(existing) = self.linked(item, &first) {
                        self.link(&existing, rel)?;
                        continue;
                    }
                    self.create(item, &mut w, &mut dirs)?;
                    first.insert(item.id, rel.clone());
                }
                What::Moved { from, data, meta } => {
                    w.objects += 1;
                    let link_to = if item.kind != FileKind::Directory && !set.is_removed(from) {
                        // The lower object is still at `from` too: this is another name for it.
                        Some(from.clone())
                    } else {
                        self.linked(item, &first)
                    };
                    if let Some(existing) = link_to {
                        self.link(&existing, rel)?;
                        continue;
                    }
                    self.copy_lower(from, rel)?;
                    first.insert(item.id, rel.clone());
                    self.change_in_place(item, *data, *meta, &mut w, &mut dirs)?;
                    done.insert(item.id);
                }
                What::Modified { data, meta } => {
                    if done.insert(item.id) {
                        w.objects += 1;
                        self.change_in_place(item, *data, *meta, &mut w, &mut dirs)?;
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

    fn link(&self, existing: &Path, rel: &Path) -> Result<()> {
        let (ed, en) = self.at(existing)?;
        let (td, tn) = self.at(rel)?;
        ed.link_to(en, &td, tn).map_err(io_err("cannot link", rel))
    }

    /// Copies the lower object at `from` to `rel`.
    fn copy_lower(&self, from: &Path, rel: &Path) -> Result<()> {
        let fail = io_err("cannot copy the lower object to", rel);
        let (ld, ln) = self.lower.parent_of(from).map_err(&fail)?;
        let (td, tn) = self.at(rel)?;
        let (src, dst) = (ld.dup_fd().map_err(&fail)?, td.dup_fd().map_err(&fail)?);
        copy_entry_at((&src, ln), (&dst, tn), self.data_mode, &crate::owned::names()).map_err(&fail)
    }

    fn create(&mut self, item: &Item, w: &mut Written, dirs: &mut Vec<(PathBuf, u64)>) -> Result<()> {
        let rel = &item.path;
        let (d, n) = self.at(rel)?;
        let fail = io_err("cannot create", rel);
        match item.kind {
            FileKind::Directory => {
                d.mkdir(n, 0o700).map_err(fail)?;
                dirs.push((rel.clone(), item.id));
                return Ok(());
            }
            FileKind::Regular => {
                let f = File::from(d.create_file(n, 0o600).map_err(&fail)?);
                w.bytes += write_data(self.client, item.id, &f, rel, false)?;
            }
            FileKind::Symlink => {
                let to = self.client.readlink(item.id)?;
                d.symlink(&to, n).map_err(fail)?;
            }
            kind => {
                let a = self.client.stat(item.id)?;
                let ft = rustix::fs::FileType::from_raw_mode(kind.mode_bits() as _);
                match d.mknod(n, ft, a.rdev) {
                    Ok(()) => {}
                    Err(e) if crate::confined::errno(&e) == Some(libc::EPERM) => {
                        tracing::warn!(path = %rel.display(), "device node left out: only root can make one");
                        return Ok(());
                    }
                    #[cfg(target_os = "macos")]
                    Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {
                        tracing::warn!(path = %rel.display(), "socket left out: macOS cannot make one by name");
                        return Ok(());
                    }
                    Err(e) => return Err(fail(e)),
                }
            }
        }
        self.set_meta(item.id, item.kind, rel)
    }

    /// Brings an object that holds its lower state up to date: data, then metadata.
    fn change_in_place(
        &mut self,
        item: &Item,
        data: bool,
        meta: bool,
        w: &mut Written,
        dirs: &mut Vec<(PathBuf, u64)>,
    ) -> Result<()> {
        let rel = &item.path;
        if data && item.kind == FileKind::Regular {
            let (d, n) = self.at(rel)?;
            let f = File::from(d.open_file(n, true).map_err(io_err("cannot open", rel))?);
            w.bytes += write_data(self.client, item.id, &f, rel, true)?;
        }
        if item.kind == FileKind::Directory {
            if meta {
                dirs.push((rel.clone(), item.id));
            }
            return Ok(());
        }
        // Data writes move the times: set them (and the rest) again.
        if meta || data { self.set_meta(item.id, item.kind, rel) } else { Ok(()) }
    }

    /// Owner, mode, xattrs and times of node `id` onto `rel`.
    fn set_meta(&mut self, id: u64, kind: FileKind, rel: &Path) -> Result<()> {
        let m = shown::meta(self.client, id, kind)?;
        let (d, n) = self.at(rel)?;
        let fail = io_err("cannot set the metadata of", rel);
        let who = d.identity(n).map_err(&fail)?.ok_or_else(|| fail(std::io::ErrorKind::NotFound.into()))?;
        d.set_meta(n, who, &m).map_err(fail)
    }
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
