//! getattr, setattr, readlink, statfs, access.

use super::{AttrOut, Ops, Req, Result, logged};
use agentfs_core::{Errno, PrivilegeDrop, SetAttr, StatFs};
use std::sync::atomic::Ordering;

impl Ops {
    pub fn getattr(&self, ino: u64) -> Result<AttrOut> {
        self.engine.getattr(ino).map(|a| self.attr_out(a)).map_err(|e| logged("getattr", e))
    }

    /// Applies what a SETATTR asks; what it takes away (`set.drop`) is decided here, whatever
    /// the frontend put there.
    pub fn setattr(&self, req: &Req, ino: u64, set: &SetAttr) -> Result<AttrOut> {
        if set.size.is_some() && self.io.reads_lower(ino) {
            // Truncating would copy up a file that readers see through its lower backing.
            return Err(Errno::ETXTBSY);
        }
        if set.mode.is_some_and(|m| m & 0o6000 != 0) && self.io.still_lends_upper(ino) {
            // The kernel writes this file directly; those writes never reach us, and with
            // HANDLE_KILLPRIV_V2 the kernel leaves taking set-id bits away to us.
            return Err(Errno::ETXTBSY);
        }
        let chown = set.uid.is_some() || set.gid.is_some();
        let set = SetAttr { drop: self.setattr_drop(req, ino, chown, set.size.is_some()), ..*set };
        self.engine.setattr(ino, &set).map(|a| self.attr_out(a)).map_err(|e| logged("setattr", e))
    }

    /// What a setattr takes away when the kernel left that to us (HANDLE_KILLPRIV_V2), as
    /// Linux's chown and truncate do: chown always drops set-user-id; truncate drops the set-id
    /// bits unless the caller may keep them (CAP_FSETID, which the request does not say: root
    /// stands in for it).
    fn setattr_drop(&self, req: &Req, ino: u64, chown: bool, truncate: bool) -> PrivilegeDrop {
        let privileged = req.uid == 0;
        if !self.granted.killpriv.load(Ordering::Acquire) || !(chown || truncate) {
            PrivilegeDrop::Nothing
        } else if chown || !privileged {
            PrivilegeDrop::CapabilitiesAndSetId { caller_in_group: privileged || self.caller_in_group(req, ino) }
        } else {
            PrivilegeDrop::Capabilities
        }
    }

    pub fn readlink(&self, ino: u64) -> Result<Vec<u8>> {
        self.engine.readlink(ino).map_err(|e| logged("readlink", e))
    }

    pub fn statfs(&self) -> StatFs {
        self.engine.statfs()
    }

    /// The kernel checks permissions itself (default_permissions); ACCESS is not sent then,
    /// and answered yes if it is.
    pub fn access(&self) -> Result<()> {
        Ok(())
    }
}
