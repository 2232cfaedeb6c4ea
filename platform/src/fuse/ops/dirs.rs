//! Listing directories: opendir, readdir, readdirplus, releasedir, fsyncdir.

use super::{EntryOut, Ops, Result, logged};
use agentfs_core::{DirEntry, Errno};

impl Ops {
    /// Listing needs no open state (readdir works by inode and cookie); ENOSYS makes the kernel
    /// stop sending OPENDIR and RELEASEDIR, two round trips saved per directory listed.
    pub fn opendir(&self) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// Lists directory `ino` from after `offset`; `add` takes each entry and returns false when
    /// the reply is full. A listing from the start counts as an access.
    pub fn readdir(&self, ino: u64, offset: u64, add: &mut dyn FnMut(&DirEntry) -> bool) -> Result<()> {
        self.engine.readdir(ino, offset, add).map_err(|e| logged("readdir", e))?;
        if offset == 0 {
            self.accessed(ino);
        }
        Ok(())
    }

    /// Like [`Ops::readdir`], with each entry's attributes; every entry `add` takes counts one
    /// reference to its node, as a lookup does.
    pub fn readdirplus(&self, ino: u64, offset: u64, add: &mut dyn FnMut(&DirEntry, &EntryOut) -> bool) -> Result<()> {
        self.engine.readdirplus(ino, offset, |e, a| add(e, &self.entry(*a))).map_err(|e| logged("readdirplus", e))?;
        if offset == 0 {
            self.accessed(ino);
        }
        Ok(())
    }

    pub fn releasedir(&self, fh: u64) -> Result<()> {
        self.engine.releasedir(fh).map_err(|e| logged("releasedir", e))
    }

    /// Nothing to sync: the upper layer is volatile.
    pub fn fsyncdir(&self) -> Result<()> {
        Ok(())
    }
}
