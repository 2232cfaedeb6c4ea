//! Listing directories: opendir, readdir, readdirplus, releasedir, fsyncdir.

use super::{EntryOut, Ops, Result, logged};
use agentfs_core::{DirEntry, Errno, FileKind};

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
    /// reference to its node, as a lookup does. For a transport that cannot send an entry
    /// without attributes (fuser's).
    pub fn readdirplus(&self, ino: u64, offset: u64, add: &mut dyn FnMut(&DirEntry, &EntryOut) -> bool) -> Result<()> {
        self.engine.readdirplus(ino, offset, |e, a| add(e, &self.entry(*a))).map_err(|e| logged("readdirplus", e))?;
        if offset == 0 {
            self.accessed(ino);
        }
        Ok(())
    }

    /// Like [`Ops::readdirplus`] for thread `pid`, where files come without attributes (None,
    /// no reference counted) when [`Walkers`](super::walkers) says `pid` does not use them.
    pub fn readdirplus_for(
        &self,
        pid: u32,
        ino: u64,
        offset: u64,
        add: &mut dyn FnMut(&DirEntry, Option<&EntryOut>) -> bool,
    ) -> Result<()> {
        let files_too = self.walkers.file_attrs(pid, ino, offset);
        let with_attr = |kind| files_too || kind == FileKind::Directory;
        let (mut sent, mut lean) = (false, false);
        let r = self.engine.readdirplus_where(ino, offset, with_attr, |e, a| {
            let taken = add(e, a.map(|a| self.entry(*a)).as_ref());
            sent |= taken;
            lean |= taken && a.is_none();
            taken
        });
        r.map_err(|e| logged("readdirplus", e))?;
        // An empty page is the end of the listing.
        self.walkers.listed(pid, ino, lean, !sent);
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
