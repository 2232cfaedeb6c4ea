//! Extended attributes.

use super::super::caller;
use super::{Ops, Req, Result, XattrOut, logged};
use agentfs_core::Errno;
use agentfs_core::XattrFlags;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::Ordering;

/// Whether `name` is a POSIX ACL attribute.
fn is_acl(name: &[u8]) -> bool {
    matches!(name, b"system.posix_acl_access" | b"system.posix_acl_default")
}

impl Ops {
    /// ACL attributes are refused unless the kernel passes ACLs through (then it enforces them
    /// and the engine keeps them).
    fn refuse_acl(&self, name: &[u8]) -> Result<()> {
        if is_acl(name) && !self.granted.posix_acl.load(Ordering::Acquire) {
            return Err(Errno::EOPNOTSUPP);
        }
        Ok(())
    }

    /// `flags` are Linux's XATTR_CREATE/XATTR_REPLACE; a `position` (macOS resource forks) is
    /// not supported.
    pub fn setxattr(&self, req: &Req, ino: u64, name: &OsStr, value: &[u8], flags: i32, position: u32) -> Result<()> {
        if position != 0 {
            return Err(Errno::EINVAL);
        }
        self.refuse_acl(name.as_bytes())?;
        super::super::host::xattr_flags(flags)
            .map(|f| XattrFlags { kill_sgid: self.acl_kills_sgid(req, ino, name.as_bytes()), ..f })
            .and_then(|f| self.engine.setxattr(ino, name, value, f))
            .map_err(|e| logged("setxattr", e))
    }

    /// Whether setting `name` takes the set-group-id bit away, as Linux does when an access ACL
    /// is set by a caller outside the file's group without CAP_FSETID (root stands in for it).
    /// The kernel would say so itself with FUSE_SETXATTR_EXT, which fuser cannot decode.
    fn acl_kills_sgid(&self, req: &Req, ino: u64, name: &[u8]) -> bool {
        if name != b"system.posix_acl_access" || req.uid == 0 {
            return false;
        }
        match self.engine.getattr(ino) {
            Ok(a) if a.perm & 0o2000 != 0 => !caller::in_group(req.pid, req.gid, a.gid),
            _ => false,
        }
    }

    pub fn getxattr(&self, ino: u64, name: &OsStr, size: u32) -> Result<XattrOut> {
        self.refuse_acl(name.as_bytes())?;
        let v = self.engine.getxattr(ino, name).map_err(|e| logged("getxattr", e))?;
        XattrOut::sized(v, size)
    }

    pub fn listxattr(&self, ino: u64, size: u32) -> Result<XattrOut> {
        let acls = self.granted.posix_acl.load(Ordering::Acquire);
        let names = self.engine.listxattr(ino).map_err(|e| logged("listxattr", e))?;
        let mut list = Vec::new();
        for n in names.iter().filter(|n| acls || !is_acl(n)) {
            list.extend_from_slice(n);
            list.push(0);
        }
        XattrOut::sized(list, size)
    }

    pub fn removexattr(&self, ino: u64, name: &OsStr) -> Result<()> {
        self.refuse_acl(name.as_bytes())?;
        self.engine.removexattr(ino, name).map_err(|e| logged("removexattr", e))
    }
}
