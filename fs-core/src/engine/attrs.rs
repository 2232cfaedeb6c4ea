//! getattr, setattr, readlink, statfs.

use super::Engine;
use crate::errno::{Errno, Result};
use crate::node::Body;
use crate::types::{Attr, FileKind, NAME_MAX, PERM_MASK, SetAttr, SetTime, StatFs, Timestamp};
use std::sync::Arc;

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
            self.pin(&node)?;
            let now = Timestamp::now();
            let resolve = |t: SetTime| match t {
                SetTime::Now => now,
                SetTime::At(t) => t,
            };
            let mut m = node.meta.lock();
            if let Some(mode) = set.mode {
                m.perm = (mode & u32::from(PERM_MASK)) as u16;
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
        Ok(node.attr())
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
