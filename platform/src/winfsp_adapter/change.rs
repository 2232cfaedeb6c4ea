//! Deleting, renaming, and changing attributes, times and sizes.

use super::handle::Handle;
use super::info::{self, FileInfo};
use super::status::{NtStatus, Result};
use super::{
    Adapter, CLEANUP_DELETE, CLEANUP_SET_ARCHIVE_BIT, CLEANUP_SET_CHANGE_TIME, CLEANUP_SET_LAST_ACCESS_TIME,
    CLEANUP_SET_LAST_WRITE_TIME,
};
use agentfs_core::{FileKind, ROOT_ID, RenameFlags, SetAttr, SetTime, Timestamp};

/// What `SetBasicInfo` asks for: attributes (INVALID_FILE_ATTRIBUTES: leave them) and
/// FILETIMEs (0: leave it).
#[derive(Clone, Copy, Debug, Default)]
pub struct BasicInfo {
    pub attributes: u32,
    pub creation_time: u64,
    pub last_access_time: u64,
    pub last_write_time: u64,
    pub change_time: u64,
}

impl Adapter {
    /// Whether the object of `h` may be deleted (asked before a delete-on-close is accepted):
    /// not the root, not a directory with entries, not a read-only file.
    pub fn set_delete(&self, h: &Handle, delete: bool) -> Result<()> {
        if !delete {
            return Ok(());
        }
        let id = h.id();
        if id == ROOT_ID {
            return Err(NtStatus::ACCESS_DENIED);
        }
        let a = self.engine.getattr(id)?;
        if a.kind == FileKind::Directory {
            let mut entries = 0;
            self.engine.readdir(id, 0, |e| {
                entries += usize::from(e.name != "." && e.name != "..");
                entries == 0
            })?;
            if entries > 0 {
                return Err(NtStatus::DIRECTORY_NOT_EMPTY);
            }
        }
        if info::attributes(&a, self.kept(id)) & info::FILE_ATTRIBUTE_READONLY != 0 {
            return Err(NtStatus::CANNOT_DELETE);
        }
        Ok(())
    }

    /// The last close of a handle: deletes the object if it was marked for deletion (`path` is
    /// its current name), else applies the time and archive updates WinFsp asks for. Errors are
    /// logged: cleanup cannot fail.
    pub fn cleanup(&self, h: &Handle, path: Option<&[u16]>, flags: u32) {
        if flags & CLEANUP_DELETE != 0 {
            if let Some(path) = path {
                if let Err(e) = self.remove(h, path) {
                    tracing::warn!(?e, "delete on close failed");
                }
            }
            return;
        }
        let now = |bit: u32| (flags & bit != 0).then_some(SetTime::Now);
        let set = SetAttr {
            atime: now(CLEANUP_SET_LAST_ACCESS_TIME),
            mtime: now(CLEANUP_SET_LAST_WRITE_TIME),
            ctime: (flags & CLEANUP_SET_CHANGE_TIME != 0).then(Timestamp::now),
            ..SetAttr::default()
        };
        if set != SetAttr::default() {
            if let Err(e) = self.engine.setattr(h.id(), &set) {
                tracing::debug!(%e, "cleanup could not set times");
            }
        }
        if flags & CLEANUP_SET_ARCHIVE_BIT != 0 {
            let id = h.id();
            let dir = self.engine.getattr(id).is_ok_and(|a| a.kind == FileKind::Directory);
            let _ = self.set_kept(id, self.kept(id) | info::FILE_ATTRIBUTE_ARCHIVE, dir);
        }
    }

    /// Removes the name `path` if it still names the object of `h`.
    fn remove(&self, h: &Handle, path: &[u16]) -> Result<()> {
        let (parent, name) = self.resolve_parent(path)?;
        let (child, attr, stored) = self.lookup_name(parent.node.id(), &name)?;
        if child.id() != h.id() {
            tracing::warn!(path = %String::from_utf16_lossy(path), "not deleted: the name now names another object");
            return Ok(());
        }
        drop(child);
        match attr.kind {
            FileKind::Directory => self.engine.rmdir(parent.node.id(), &stored)?,
            _ => self.engine.unlink(parent.node.id(), &stored)?,
        }
        Ok(())
    }

    /// Renames `from` (the object of `h`) to `to`. An existing `to` is OBJECT_NAME_COLLISION
    /// unless `replace`, and a directory is never replaced (ACCESS_DENIED). A name that differs
    /// only in case from the object's own is a rename to that case.
    pub fn rename(&self, h: &Handle, from: &[u16], to: &[u16], replace: bool) -> Result<()> {
        let (fp, fname) = self.resolve_parent(from)?;
        let (src, _, src_name) = self.lookup_name(fp.node.id(), &fname)?;
        if src.id() != h.id() {
            return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
        }
        let (tp, tname) = self.resolve_parent(to)?;
        let (fdir, tdir) = (fp.node.id(), tp.node.id());
        let existing = match self.lookup_name(tdir, &tname) {
            Ok((t, a, stored)) if t.id() != src.id() => Some((a.kind, stored)),
            Ok(_) => None,
            Err(agentfs_core::Errno::ENOENT) => None,
            Err(e) => return Err(e.into()),
        };
        let Some((kind, stored)) = existing else {
            if fdir == tdir && src_name == tname {
                return Ok(());
            }
            // Nothing has the new name (or only the object itself, in another case).
            return Ok(self.engine.rename(fdir, &src_name, tdir, &tname, RenameFlags::NOREPLACE)?);
        };
        if !replace {
            return Err(NtStatus::OBJECT_NAME_COLLISION);
        }
        if kind == FileKind::Directory {
            return Err(NtStatus::ACCESS_DENIED);
        }
        self.engine.rename(fdir, &src_name, tdir, &stored, RenameFlags::default())?;
        if stored != tname {
            // The replaced name had another case: the new name is what was asked for.
            self.engine.rename(tdir, &stored, tdir, &tname, RenameFlags::NOREPLACE)?;
        }
        Ok(())
    }

    /// Sets attributes and times (creation times are not kept by the engine: left as they are).
    pub fn set_basic_info(&self, h: &Handle, b: &BasicInfo) -> Result<FileInfo> {
        let id = h.id();
        let a = self.engine.getattr(id)?;
        let dir = a.kind == FileKind::Directory;
        let mut set = SetAttr {
            atime: info::from_filetime(b.last_access_time).map(SetTime::At),
            mtime: info::from_filetime(b.last_write_time).map(SetTime::At),
            ctime: info::from_filetime(b.change_time),
            ..SetAttr::default()
        };
        if b.attributes != info::INVALID_FILE_ATTRIBUTES {
            if !dir {
                let readonly = b.attributes & info::FILE_ATTRIBUTE_READONLY != 0;
                let perm = info::perm_with_readonly(a.perm, readonly);
                set.mode = (perm != a.perm).then_some(u32::from(perm));
            }
            self.set_kept(id, b.attributes, dir)?;
        }
        if set != SetAttr::default() {
            self.engine.setattr(id, &set)?;
        }
        self.file_info(id)
    }

    /// Sets the file size, or with `allocation` the allocation size (which only ever shortens a
    /// file: the engine allocates as data comes).
    pub fn set_file_size(&self, h: &Handle, size: u64, allocation: bool) -> Result<FileInfo> {
        let id = h.id();
        if !allocation || size < self.engine.getattr(id)?.size {
            self.engine.setattr(id, &SetAttr { size: Some(size), ..SetAttr::default() })?;
        }
        self.file_info(id)
    }
}
