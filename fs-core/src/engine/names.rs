//! Operations on names: lookup, forget, creating nodes, links, unlink and rmdir.

use super::xattr::put_xattr;
use super::{Engine, Found};
use crate::acl::{self, Acl};
use crate::budget::ChargedData;
use crate::dir::{DirBody, Name};
use crate::errno::{Errno, Result};
use crate::node::{Body, FileBody, Meta, Node};
use crate::types::{Attr, Caller, FileKind, PERM_MASK, ROOT_ID, S_ISGID, SYMLINK_MAX, check_name};
use crate::upper::UpperFile;
use parking_lot::{Mutex, RwLock};
use std::ffi::OsStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Directory link counts follow "2 + subdirectories"; a lower filesystem that reports 1 for
/// directories (btrfs) means "not counted", and then the count stays 1.
pub(super) fn inc_dir_links(m: &mut Meta) {
    if m.nlink >= 2 {
        m.nlink = m.nlink.saturating_add(1);
    }
}

pub(super) fn dec_dir_links(m: &mut Meta) {
    if m.nlink > 2 {
        m.nlink -= 1;
    }
}

/// An extended attribute a new node starts with.
type NewXattr = (&'static [u8], Vec<u8>);

/// What kind of node to create.
pub(super) enum NewKind<'a> {
    File,
    Dir,
    Symlink(&'a [u8]),
    Special(FileKind, u64),
}

impl Engine {
    /// Looks up `name` in directory `parent` and counts a reference to the node found.
    ///
    /// `.` names `parent` itself, of any kind, and `..` the directory holding it: that is how a
    /// kernel asks for a node a file handle names once it has forgotten it (FUSE export
    /// support, for open_by_handle_at and NFS).
    pub fn lookup(&self, parent: u64, name: &OsStr) -> Result<Attr> {
        if name.as_encoded_bytes() == b"." {
            return self.lookup_id(parent);
        }
        let p = self.node(parent)?;
        match name.as_encoded_bytes() {
            b".." => {
                if self.dir_read(&p)?.removed {
                    return Err(Errno::ENOENT);
                }
                let up = self.node(p.parent.load(Ordering::Acquire))?;
                up.lookups.fetch_add(1, Ordering::AcqRel);
                return Ok(up.attr());
            }
            _ => check_name(name)?,
        }
        let node = {
            let d = self.dir_read(&p)?;
            let entry = d.get(name).ok_or(Errno::ENOENT)?;
            self.resolve(parent, Found { body: &d, name, entry }, true, false)?
        };
        Ok(self.fresh_attr(&node))
    }

    /// The node with id `id`, counting a reference. A node in memory is found at once; a lower
    /// node that was dropped from memory (only non-directories without upper state are) is
    /// found again through the loaded directory listing that names it. ESTALE if it is gone.
    pub fn lookup_id(&self, id: u64) -> Result<Attr> {
        if let Some(node) = self.nodes.get(&id).map(|n| Arc::clone(&n)) {
            if node.dead.load(Ordering::Acquire) {
                return Err(Errno::ESTALE);
            }
            node.lookups.fetch_add(1, Ordering::AcqRel);
            return Ok(self.fresh_attr(&node));
        }
        let dirs: Vec<Arc<Node>> =
            self.nodes.iter().filter(|n| n.kind == FileKind::Directory).map(|n| Arc::clone(&n)).collect();
        for dir in dirs {
            let Ok(lock) = dir.dir() else { continue };
            let body = lock.read();
            // Still in memory (it cannot leave while its listing is locked), and listed.
            let resident = self.nodes.get(&dir.id).is_some_and(|n| Arc::ptr_eq(&n, &dir));
            if !resident || !body.is_loaded() {
                continue;
            }
            if let Some((name, entry)) = body.entries().find(|(_, e)| e.id == id) {
                let node = self.resolve(dir.id, Found { body: &body, name, entry }, true, false)?;
                return Ok(self.fresh_attr(&node));
            }
        }
        self.find_in_view(id)
    }

    /// Finds node `id` by walking the whole view from the root, listing directories as needed
    /// (a handle of a file whose directory left memory too); then lets go of the directories
    /// the walk alone brought in. Slow, and only for that case.
    fn find_in_view(&self, id: u64) -> Result<Attr> {
        let mut queue = std::collections::VecDeque::from([ROOT_ID]);
        let mut brought_in = Vec::new();
        let mut found = None;
        while let (None, Some(dir_id)) = (&found, queue.pop_front()) {
            let Ok(dir) = self.node(dir_id) else { continue };
            let body = self.dir_read(&dir)?;
            for (name, e) in body.entries() {
                let here = Found { body: &body, name, entry: e };
                if e.id == id {
                    found = Some(self.resolve(dir_id, here, true, false)?);
                    break;
                }
                if e.kind == FileKind::Directory {
                    let resident = self.nodes.contains_key(&e.id);
                    let child = self.resolve(dir_id, here, false, false)?;
                    queue.push_back(child.id);
                    if !resident {
                        brought_in.push(child);
                    }
                }
            }
        }
        for d in brought_in.iter().rev() {
            self.maybe_evict(d);
        }
        match found {
            Some(node) => Ok(self.fresh_attr(&node)),
            None => Err(Errno::ESTALE),
        }
    }

    /// The permission bits and ACL attributes of a new object in directory `parent`: with a
    /// default ACL there, the object inherits it (a directory also as its own default ACL) and
    /// the umask does not apply; otherwise the caller's umask does. Symlinks have neither.
    fn new_mode_and_acls(
        &self,
        parent: &Node,
        kind: FileKind,
        perm: u16,
        caller: &Caller,
    ) -> Result<(u16, Vec<NewXattr>)> {
        if kind == FileKind::Symlink {
            return Ok((perm, Vec::new()));
        }
        self.load_xattrs(parent)?;
        let default = parent.meta.lock().xattrs.as_ref().and_then(|x| x.get(acl::DEFAULT_XATTR).cloned());
        let Some(default) = default.and_then(|v| Acl::parse(&v).ok()).filter(|a| !a.is_empty()) else {
            return Ok((perm & !(caller.umask as u16 & 0o777), Vec::new()));
        };
        let (perm, access) = default.inherit(perm);
        let mut acls = Vec::new();
        if let Some(a) = access {
            acls.push((acl::ACCESS_XATTR, a.to_bytes()));
        }
        if kind == FileKind::Directory {
            acls.push((acl::DEFAULT_XATTR, default.to_bytes()));
        }
        Ok((perm, acls))
    }

    /// Gives back `n` references to node `id`.
    pub fn forget(&self, id: u64, n: u64) {
        let Some(node) = self.nodes.get(&id).map(|r| Arc::clone(&r)) else {
            return;
        };
        let _ = node.lookups.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| Some(v.saturating_sub(n)));
        self.maybe_evict(&node);
    }

    /// Creates a regular file, FIFO, socket or device node. `mode` holds type and permission bits.
    pub fn mknod(&self, parent: u64, name: &OsStr, mode: u32, rdev: u64, caller: &Caller) -> Result<Attr> {
        let kind = match mode & 0o170000 {
            0 => FileKind::Regular,
            bits => FileKind::from_mode(bits).ok_or(Errno::EINVAL)?,
        };
        let new = match kind {
            FileKind::Regular => NewKind::File,
            FileKind::Fifo | FileKind::Socket => NewKind::Special(kind, 0),
            FileKind::CharDevice | FileKind::BlockDevice => {
                if !caller.is_privileged() {
                    return Err(Errno::EPERM);
                }
                NewKind::Special(kind, rdev)
            }
            FileKind::Directory | FileKind::Symlink => return Err(Errno::EINVAL),
        };
        Ok(self.create_node(parent, name, new, mode, caller)?.attr())
    }

    pub fn mkdir(&self, parent: u64, name: &OsStr, mode: u32, caller: &Caller) -> Result<Attr> {
        Ok(self.create_node(parent, name, NewKind::Dir, mode, caller)?.attr())
    }

    /// Creates a symlink to `target` (bytes, never interpreted).
    pub fn symlink(&self, parent: u64, name: &OsStr, target: &[u8], caller: &Caller) -> Result<Attr> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        if target.len() > SYMLINK_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        Ok(self.create_node(parent, name, NewKind::Symlink(target), 0o777, caller)?.attr())
    }

    /// Creates a node in the upper layer and links it as `parent/name`, counting one reference.
    pub(super) fn create_node(
        &self,
        parent: u64,
        name: &OsStr,
        new: NewKind<'_>,
        mode: u32,
        caller: &Caller,
    ) -> Result<Arc<Node>> {
        check_name(name)?;
        let _change = self.mutation();
        let p = self.node(parent)?;
        let mut d = self.dir_write(&p)?;
        if d.removed {
            return Err(Errno::ENOENT);
        }
        if d.get(name).is_some() {
            return Err(Errno::EEXIST);
        }
        let node = self.new_node(&p, new, mode, caller)?;
        node.lookups.store(1, Ordering::Release);
        self.link_new(&mut d, &p, name, &node);
        Ok(node)
    }

    /// A new node of the upper layer, to become an entry of directory `p` (whose body the
    /// caller has locked): its mode, owner, group and ACLs follow from `p` and the caller.
    pub(super) fn new_node(&self, p: &Node, new: NewKind<'_>, mode: u32, caller: &Caller) -> Result<Arc<Node>> {
        let (kind, rdev, nlink) = match new {
            NewKind::File => (FileKind::Regular, 0, 1),
            NewKind::Dir => (FileKind::Directory, 0, 2),
            NewKind::Symlink(_) => (FileKind::Symlink, 0, 1),
            NewKind::Special(k, r) => (k, r, 1),
        };
        let (mut perm, acls) = self.new_mode_and_acls(p, kind, (mode & u32::from(PERM_MASK)) as u16, caller)?;
        let mut gid = caller.gid;
        {
            // A set-group-id directory hands its group down, and its bit to subdirectories.
            let pm = p.meta.lock();
            if pm.perm & S_ISGID != 0 {
                gid = pm.gid;
                if kind == FileKind::Directory {
                    perm |= S_ISGID;
                }
            }
        }
        let size = match new {
            NewKind::Symlink(t) => t.len() as u64,
            NewKind::Dir => 4096,
            _ => 0,
        };
        let body = match new {
            NewKind::File => {
                let data = ChargedData::new(self.store.create()?, self.budget());
                Body::File(RwLock::new(FileBody::Upper(Arc::new(UpperFile::whole(data)))))
            }
            NewKind::Dir => Body::Dir(Box::new(RwLock::new(DirBody::new_upper()))),
            NewKind::Symlink(t) => Body::Symlink(Mutex::new(Some(Arc::from(t)))),
            NewKind::Special(..) => Body::Special,
        };
        let id = self.ids.upper();
        let meta = Meta::new_upper(perm, caller.uid, gid, nlink, rdev, size);
        let node = Arc::new(Node::new_upper(id, p.id, kind, meta, body, self.budget())?);
        let mut m = node.meta.lock();
        for (key, value) in acls {
            put_xattr(&mut m, self.budget(), key, Some(value))?;
        }
        drop(m);
        Ok(node)
    }

    /// Enters a node made by [`Engine::new_node`] as `name` in `d`, the locked body of `p`.
    pub(super) fn link_new(&self, d: &mut DirBody, p: &Node, name: &OsStr, node: &Arc<Node>) {
        self.nodes.insert(node.id, Arc::clone(node));
        p.children.fetch_add(1, Ordering::AcqRel);
        d.insert(Name::from(name), node.id, node.kind, None);
        let mut pm = p.meta.lock();
        pm.touch_modified();
        if node.kind == FileKind::Directory {
            inc_dir_links(&mut pm);
        }
    }

    /// Adds `newparent/newname` as another name of node `id` and counts a reference.
    pub fn link(&self, id: u64, newparent: u64, newname: &OsStr) -> Result<Attr> {
        check_name(newname)?;
        let _change = self.mutation();
        let node = self.node(id)?;
        let np = self.node(newparent)?;
        {
            let mut d = self.dir_write(&np)?;
            if d.removed {
                return Err(Errno::ENOENT);
            }
            // Like Linux: an existing target is reported before a directory source.
            if d.get(newname).is_some() {
                return Err(Errno::EEXIST);
            }
            if node.kind == FileKind::Directory {
                return Err(Errno::EPERM);
            }
            self.pin(&node)?;
            {
                let mut m = node.meta.lock();
                if m.nlink == 0 {
                    return Err(Errno::ENOENT);
                }
                m.nlink = m.nlink.checked_add(1).ok_or(Errno::EMLINK)?;
                m.touch_changed();
            }
            d.insert(Name::from(newname), node.id, node.kind, node.origin.clone());
            np.meta.lock().touch_modified();
            node.lookups.fetch_add(1, Ordering::AcqRel);
        }
        Ok(node.attr())
    }

    /// Removes the name of a non-directory.
    pub fn unlink(&self, parent: u64, name: &OsStr) -> Result<()> {
        check_name(name)?;
        let _change = self.mutation();
        let p = self.node(parent)?;
        let victim = {
            let mut d = self.dir_write(&p)?;
            let e = d.get(name).ok_or(Errno::ENOENT)?.clone();
            if e.kind == FileKind::Directory {
                return Err(Errno::EISDIR);
            }
            let node = self.resolve(parent, Found { body: &d, name, entry: &e }, false, true)?;
            drop_link(&node);
            d.remove(name);
            p.meta.lock().touch_modified();
            node
        };
        self.reclaim_if_unreachable(&victim);
        self.maybe_evict(&victim);
        Ok(())
    }

    /// Removes an empty directory.
    pub fn rmdir(&self, parent: u64, name: &OsStr) -> Result<()> {
        let _change = self.mutation();
        match name.as_encoded_bytes() {
            b"." => return Err(Errno::EINVAL),
            b".." => return Err(Errno::ENOTEMPTY),
            _ => check_name(name)?,
        }
        let p = self.node(parent)?;
        let victim = {
            let mut d = self.dir_write(&p)?;
            let e = d.get(name).ok_or(Errno::ENOENT)?.clone();
            if e.kind != FileKind::Directory {
                return Err(Errno::ENOTDIR);
            }
            let node = self.resolve(parent, Found { body: &d, name, entry: &e }, false, true)?;
            remove_dir_node(self, &node)?;
            d.remove(name);
            let mut pm = p.meta.lock();
            pm.touch_modified();
            dec_dir_links(&mut pm);
            node
        };
        self.maybe_evict(&victim);
        Ok(())
    }
}

/// One name of `node` is gone: count it down, and mark the node dead at zero.
pub(super) fn drop_link(node: &Node) {
    let mut m = node.meta.lock();
    m.nlink = m.nlink.saturating_sub(1);
    m.touch_changed();
    if m.nlink == 0 {
        node.dead.store(true, Ordering::Release);
    }
}

/// Marks the directory `node` removed if it is empty (ENOTEMPTY otherwise). The caller holds the
/// parent directory's lock and removes the entry.
pub(super) fn remove_dir_node(engine: &Engine, node: &Node) -> Result<()> {
    {
        let mut vd = engine.dir_write(node)?;
        if !vd.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        vd.removed = true;
    }
    let mut m = node.meta.lock();
    m.nlink = 0;
    m.touch_changed();
    node.dead.store(true, Ordering::Release);
    Ok(())
}
