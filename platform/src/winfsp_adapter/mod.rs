//! The WinFsp frontend's logic, in portable code: WinFsp names files by path and works with
//! open handles, delete-on-close, rename with a replace flag, directory listings resumed after a
//! marker name, Windows attributes and security descriptors; the engine names nodes by id. This
//! module translates, and is unit-tested on Linux against the real engine. Only the binding to
//! the `winfsp` crate's types (`crate::winfsp`) is Windows-only.
//!
//! Rules kept here, as NTFS keeps them:
//! - paths are `\`-separated UTF-16; names are case-insensitive but case-preserving when
//!   [`Config::ignore_case`] (the default on Windows): an exact match wins, else the first name
//!   equal without case;
//! - an open handle holds one engine reference on its node and, for a regular file, an engine
//!   file handle; both are given back when it is dropped (WinFsp's close);
//! - deleting is asked for first ([`Adapter::set_delete`]: a non-empty directory or a read-only
//!   file is refused) and done at the last cleanup with the delete flag;
//! - rename refuses an existing target unless asked to replace it, and never replaces a
//!   directory; a rename that only changes case is allowed;
//! - listings are sorted by name (upper-cased when case is ignored), "." and ".." first except
//!   at the root, and resume after the marker name even when entries came and went;
//! - attributes: directory, reparse point and read-only (the mode's write bits) follow from the
//!   node; hidden, system, archive, temporary and not-indexed are kept in an xattr; times are
//!   FILETIMEs; security descriptors are stored when Windows sets them, else made from the mode.

mod change;
mod data;
mod dir;
mod handle;
pub mod info;
pub mod names;
mod open;
pub mod reparse;
mod resolve;
pub mod security;
pub mod status;

#[cfg(test)]
mod tests;

pub use change::BasicInfo;
pub use dir::DirItem;
pub use handle::Handle;
pub use info::FileInfo;
pub use open::{CreateRequest, Opened};
pub use security::Descriptor;
pub use status::{NtStatus, Result};

use agentfs_core::{Caller, Engine, XattrFlags};
use std::sync::Arc;

/// `CreateOptions` bits the adapter reads.
pub const FILE_DIRECTORY_FILE: u32 = 0x0000_0001;
pub const FILE_NON_DIRECTORY_FILE: u32 = 0x0000_0040;
pub const FILE_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
/// Access rights that make a file handle a writer.
pub const FILE_WRITE_DATA: u32 = 0x0002;
pub const FILE_APPEND_DATA: u32 = 0x0004;
/// Cleanup flags (`FspCleanup*`).
pub const CLEANUP_DELETE: u32 = 0x01;
pub const CLEANUP_SET_ARCHIVE_BIT: u32 = 0x10;
pub const CLEANUP_SET_LAST_ACCESS_TIME: u32 = 0x20;
pub const CLEANUP_SET_LAST_WRITE_TIME: u32 = 0x40;
pub const CLEANUP_SET_CHANGE_TIME: u32 = 0x80;

/// How a volume behaves.
#[derive(Clone, Debug)]
pub struct Config {
    /// Names are compared without case (what Windows programs expect).
    pub ignore_case: bool,
    /// Who owns new objects in the engine.
    pub owner: Caller,
    /// The SID (string form) of the user who mounted: owner of every made-up descriptor.
    pub owner_sid: String,
    /// The volume's label (at most 32 characters are shown).
    pub volume_label: String,
}

/// Volume size and use, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VolumeStats {
    pub total: u64,
    pub free: u64,
}

/// The engine as WinFsp sees it.
pub struct Adapter {
    engine: Arc<Engine>,
    cfg: Config,
}

impl Adapter {
    pub fn new(engine: Arc<Engine>, cfg: Config) -> Adapter {
        Adapter { engine, cfg }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Size and free space, from the engine's RAM budget.
    pub fn volume(&self) -> VolumeStats {
        let s = self.engine.statfs();
        let unit = u64::from(s.frsize.max(1));
        VolumeStats { total: s.blocks.saturating_mul(unit), free: s.bavail.saturating_mul(unit) }
    }

    /// The kept Windows attributes of node `id` (0 if none were set).
    fn kept(&self, id: u64) -> u32 {
        match self.engine.getxattr(id, xattr_name(crate::path_lower::WIN_ATTRIBUTES_XATTR)) {
            Ok(v) if v.len() == 4 => u32::from_le_bytes([v[0], v[1], v[2], v[3]]),
            _ => 0,
        }
    }

    /// Keeps `attrs` (only [`info::KEPT_ATTRIBUTES`] and a directory's read-only bit) for `id`.
    fn set_kept(&self, id: u64, attrs: u32, dir: bool) -> Result<()> {
        let mask = info::KEPT_ATTRIBUTES | if dir { info::FILE_ATTRIBUTE_READONLY } else { 0 };
        let old = self.kept(id);
        let new = (old & !mask) | (attrs & mask);
        if new == old {
            return Ok(());
        }
        let flags = XattrFlags::default();
        self.engine.setxattr(id, xattr_name(crate::path_lower::WIN_ATTRIBUTES_XATTR), &new.to_le_bytes(), flags)?;
        Ok(())
    }

    /// What WinFsp is told about node `id`.
    fn file_info(&self, id: u64) -> Result<FileInfo> {
        let a = self.engine.getattr(id)?;
        Ok(info::file_info(&a, self.kept(id)))
    }
}

/// An xattr name of ours (ASCII) as the engine takes names.
fn xattr_name(b: &'static [u8]) -> &'static std::ffi::OsStr {
    // The names are ASCII literals, valid in every OsStr encoding.
    std::ffi::OsStr::new(std::str::from_utf8(b).unwrap_or_default())
}
