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
        let drop = if *set == SetAttr::default() {
            self.kill_asked(req, ino)
        } else {
            let chown = set.uid.is_some() || set.gid.is_some();
            self.setattr_drop(req, ino, chown, set.size.is_some())
        };
        let set = SetAttr { drop, ..*set };
        self.engine.setattr(ino, &set).map(|a| self.attr_out(a)).map_err(|e| logged("setattr", e))
    }

    /// A SETATTR that changes nothing, for a file lent to the kernel with a writer, is the
    /// kernel's `file_remove_privs` (`ATTR_FORCE` with the kill bits, which HANDLE_KILLPRIV_V2
    /// strips) after a write the daemon never saw (`backing_file_write_iter`): the writer may
    /// not keep set-id bits or capabilities, and we take them away as a write does. It asks for
    /// capabilities alone when the caller may keep set-id bits (CAP_FSETID: root stands in).
    /// Only such a file: `chown(f, -1, -1)` by anyone sends the same empty SETATTR, and a file
    /// with set-id bits is lent only if it got them while lent (see `Engine::lend_upper`).
    fn kill_asked(&self, req: &Req, ino: u64) -> PrivilegeDrop {
        let lent_for_writing = self.engine.upper_lent(ino) && self.engine.has_writers(ino);
        if !self.granted.killpriv.load(Ordering::Acquire) || !lent_for_writing {
            PrivilegeDrop::Nothing
        } else if req.uid == 0 {
            PrivilegeDrop::Capabilities
        } else {
            PrivilegeDrop::CapabilitiesAndSetId { caller_in_group: self.caller_in_group(req, ino) }
        }
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
