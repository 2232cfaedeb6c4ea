//! getattr, setattr, readlink, statfs.

use super::Engine;
use crate::acl::{self, Acl};
use crate::errno::{Errno, Result};
use crate::node::{Body, Node};
use crate::types::{
    AtimePolicy, Attr, FileKind, NAME_MAX, PERM_MASK, PrivilegeDrop, SetAttr, SetTime, StatFs, Timestamp,
};
use std::sync::Arc;

const S_ISUID: u16 = 0o4000;
const S_ISGID: u16 = 0o2000;
const S_IXGRP: u16 = 0o0010;
const CAPABILITY_XATTR: &[u8] = b"security.capability";

/// relatime updates an access time at least once a day.
const DAY_SECS: i64 = 24 * 3600;
/// Block size statfs reports.
const BLOCK: u64 = 4096;

impl Engine {
    pub fn getattr(&self, id: u64) -> Result<Attr> {
        let node = self.node(id)?;
        Ok(self.fresh_attr(&node))
    }

    /// Changes attributes. A size change is a data change (it copies up only what is kept);
    /// mode, owner and times are metadata only and copy no data.
    pub fn setattr(&self, id: u64, set: &SetAttr) -> Result<Attr> {
        let node = self.node(id)?;
        let _change = self.mutation();
        // A write the kernel made directly comes before this change, and must not undo it.
        node.absorb_kernel_change(node.upper_data().as_deref());
        if let Some(size) = set.size {
            match node.kind {
                FileKind::Regular => self.truncate(&node, size)?,
                FileKind::Directory => return Err(Errno::EISDIR),
                _ => return Err(Errno::EINVAL),
            }
        }
        let meta_change = set.mode.is_some()
            || set.uid.is_some()
            || set.gid.is_some()
            || set.atime.is_some()
            || set.mtime.is_some()
            || set.ctime.is_some();
        if meta_change {
            if set.mode.is_some() {
                // chmod changes an access ACL too.
                self.load_xattrs(&node)?;
            }
            self.pin(&node)?;
            let now = Timestamp::now();
            let resolve = |t: SetTime| match t {
                SetTime::Now => now,
                SetTime::At(t) => t,
            };
            let mut m = node.meta.lock();
            if let Some(mode) = set.mode {
                m.perm = (mode & u32::from(PERM_MASK)) as u16;
                let perm = m.perm;
                if let Some(value) = m.xattrs.as_mut().and_then(|x| x.get_mut(acl::ACCESS_XATTR)) {
                    if let Ok(mut a) = Acl::parse(value) {
                        a.chmod(perm);
                        *value = a.to_bytes();
                    }
                }
            }
            if let Some(uid) = set.uid {
                m.uid = uid;
            }
            if let Some(gid) = set.gid {
                m.gid = gid;
            }
            if let Some(t) = set.atime {
                m.atime = resolve(t);
            }
            if let Some(t) = set.mtime {
                m.mtime = resolve(t);
            }
            m.ctime = set.ctime.unwrap_or(now);
            m.changed = true;
        }
        self.drop_privileges_of(&node, set.drop)?;
        Ok(node.attr())
    }

    /// Whether a write to `node` would have to take something away (set-id bits, file
    /// capabilities).
    #[cfg(unix)]
    pub(super) fn holds_privileges(&self, node: &Node) -> Result<bool> {
        self.load_xattrs(node)?;
        let m = node.meta.lock();
        let caps = m.xattrs.as_ref().is_some_and(|x| x.contains_key(CAPABILITY_XATTR));
        Ok(caps || m.perm & (S_ISUID | S_ISGID) != 0)
    }

    /// Takes away what a write to node `id` takes away (see [`PrivilegeDrop`]); returns whether
    /// anything changed (a frontend whose kernel caches attributes must then tell it).
    pub fn drop_privileges(&self, id: u64, drop: PrivilegeDrop) -> Result<bool> {
        let node = self.node(id)?;
        let _change = self.mutation();
        self.drop_privileges_of(&node, drop)
    }

