//! What the mount shows at a changed path, read through the control socket, and whether an
//! object of SRC is already that (by content: blake3 of both).

use super::check::Found;
use crate::confined::Meta;
use crate::control::client::Client;
use crate::error::{Error, Result};
use agentfs_core::FileKind;
use rustix::fs::FileType;

/// The metadata of node `id` (xattrs sorted; none for a symlink).
pub fn meta(client: &mut Client, id: u64, kind: FileKind) -> Result<Meta> {
    let a = client.stat(id)?;
    let xattrs = if kind == FileKind::Symlink {
        None
    } else {
        let mut x = client.xattrs(id)?;
        x.sort();
        Some(x)
    };
    Ok(Meta { perm: a.perm, uid: a.uid, gid: a.gid, atime: a.atime, mtime: a.mtime, xattrs })
}

/// The blake3 hash of node `id`'s data (`size` bytes).
pub fn hash(client: &mut Client, id: u64, size: u64) -> Result<[u8; 32]> {
    let mut h = blake3::Hasher::new();
    client.read_range(id, 0, size, |_, bytes| {
        h.update(bytes);
        Ok(())
    })?;
    Ok(*h.finalize().as_bytes())
}

/// The kind of an object of SRC, as the engine names kinds.
#[allow(clippy::unnecessary_cast)]
pub fn kind_of(t: FileType) -> Option<FileKind> {
    FileKind::from_mode(t.as_raw_mode() as u32)
}

fn kind_matches(kind: FileKind, t: FileType) -> bool {
    kind_of(t) == Some(kind)
}

/// Whether `found` (in SRC) is what the mount shows as node `id` of `kind`: type, owner, mode,
/// xattrs and content (directories: their own metadata only).
pub fn shows(client: &mut Client, id: u64, kind: FileKind, found: Option<&Found>) -> Result<bool> {
    let Some(f) = found else { return Ok(false) };
    if !kind_matches(kind, f.kind()) {
        return Ok(false);
    }
    let m = meta(client, id, kind)?;
    if kind == FileKind::Symlink {
        if (m.uid, m.gid) != (f.om.meta.uid, f.om.meta.gid) {
            return Ok(false);
        }
    } else if !m.same_apart_from_times(&f.om.meta) {
        return Ok(false);
    }
    let io = |e: std::io::Error| Error::System(format!("cannot read {}", e));
    // Files and symlinks: their modification time too (a person sees it; a commit sets it).
    let times = m.mtime == f.om.meta.mtime;
    Ok(match kind {
        FileKind::Regular => {
            let size = client.stat(id)?.size;
            times && size == f.size() && hash(client, id, size)? == f.hash().map_err(io)?
        }
        FileKind::Symlink => times && client.readlink(id)? == f.target().map_err(io)?,
        FileKind::Directory => true,
        _ => client.stat(id)?.rdev == f.rdev(),
    })
}
