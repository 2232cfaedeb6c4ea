//! `agentfs diff MNT`: what the mount changed against its lower layer, as a person would name
//! it. A file whose data was rewritten with the same content (compared by blake3) is not
//! "modified".

use crate::changeset::{ChangeSet, Verdict, What};
use crate::confined::Dir;
use crate::control::WireLayout;
use crate::control::client::Client;
use crate::error::{Error, Result};
use crate::target;
use agentfs_core::FileKind;
use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub path: PathBuf,
    pub verdict: Verdict,
    pub kind: FileKind,
    /// For a rename: where it was.
    pub from: Option<PathBuf>,
    /// For a renamed file: whether its content changed too.
    pub content_changed: bool,
    /// Size now (files), for --stat.
    pub size: u64,
}

/// The changes of the mount at `mnt`, with the mount frozen while they are read.
pub fn diff(mnt: &Path) -> Result<Vec<Entry>> {
    let (mnt, rec) = target::mounted(mnt)?;
    target::flush(&mnt)?;
    let mut client = Client::connect(&rec.id, &mnt)?;
    client.freeze()?;
    let set = ChangeSet::from_wire(client.changes()?)?;
    // The lower layer is read beneath one directory fd, a name at a time: no path length limit,
    // no symlink followed.
    let lower_path = rec.pin.lower_root();
    let lower = Dir::open_root(&lower_path).map_err(|e| Error::io("cannot open the lower layer", &lower_path, &e))?;
    let entries = classify(&mut client, &set, &lower)?;
    client.thaw()?;
    Ok(entries)
}

fn classify(client: &mut Client, set: &ChangeSet, lower: &Dir) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for item in &set.items {
        let size = |client: &mut Client| -> Result<u64> {
            if item.kind == FileKind::Regular { Ok(client.stat(item.id)?.size) } else { Ok(0) }
        };
        let entry = |verdict, from: Option<&PathBuf>, content_changed, size| Entry {
            path: item.path.clone(),
            verdict,
            kind: item.kind,
            from: from.cloned(),
            content_changed,
            size,
        };
        match &item.what {
            What::Removed if set.moved_away(&item.path) => {}
            What::Removed => out.push(entry(Verdict::Deleted, None, false, 0)),
            What::Created => out.push(entry(Verdict::Added, None, false, size(client)?)),
            What::Moved { from, data, .. } => {
                let changed = *data && content_differs(client, item.id, &Below::find(lower, from)?)?;
                // Still at `from` as well: a new name (hardlink) for it, not a rename.
                let verdict = if set.moved_away(from) { Verdict::Renamed } else { Verdict::Added };
                out.push(entry(verdict, set.moved_away(from).then_some(from), changed, size(client)?));
            }
            What::Modified { data, meta } => {
                let below = Below::find(lower, &item.path)?;
                let changed = *data && content_differs(client, item.id, &below)?;
                if changed {
                    out.push(entry(Verdict::Modified, None, true, size(client)?));
                } else if (*meta || *data) && meta_differs(client, item.id, item.kind, &below)? {
                    out.push(entry(Verdict::Metadata, None, false, size(client)?));
                }
            }
        }
    }
    Ok(out)
}

/// A lower object by its parent directory (opened beneath the pin, once) and its name.
struct Below<'a> {
    parent: Dir,
    name: &'a OsStr,
}

impl<'a> Below<'a> {
    fn find(lower: &Dir, rel: &'a Path) -> Result<Below<'a>> {
        let (parent, name) = lower
            .parent_of(rel)
            .map_err(|e| Error::io("cannot read the lower layer at", &lower.path().join(rel), &e))?;
        Ok(Below { parent, name })
    }

    fn path(&self) -> PathBuf {
        self.parent.path_of(self.name)
    }
}

/// Whether node `id`'s mode, owner or xattrs differ from the lower object's. Times are left
/// out: every write moves them.
fn meta_differs(client: &mut Client, id: u64, kind: FileKind, b: &Below) -> Result<bool> {
    let fail = |e: std::io::Error| Error::io("cannot read the lower object", &b.path(), &e);
    let Some(below) = b.parent.meta(b.name).map_err(fail)? else {
        return Ok(true);
    };
    let a = client.stat(id)?;
    let m = &below.meta;
    if a.uid != m.uid || a.gid != m.gid || (kind != FileKind::Symlink && a.perm != m.perm) {
        return Ok(true);
    }
    if kind == FileKind::Symlink {
        return Ok(false);
    }
    let mut now = client.xattrs(id)?;
    now.sort();
    Ok(Some(now) != m.xattrs)
}

/// Whether node `id`'s data differs from the lower file's (blake3 of both, over the ranges
/// that can differ).
fn content_differs(client: &mut Client, id: u64, b: &Below) -> Result<bool> {
    let fail = |e: std::io::Error| Error::io("cannot read the lower file", &b.path(), &e);
    let file = File::from(b.parent.open_file(b.name, false).map_err(&fail)?);
    let lower_len = file.metadata().map_err(&fail)?.len();
    let ranges = match client.layout(id)? {
        None => return Ok(false),
        Some(WireLayout::Whole { len }) if len != lower_len => return Ok(true),
        Some(WireLayout::Whole { len }) => vec![(0, len)],
        Some(WireLayout::Partial { len, .. }) if len != lower_len => return Ok(true),
        // Bytes below `limit` outside `written` are the lower file's by construction.
        Some(WireLayout::Partial { len, limit, written }) => {
            let mut r = written;
            if limit < len {
                r.push((limit, len));
            }
            r
        }
    };
    for (start, end) in ranges {
        let mut upper = blake3::Hasher::new();
        client.read_range(id, start, end, |_, b| {
            upper.update(b);
            Ok(())
        })?;
        let mut below = blake3::Hasher::new();
        hash_range(&file, start, end, &mut below).map_err(&fail)?;
        if upper.finalize() != below.finalize() {
            return Ok(true);
        }
    }
    Ok(false)
}

fn hash_range(f: &File, start: u64, end: u64, h: &mut blake3::Hasher) -> std::io::Result<()> {
    let mut buf = vec![0u8; (end - start).min(1 << 20) as usize];
    let mut pos = start;
    while pos < end {
        let want = (end - pos).min(buf.len() as u64) as usize;
        let n = f.read_at(&mut buf[..want], pos)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        pos += n as u64;
    }
    Ok(())
}