    /// Directories keep their set-id bits (a set-group-id directory passes its group on); every
    /// other kind loses them, FIFOs, sockets and device nodes included, as on Linux.
    fn drop_privileges_of(&self, node: &Arc<Node>, drop: PrivilegeDrop) -> Result<bool> {
        if drop == PrivilegeDrop::Nothing || node.kind == FileKind::Directory {
            return Ok(false);
        }
        self.load_xattrs(node)?;
        let kept_perm = |perm: u16| match drop {
            PrivilegeDrop::CapabilitiesAndSetId { caller_in_group } => {
                let mut p = perm & !S_ISUID;
                if p & S_IXGRP != 0 || !caller_in_group {
                    p &= !S_ISGID;
                }
                p
            }
            _ => perm,
        };
        let has_caps = |m: &crate::node::Meta| m.xattrs.as_ref().is_some_and(|x| x.contains_key(CAPABILITY_XATTR));
        {
            // The common case changes nothing and must stay cheap: it runs before every write.
            let m = node.meta.lock();
            if kept_perm(m.perm) == m.perm && !has_caps(&m) {
                return Ok(false);
            }
        }
        self.pin(node)?;
        let budget = Arc::clone(self.budget());
        let mut m = node.meta.lock();
        m.perm = kept_perm(m.perm);
        if let Some(v) = m.xattrs.as_mut().and_then(|x| x.remove(CAPABILITY_XATTR)) {
            m.recharge(&budget, -((CAPABILITY_XATTR.len() + v.len()) as i64))?;
        }
        m.touch_changed();
        Ok(true)
    }

    /// Records an access of node `id` (a read of its data, a listing of its entries) as the
    /// mount's atime policy says; returns whether the access time changed (a frontend whose
    /// kernel caches attributes must then tell it).
    ///
    /// An access time is no reason to keep a node in memory: a node holding no other upper state
    /// may be dropped and rebuilt from the lower layer, and then shows the lower access time
    /// again (the lower layer itself is never touched).
    pub fn accessed(&self, id: u64) -> bool {
        let Ok(node) = self.node(id) else { return false };
        if self.atime == AtimePolicy::Never || (node.kind == FileKind::Directory && !self.dir_atime) {
            return false;
        }
        let now = Timestamp::now();
        let mut m = node.meta.lock();
        let due = match self.atime {
            AtimePolicy::Always => true,
            _ => m.atime <= m.mtime || m.atime <= m.ctime || now.secs.saturating_sub(m.atime.secs) >= DAY_SECS,
        };
        if due && m.atime != now {
            m.atime = now;
            return true;
        }
        false
    }

    /// The target of a symlink, as bytes.
    pub fn readlink(&self, id: u64) -> Result<Vec<u8>> {
        let node = self.node(id)?;
        let Body::Symlink(target) = &node.body else {
            return Err(Errno::EINVAL);
        };
        if let Some(t) = target.lock().as_ref() {
            return Ok(t.to_vec());
        }
        let origin = node.origin.as_ref().ok_or(Errno::EIO)?;
        let t = self.lower.readlink(origin)?;
        *target.lock() = Some(Arc::from(t.as_slice()));
        Ok(t)
    }

    /// Capacity is the RAM budget; free space is what is left of it.
    pub fn statfs(&self) -> StatFs {
        let limit = self.budget.limit();
        let used = self.budget.used();
        let free = limit.saturating_sub(used) / BLOCK;
        StatFs {
            blocks: limit / BLOCK,
            bfree: free,
            bavail: free,
            files: u64::from(u32::MAX),
            ffree: u64::from(u32::MAX).saturating_sub(self.nodes.len() as u64),
            bsize: BLOCK as u32,
            namelen: NAME_MAX as u32,
            frsize: BLOCK as u32,
            budget_bytes: limit,
            used_bytes: used,
        }
    }
}
