//! The daemon's side of the control channel.

use super::{MAX_READ, Request, Response, WireAttr, WireChange, WireLayout, WireWhat, recv, send};
use agentfs_core::changes::{Change, ChangeKind};
use agentfs_core::upper::Layout;
use agentfs_core::{Engine, Errno, FileRef, Frozen, Whence};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A frozen engine is let go when its client says nothing for this long (a hung client must
/// not stop the mount for good).
const IDLE_WHILE_FROZEN: Duration = Duration::from_secs(60);

/// Listens on `path` (replacing a stale socket there) for the mount's owner `owner` and root,
/// answering from `engine` on a thread per connection.
pub fn start(engine: Arc<Engine>, path: &Path, owner: u32) -> std::io::Result<PathBuf> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    std::thread::Builder::new().name("control".into()).spawn(move || {
        for conn in listener.incoming() {
            let Ok(stream) = conn else { continue };
            match rustix::net::sockopt::socket_peercred(&stream) {
                Ok(cred) if cred.uid.is_root() || cred.uid.as_raw() == owner => {}
                Ok(cred) => {
                    tracing::warn!(uid = cred.uid.as_raw(), "control connection refused: not the mount's owner");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(%e, "control connection refused: no peer credentials");
                    continue;
                }
            }
            let engine = Arc::clone(&engine);
            let spawned = std::thread::Builder::new().name("control-conn".into()).spawn(move || serve(&engine, stream));
            if let Err(e) = spawned {
                tracing::warn!(%e, "cannot serve a control connection");
            }
        }
    })?;
    Ok(path.to_path_buf())
}

fn serve(engine: &Engine, mut stream: UnixStream) {
    let mut frozen: Option<Frozen<'_>> = None;
    loop {
        let _ = stream.set_read_timeout(frozen.as_ref().map(|_| IDLE_WHILE_FROZEN));
        let req = match recv::<Request>(&mut stream) {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(%e, "control connection dropped");
                break;
            }
        };
        let resp = match req {
            Request::Freeze => {
                if frozen.is_none() {
                    frozen = Some(engine.freeze());
                    tracing::info!("frozen for a control client");
                }
                Response::Done
            }
            Request::Thaw => {
                if frozen.take().is_some() {
                    tracing::info!("thawed");
                }
                Response::Done
            }
            req => {
                answer(engine, &req).unwrap_or_else(|e| Response::Failed { errno: e.linux(), message: e.to_string() })
            }
        };
        if send(&mut stream, &resp).is_err() {
            break;
        }
    }
    if frozen.is_some() {
        tracing::info!("thawed: the control client left");
    }
}

fn answer(engine: &Engine, req: &Request) -> agentfs_core::Result<Response> {
    Ok(match *req {
        Request::Changes => Response::Changes(engine.changes()?.iter().map(wire_change).collect()),
        Request::Stat { id } => {
            let a = engine.getattr(id)?;
            Response::Attr(WireAttr {
                mode_type: a.kind.mode_bits(),
                perm: a.perm,
                uid: a.uid,
                gid: a.gid,
                rdev: a.rdev,
                nlink: a.nlink,
                size: a.size,
                atime: (a.atime.secs, a.atime.nanos),
                mtime: (a.mtime.secs, a.mtime.nanos),
            })
        }
        Request::Xattrs { id } => {
            let mut all = Vec::new();
            for name in engine.listxattr(id)? {
                let value = engine.getxattr(id, OsStr::from_bytes(&name))?;
                all.push((name, value));
            }
            Response::Xattrs(all)
        }
        Request::Readlink { id } => Response::Bytes(engine.readlink(id)?),
        Request::Layout { id } => Response::Layout(engine.upper_layout(id)?.map(|l| match l {
            Layout::Whole { len } => WireLayout::Whole { len },
            Layout::Partial { len, limit, written } => WireLayout::Partial { len, limit, written },
        })),
        Request::Segments { id, start, end } => Response::Segments(segments(engine, id, start, end)?),
        Request::Read { id, offset, len } => {
            let mut buf = vec![0u8; len.min(MAX_READ) as usize];
            let n = engine.read(FileRef::inode(id), offset, &mut buf)?;
            buf.truncate(n);
            Response::Bytes(buf)
        }
        Request::Freeze | Request::Thaw => return Err(Errno::EINVAL),
    })
}

/// The data ranges of `[start, end)` of node `id` (its holes left out).
fn segments(engine: &Engine, id: u64, start: u64, end: u64) -> agentfs_core::Result<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    let mut pos = start;
    while pos < end {
        let data = match engine.lseek(FileRef::inode(id), pos, Whence::Data) {
            Ok(d) => d,
            Err(Errno::ENXIO) => break,
            Err(e) => return Err(e),
        };
        if data >= end {
            break;
        }
        let hole = engine.lseek(FileRef::inode(id), data, Whence::Hole)?.min(end);
        if hole <= data {
            break;
        }
        out.push((data, hole));
        pos = hole;
    }
    Ok(out)
}

fn wire_change(c: &Change) -> WireChange {
    let what = match &c.what {
        ChangeKind::Removed => WireWhat::Removed,
        ChangeKind::Created => WireWhat::Created,
        ChangeKind::Moved { from, data, meta } => {
            WireWhat::Moved { from: from.to_path_buf().into_os_string().into_encoded_bytes(), data: *data, meta: *meta }
        }
        ChangeKind::Modified { data, meta } => WireWhat::Modified { data: *data, meta: *meta },
    };
    WireChange { path: c.path.as_os_str().as_bytes().to_vec(), mode_type: c.kind.mode_bits(), id: c.id, what }
}
