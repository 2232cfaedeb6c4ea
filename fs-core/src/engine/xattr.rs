//! Extended attributes. A node's map is read from the lower layer on first use and changed in
//! memory; changing it copies no data.

use super::Engine;
use crate::acl::{self, Acl};
use crate::budget::Budget;
use crate::errno::{Errno, Result};
use crate::node::{Meta, Node};
use crate::types::FileKind;
use std::ffi::OsStr;
use std::sync::Arc;

/// Longest xattr value (Linux XATTR_SIZE_MAX).
pub const XATTR_VALUE_MAX: usize = 65536;
/// Longest xattr name (Linux XATTR_NAME_MAX).
pub const XATTR_NAME_MAX: usize = 255;

/// Flags of setxattr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XattrFlags {
    /// Fail with EEXIST if the attribute exists.
    pub create: bool,
    /// Fail with ENODATA if the attribute does not exist.
    pub replace: bool,
    /// Setting an access ACL also clears the set-group-id bit (the caller is neither in the
    /// file's group nor privileged: Linux's posix_acl_update_mode, the kernel's
    /// FUSE_SETXATTR_ACL_KILL_SGID).
    pub kill_sgid: bool,
}

impl XattrFlags {
    /// Translates Linux XATTR_CREATE (1) and XATTR_REPLACE (2).
    pub fn from_linux(flags: i32) -> Result<XattrFlags> {
        if flags & !3 != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(XattrFlags { create: flags & 1 != 0, replace: flags & 2 != 0, kill_sgid: false })
    }
}

fn check_xattr_name(name: &OsStr) -> Result<&[u8]> {
    let b = name.as_encoded_bytes();
    if b.is_empty() || b.len() > XATTR_NAME_MAX {
        return Err(Errno::ERANGE);
    }
    Ok(b)
}

impl Engine {
    /// Makes sure the node's xattr map is in memory.
    pub(super) fn load_xattrs(&self, node: &Node) -> Result<()> {
        if node.meta.lock().xattrs.is_some() {
            return Ok(());
        }
        let list = match &node.origin {
            Some(o) => self.lower.xattrs(o, node.kind)?,
            None => Vec::new(),
        };
        let mut m = node.meta.lock();
        if m.xattrs.is_none() {
            m.xattrs = Some(Box::new(list.into_iter().collect()));
        }
        Ok(())
    }

    pub fn getxattr(&self, id: u64, name: &OsStr) -> Result<Vec<u8>> {
        let key = check_xattr_name(name)?;
        let node = self.node(id)?;
        self.load_xattrs(&node)?;
        let m = node.meta.lock();
        m.xattrs.as_ref().and_then(|x| x.get(key)).cloned().ok_or(Errno::ENODATA)
    }

    /// Names of all extended attributes.
    pub fn listxattr(&self, id: u64) -> Result<Vec<Vec<u8>>> {
        let node = self.node(id)?;
        self.load_xattrs(&node)?;
        let m = node.meta.lock();
        Ok(m.xattrs.as_ref().map(|x| x.keys().cloned().collect()).unwrap_or_default())
    }

    /// Sets an extended attribute. A POSIX ACL (`system.posix_acl_access`) also sets the mode
    /// bits it implies, and is not stored when the mode says all of it, as Linux filesystems do.
    pub fn setxattr(&self, id: u64, name: &OsStr, value: &[u8], flags: XattrFlags) -> Result<()> {
        let key = check_xattr_name(name)?;
        if value.len() > XATTR_VALUE_MAX {
            return Err(Errno::E2BIG);
        }
        let node = self.node(id)?;
        let acl = match key {
            acl::ACCESS_XATTR => Some(Acl::parse(value)?),
            acl::DEFAULT_XATTR if node.kind != FileKind::Directory => return Err(Errno::EACCES),
            acl::DEFAULT_XATTR => Some(Acl::parse(value)?),
            _ => None,
        };
        let _change = self.mutation();
        self.load_xattrs(&node)?;
        self.pin(&node)?;
        let budget = Arc::clone(self.budget());
        let mut m = node.meta.lock();
        let exists = m.xattrs.as_ref().is_some_and(|x| x.contains_key(key));
        match exists {
            true if flags.create => return Err(Errno::EEXIST),
            false if flags.replace => return Err(Errno::ENODATA),
            _ => {}
        }
        let stored = match &acl {
            Some(a) if key == acl::ACCESS_XATTR => {
                m.perm = (m.perm & !0o777) | a.mode_bits();
                if flags.kill_sgid {
                    m.perm &= !0o2000;
                }
                (!a.is_equivalent_to_mode()).then(|| a.to_bytes())
            }
            Some(a) => (!a.is_empty()).then(|| a.to_bytes()),
            None => Some(value.to_vec()),
        };
        put_xattr(&mut m, &budget, key, stored)?;
        m.touch_changed();
        Ok(())
    }

    pub fn removexattr(&self, id: u64, name: &OsStr) -> Result<()> {
        let key = check_xattr_name(name)?;
        let node = self.node(id)?;
        let _change = self.mutation();
        self.load_xattrs(&node)?;
        self.pin(&node)?;
        let budget = Arc::clone(self.budget());
        let mut m = node.meta.lock();
        if !m.xattrs.as_ref().is_some_and(|x| x.contains_key(key)) {
            return Err(Errno::ENODATA);
        }
        put_xattr(&mut m, &budget, key, None)?;
        m.touch_changed();
        Ok(())
    }
}

/// Sets (or with None removes) one attribute of `m`, charging the difference to `budget`.
pub(super) fn put_xattr(m: &mut Meta, budget: &Arc<Budget>, key: &[u8], value: Option<Vec<u8>>) -> Result<()> {
    let old = m.xattrs.as_ref().and_then(|x| x.get(key)).map_or(0, |v| key.len() + v.len()) as i64;
    let new = value.as_ref().map_or(0, |v| key.len() + v.len()) as i64;
    m.recharge(budget, new - old)?;
    let map = m.xattrs.get_or_insert_default();
    match value {
        Some(v) => map.insert(key.to_vec(), v),
        None => map.remove(key),
    };
    Ok(())
}
