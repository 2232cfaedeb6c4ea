//! opendir, readdir, readdirplus, releasedir.

use super::{Engine, Found, OpenFile};
use crate::dir::{DOT_COOKIE, DOTDOT_COOKIE, DirBody, ListingPos};
use crate::errno::{Errno, Result};
use crate::node::Node;
use crate::types::{Attr, DirEntry, FileKind, OpenFlags};
use parking_lot::RwLockReadGuard;
use std::ffi::OsString;
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl Engine {
    /// Opens a directory for listing; returns a handle.
    pub fn opendir(&self, id: u64) -> Result<u64> {
        let node = self.node(id)?;
        node.dir()?;
        node.opens.fetch_add(1, Ordering::AcqRel);
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.files.insert(fh, Arc::new(OpenFile { node, flags: OpenFlags::RDONLY }));
        Ok(fh)
    }

    pub fn releasedir(&self, fh: u64) -> Result<()> {
        self.release(fh)
    }

    /// Lists directory `id` from after cookie `offset` ("." and ".." included). `add` gets each
    /// entry and returns false when it cannot take more; listing stops there.
    pub fn readdir(&self, id: u64, offset: u64, mut add: impl FnMut(&DirEntry) -> bool) -> Result<()> {
        let node = self.node(id)?;
        let d = self.listing(&node, offset)?;
        let pos = d.position(offset);
        for (cookie, name, ino) in self.dots(id, &node) {
            let at = ListingPos::start_after(cookie);
            if pos.after < cookie && !add(&DirEntry { ino, offset: at, kind: FileKind::Directory, name: name.into() }) {
                return Ok(());
            }
        }
        for (name, e) in d.listing(pos) {
            let at = ListingPos::offset(e.cookie(), pos.limit);
            let entry = DirEntry { ino: e.id, offset: at, kind: e.kind, name: OsString::from(&**name) };
            if !add(&entry) {
                break;
            }
        }
        Ok(())
    }

    /// Like [`Engine::readdir`] with attributes. Every entry `add` takes (except "." and "..")
    /// counts one reference to its node, as a lookup does.
    pub fn readdirplus(&self, id: u64, offset: u64, mut add: impl FnMut(&DirEntry, &Attr) -> bool) -> Result<()> {
        self.readdirplus_where(id, offset, |_| true, |e, a| a.is_none_or(|a| add(e, a)))
    }

    /// Like [`Engine::readdirplus`], with attributes only for the entries whose kind
    /// `with_attr` accepts; the others come with None, are not looked at in the lower layer and
    /// count no reference.
    pub fn readdirplus_where(
        &self,
        id: u64,
        offset: u64,
        with_attr: impl Fn(FileKind) -> bool,
        mut add: impl FnMut(&DirEntry, Option<&Attr>) -> bool,
    ) -> Result<()> {
        let node = self.node(id)?;
        let d = self.listing(&node, offset)?;
        let pos = d.position(offset);
        for (cookie, name, ino) in self.dots(id, &node) {
            if pos.after < cookie {
                let attr = self.node(ino)?.attr();
                let at = ListingPos::start_after(cookie);
                if !add(&DirEntry { ino, offset: at, kind: FileKind::Directory, name: name.into() }, Some(&attr)) {
                    return Ok(());
                }
            }
        }
        for (name, e) in d.listing(pos) {
            let at = ListingPos::offset(e.cookie(), pos.limit);
            if !with_attr(e.kind) {
                if !add(&DirEntry { ino: e.id, offset: at, kind: e.kind, name: OsString::from(&**name) }, None) {
                    break;
                }
                continue;
            }
            let child = match self.resolve(id, Found { body: &d, name, entry: e }, true, false) {
                Ok(c) => c,
                Err(err) => {
                    tracing::warn!(dir = id, name = ?name, %err, "readdirplus: skipping an entry the lower layer cannot stat");
                    continue;
                }
            };
            let attr = child.attr();
            let entry = DirEntry { ino: e.id, offset: at, kind: attr.kind, name: OsString::from(&**name) };
            if !add(&entry, Some(&attr)) {
                self.forget(child.id, 1);
                break;
            }
        }
        Ok(())
    }

    /// Tells the read-ahead which lower files this directory lists, in order.
    /// The loaded listing of directory `node`, for a readdir from cookie `offset`.
    fn listing<'a>(&self, node: &'a Node, offset: u64) -> Result<RwLockReadGuard<'a, DirBody>> {
        let d = self.dir_read(node)?;
        // Like Linux, a removed directory cannot be listed (its parent may be gone).
        if d.removed {
            return Err(Errno::ENOENT);
        }
        if offset == 0 {
            self.note_listing(&d);
        }
        Ok(d)
    }

    fn note_listing(&self, d: &DirBody) {
        let Some(p) = &self.prefetch else { return };
        let files = d
            .entries()
            .filter(|(_, e)| e.kind == FileKind::Regular)
            .filter_map(|(name, e)| {
                let origin = d.origin_of(name, e)?;
                let size = self.nodes.get(&e.id).map_or(u64::MAX, |n| n.meta.lock().size);
                Some((e.id, origin, size))
            })
            .collect();
        p.listed(files);
    }

    fn dots(&self, id: u64, node: &crate::node::Node) -> [(u64, &'static str, u64); 2] {
        let parent = node.parent.load(Ordering::Acquire);
        let parent = if parent == 0 { id } else { parent };
        [(DOT_COOKIE, ".", id), (DOTDOT_COOKIE, "..", parent)]
    }
}
