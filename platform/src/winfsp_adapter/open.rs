//! Opening, creating and overwriting.

use super::handle::Handle;
use super::info::{self, FileInfo};
use super::resolve::NodeRef;
use super::status::{NtStatus, Result};
use super::{Adapter, FILE_APPEND_DATA, FILE_DIRECTORY_FILE, FILE_NON_DIRECTORY_FILE, FILE_WRITE_DATA, names, reparse};
use crate::winfsp_adapter::security::SECURITY_XATTR;
use agentfs_core::{Attr, FileKind, OpenFlags, SetAttr, XattrFlags};
use std::ffi::OsStr;

/// An open handle and what WinFsp is told about it.
pub struct Opened {
    pub handle: Handle,
    pub info: FileInfo,
    /// The path with the stored case of every name (for case-insensitive volumes).
    pub normalized: Vec<u16>,
}

/// What a `CreateFile` that makes a new object asks for.
pub struct CreateRequest<'a> {
    pub path: &'a [u16],
    pub create_options: u32,
    pub granted_access: u32,
    pub file_attributes: u32,
    /// The security descriptor Windows computed for the new object (self-relative binary).
    pub security: Option<Vec<u8>>,
    /// A symlink reparse buffer: the new object is that symlink.
    pub reparse: Option<&'a [u8]>,
}

/// How the engine opens a regular file for these access rights. Reads are always allowed: the
/// cache manager reads through handles opened for writing only, to fill partly written pages.
fn open_flags(granted_access: u32) -> OpenFlags {
    let write = granted_access & (FILE_WRITE_DATA | FILE_APPEND_DATA) != 0;
    OpenFlags { read: true, write, append: false, truncate: false, exclusive: false }
}

/// The mode of a new object: 0o755 for a directory, 0o644 for a file, without write bits if
/// asked for read-only.
fn new_mode(dir: bool, attributes: u32) -> u32 {
    let base = if dir { 0o755 } else { 0o644 };
    let readonly = !dir && attributes & info::FILE_ATTRIBUTE_READONLY != 0;
    u32::from(info::perm_with_readonly(base, readonly))
}

impl Adapter {
    /// Opens the existing object at `path`.
    pub fn open(&self, path: &[u16], create_options: u32, granted_access: u32) -> Result<Opened> {
        let found = self.resolve(path)?;
        let dir = found.attr.kind == FileKind::Directory;
        if create_options & FILE_DIRECTORY_FILE != 0 && !dir {
            return Err(NtStatus::NOT_A_DIRECTORY);
        }
        if create_options & FILE_NON_DIRECTORY_FILE != 0 && dir {
            return Err(NtStatus::FILE_IS_A_DIRECTORY);
        }
        let fh = match found.attr.kind {
            FileKind::Regular => Some(self.engine.open(found.attr.ino, open_flags(granted_access))?),
            _ => None,
        };
        let normalized = names::join(&found.names);
        let handle = Handle::new(&self.engine, found.node, fh);
        Ok(Opened { info: self.file_info(handle.id())?, handle, normalized })
    }

    /// Makes the object `req` asks for; an existing name (ignoring case where names do) is
    /// OBJECT_NAME_COLLISION.
    pub fn create(&self, req: &CreateRequest<'_>) -> Result<Opened> {
        let (parent, name) = self.resolve_parent(req.path)?;
        if self.lookup_name(parent.node.id(), &name).is_ok() {
            return Err(NtStatus::OBJECT_NAME_COLLISION);
        }
        let dir = req.create_options & FILE_DIRECTORY_FILE != 0;
        let (attr, fh) = self.make(parent.node.id(), &name, req, dir)?;
        // From here the handle gives the reference and the engine handle back on any error.
        let handle = Handle::new(&self.engine, NodeRef::counted(&self.engine, attr.ino), fh);
        if let Some(sd) = &req.security {
            let flags = XattrFlags::default();
            self.engine.setxattr(attr.ino, super::xattr_name(SECURITY_XATTR), sd, flags)?;
        }
        self.set_kept(attr.ino, req.file_attributes, dir)?;
        let mut stored = parent.names;
        stored.push(name);
        Ok(Opened { info: self.file_info(handle.id())?, handle, normalized: names::join(&stored) })
    }

    /// The new node (counted) and, for a file, its engine handle.
    fn make(&self, parent: u64, name: &OsStr, req: &CreateRequest<'_>, dir: bool) -> Result<(Attr, Option<u64>)> {
        let owner = &self.cfg.owner;
        if let Some(buf) = req.reparse {
            let target = reparse::parse_symlink(buf)?;
            return Ok((self.engine.symlink(parent, name, &target, owner)?, None));
        }
        let mode = new_mode(dir, req.file_attributes);
        if dir {
            return Ok((self.engine.mkdir(parent, name, mode, owner)?, None));
        }
        let flags = OpenFlags { exclusive: true, ..open_flags(req.granted_access) };
        let (attr, fh) = self.engine.create(parent, name, mode, flags, owner)?;
        Ok((attr, Some(fh)))
    }

    /// Empties an open file (`FILE_OVERWRITE`, `FILE_SUPERSEDE`), replacing its kept attributes
    /// with `attributes` or adding them.
    pub fn overwrite(&self, h: &Handle, attributes: u32, replace: bool) -> Result<FileInfo> {
        let id = h.id();
        let attrs = if replace { attributes } else { self.kept(id) | attributes };
        let a = self.engine.getattr(id)?;
        let readonly = attributes & info::FILE_ATTRIBUTE_READONLY != 0;
        let mode = (replace || readonly).then(|| u32::from(info::perm_with_readonly(a.perm, readonly)));
        self.engine.setattr(id, &SetAttr { size: Some(0), mode, ..SetAttr::default() })?;
        self.set_kept(id, attrs, a.kind == FileKind::Directory)?;
        self.file_info(id)
    }

    /// What WinFsp is told about an open handle.
    pub fn info(&self, h: &Handle) -> Result<FileInfo> {
        self.file_info(h.id())
    }
}
