//! Reading, writing, flushing, security descriptors and symlink reparse points.

use super::handle::Handle;
use super::info::FileInfo;
use super::resolve::NodeRef;
use super::security::{self, Descriptor, SECURITY_XATTR};
use super::status::{NtStatus, Result};
use super::{Adapter, reparse, xattr_name};
use agentfs_core::{FileKind, OpenFlags, XattrFlags};

impl Adapter {
    /// Reads at `offset`; at or past the end of the file, END_OF_FILE.
    pub fn read(&self, h: &Handle, buf: &mut [u8], offset: u64) -> Result<usize> {
        let n = self.engine.read(h.file(), offset, buf)?;
        if n == 0 && !buf.is_empty() {
            return Err(NtStatus::END_OF_FILE);
        }
        Ok(n)
    }

    /// Writes at `offset`, or at the end with `to_end`. `constrained` (paging I/O) never
    /// extends the file: what lies past its end is dropped.
    pub fn write(
        &self,
        h: &Handle,
        data: &[u8],
        offset: u64,
        to_end: bool,
        constrained: bool,
    ) -> Result<(usize, FileInfo)> {
        let id = h.id();
        let size = self.engine.getattr(id)?.size;
        let offset = if to_end { size } else { offset };
        let data = if constrained {
            let room = usize::try_from(size.saturating_sub(offset)).unwrap_or(usize::MAX);
            &data[..data.len().min(room)]
        } else {
            data
        };
        let n = if data.is_empty() { 0 } else { self.engine.write(h.file(), offset, data)? };
        Ok((n, self.file_info(id)?))
    }

    /// Nothing to write out: the upper layer is volatile by design.
    pub fn flush(&self, h: Option<&Handle>) -> Result<Option<FileInfo>> {
        match h {
            Some(h) if h.fh() != agentfs_core::FileRef::NO_HANDLE => {
                self.engine.fsync(h.file(), false)?;
                Ok(Some(self.file_info(h.id())?))
            }
            Some(h) => Ok(Some(self.file_info(h.id())?)),
            None => Ok(None),
        }
    }

    /// The security descriptor and attributes of the object at `path` (what WinFsp checks an
    /// open against).
    pub fn security_by_name(&self, path: &[u16]) -> Result<(u32, Descriptor)> {
        let found = self.resolve(path)?;
        let id = found.node.id();
        Ok((self.file_info(id)?.file_attributes, self.descriptor(id)?))
    }

    /// The security descriptor of node `id`.
    fn descriptor(&self, id: u64) -> Result<Descriptor> {
        let a = self.engine.getattr(id)?;
        let stored = self.engine.getxattr(id, xattr_name(SECURITY_XATTR)).ok();
        Ok(security::descriptor(&a, stored, &self.cfg.owner_sid))
    }

    /// The security descriptor of the object of `h`.
    pub fn security(&self, h: &Handle) -> Result<Descriptor> {
        self.descriptor(h.id())
    }

    /// Keeps `sd` (self-relative binary, already merged with the old one by the binding) as
    /// the descriptor of the object of `h`.
    pub fn set_security(&self, h: &Handle, sd: &[u8]) -> Result<()> {
        let flags = XattrFlags::default();
        Ok(self.engine.setxattr(h.id(), xattr_name(SECURITY_XATTR), sd, flags)?)
    }

    /// The reparse buffer of node `id`: its symlink target, or NOT_A_REPARSE_POINT.
    fn reparse_of(&self, id: u64) -> Result<Vec<u8>> {
        if self.engine.getattr(id)?.kind != FileKind::Symlink {
            return Err(NtStatus::NOT_A_REPARSE_POINT);
        }
        Ok(reparse::symlink_buffer(&self.engine.readlink(id)?))
    }

    /// The reparse buffer of the object at `path` (never following it).
    pub fn reparse_by_name(&self, path: &[u16]) -> Result<Vec<u8>> {
        let found = self.resolve(path)?;
        self.reparse_of(found.node.id())
    }

    /// The reparse buffer of the object of `h`.
    pub fn reparse(&self, h: &Handle) -> Result<Vec<u8>> {
        self.reparse_of(h.id())
    }

    /// Makes the object of `h`, named `path`, the symlink `buf` describes: an empty file, an
    /// empty directory or a symlink becomes it (the handle then names the symlink).
    pub fn set_reparse(&self, h: &Handle, path: &[u16], buf: &[u8]) -> Result<()> {
        let target = reparse::parse_symlink(buf)?;
        let (parent, name) = self.resolve_parent(path)?;
        let (node, attr, stored) = self.lookup_name(parent.node.id(), &name)?;
        if node.id() != h.id() {
            return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
        }
        match attr.kind {
            FileKind::Directory => self.engine.rmdir(parent.node.id(), &stored)?,
            FileKind::Regular if attr.size > 0 => return Err(NtStatus::IO_REPARSE_DATA_INVALID),
            _ => self.engine.unlink(parent.node.id(), &stored)?,
        }
        drop(node);
        let a = self.engine.symlink(parent.node.id(), &stored, &target, &self.cfg.owner)?;
        h.replace(NodeRef::counted(&self.engine, a.ino), None);
        Ok(())
    }

    /// Turns the symlink of `h`, named `path`, back into an empty file.
    pub fn delete_reparse(&self, h: &Handle, path: &[u16]) -> Result<()> {
        let (parent, name) = self.resolve_parent(path)?;
        let (node, attr, stored) = self.lookup_name(parent.node.id(), &name)?;
        if node.id() != h.id() || attr.kind != FileKind::Symlink {
            return Err(NtStatus::NOT_A_REPARSE_POINT);
        }
        self.engine.unlink(parent.node.id(), &stored)?;
        drop(node);
        let flags = OpenFlags { exclusive: true, ..OpenFlags::RDWR };
        let (a, fh) = self.engine.create(parent.node.id(), &stored, 0o644, flags, &self.cfg.owner)?;
        h.replace(NodeRef::counted(&self.engine, a.ino), Some(fh));
        Ok(())
    }
}
