//! lookup, forget, and the operations that make, link, remove and rename names.

use super::{EntryOut, NewMode, Ops, Req, Result, logged};
use agentfs_core::{Attr, Errno, FileKind};
use std::ffi::OsStr;

impl Ops {
    /// A name in a directory; "no such name" is answered as a cached negative entry while the
    /// lower layer may not change (pinned), so the kernel does not ask again. A file looked up
    /// by thread `pid` teaches [`Walkers`](super::walkers) who uses listed attributes.
    pub fn lookup(&self, pid: u32, parent: u64, name: &OsStr) -> Result<EntryOut> {
        match self.engine.lookup(parent, name) {
            Ok(a) => {
                if a.kind != FileKind::Directory {
                    if let Some(stale) = self.walkers.looked_up_file(pid, parent) {
                        self.listing_cache.drop_listings(stale);
                    }
                }
                Ok(self.entry(a))
            }
            Err(Errno::ENOENT) if !self.opts.negative_ttl.is_zero() => {
                Ok(EntryOut { attr: negative(), entry_ttl: self.opts.negative_ttl, attr_ttl: self.opts.negative_ttl })
            }
            Err(e) => Err(logged("lookup", e)),
        }
    }

    pub fn forget(&self, ino: u64, nlookup: u64) {
        self.engine.forget(ino, nlookup);
    }

    pub fn mknod(&self, req: &Req, parent: u64, name: &OsStr, mode: NewMode, rdev: u32) -> Result<EntryOut> {
        let r = self.engine.mknod(parent, name, mode.mode, u64::from(rdev), &self.creator(req, mode.umask));
        r.map(|a| self.entry(a)).map_err(|e| logged("mknod", e))
    }

    pub fn mkdir(&self, req: &Req, parent: u64, name: &OsStr, mode: NewMode) -> Result<EntryOut> {
        let r = self.engine.mkdir(parent, name, mode.mode, &self.creator(req, mode.umask));
        r.map(|a| self.entry(a)).map_err(|e| logged("mkdir", e))
    }

    pub fn symlink(&self, req: &Req, parent: u64, name: &OsStr, target: &[u8]) -> Result<EntryOut> {
        let r = self.engine.symlink(parent, name, target, &req.caller());
        r.map(|a| self.entry(a)).map_err(|e| logged("symlink", e))
    }

    pub fn link(&self, ino: u64, newparent: u64, newname: &OsStr) -> Result<EntryOut> {
        self.engine.link(ino, newparent, newname).map(|a| self.entry(a)).map_err(|e| logged("link", e))
    }

    pub fn unlink(&self, parent: u64, name: &OsStr) -> Result<()> {
        self.engine.unlink(parent, name).map_err(|e| logged("unlink", e))
    }

    pub fn rmdir(&self, parent: u64, name: &OsStr) -> Result<()> {
        self.engine.rmdir(parent, name).map_err(|e| logged("rmdir", e))
    }

    /// rename and renameat2; `flags` are Linux's RENAME_* bits.
    pub fn rename(
        &self,
        req: &Req,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        flags: u32,
    ) -> Result<()> {
        super::super::host::rename_flags(flags)
            .and_then(|f| self.engine.rename_as(parent, name, newparent, newname, f, &req.caller()))
            .map_err(|e| logged("rename", e))
    }
}

/// The attributes of a negative entry (node id 0): the kernel caches "no such name" with them.
fn negative() -> Attr {
    Attr {
        ino: 0,
        kind: agentfs_core::FileKind::Regular,
        perm: 0,
        nlink: 0,
        uid: 0,
        gid: 0,
        rdev: 0,
        size: 0,
        blocks: 0,
        blksize: 0,
        atime: Default::default(),
        mtime: Default::default(),
        ctime: Default::default(),
        crtime: Default::default(),
    }
}
