//! The daemon's side of the control channel.

use super::transport::{self, Conn};
use super::{CHUNK_BYTES, MAX_READ, Request, Response, WireAttr, WireChange, WireLayout, WireWhat, recv, send};
use agentfs_core::changes::{Change, ChangeKind};
use agentfs_core::upper::Layout;
use agentfs_core::{Engine, Errno, FileRef, Frozen, Whence};
use std::sync::Arc;
use std::time::Duration;

/// A frozen engine is let go when its client says nothing for this long (a hung client must
/// not stop the mount for good).
const IDLE_WHILE_FROZEN: Duration = Duration::from_secs(60);

/// What the daemon does when a client asks it to unmount (Windows; elsewhere the kernel's
/// unmount ends the daemon, and the request is refused).
pub type OnUnmount = Arc<dyn Fn() + Send + Sync>;

/// The requests the frontend served so far, by operation.
pub type RequestCounts = Arc<dyn Fn() -> Vec<(String, u64)> + Send + Sync>;

/// What the daemon offers its control clients beyond the engine.
#[derive(Clone, Default)]
pub struct Hooks {
    pub on_unmount: Option<OnUnmount>,
    pub request_counts: Option<RequestCounts>,
}

/// Listens for mount `id`, for its owner `owner` and root, answering from `engine` on a thread
/// per connection.
pub fn start(engine: Arc<Engine>, id: &str, owner: u32, hooks: Hooks) -> std::io::Result<()> {
    let listener = transport::listen(id)?;
    std::thread::Builder::new().name("control".into()).spawn(move || {
        loop {
            let stream = match listener.accept(owner) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(%e, "control listener failed; no more control connections");
                    return;
                }
            };
            let engine = Arc::clone(&engine);
            let hooks = hooks.clone();
            let spawned =
                std::thread::Builder::new().name("control-conn".into()).spawn(move || serve(&engine, stream, &hooks));
            if let Err(e) = spawned {
                tracing::warn!(%e, "cannot serve a control connection");
            }
        }
    })?;
    Ok(())
}

fn serve(engine: &Engine, mut stream: impl Conn, hooks: &Hooks) {
    let mut frozen: Option<Frozen<'_>> = None;
    loop {
        stream.set_idle_timeout(frozen.as_ref().map(|_| IDLE_WHILE_FROZEN));
        let req = match recv::<Request>(&mut stream) {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(%e, "control connection dropped");
                break;
            }
        };
        let resp = match req {
            Request::Freeze if frozen.is_some() => Response::Done,
            Request::Freeze => {
                let f = engine.freeze();
                match engine.lent_writers() {
                    0 => {
                        frozen = Some(f);
                        tracing::info!("frozen for a control client");
                        Response::Done
                    }
                    n => Response::Failed {
                        errno: Errno::EBUSY.linux(),
                        message: format!(
                            "{n} file(s) are open for writing and written by the kernel directly (--passthrough), which a freeze cannot stop; close them and try again"
                        ),
                    },
                }
            }
            Request::Thaw => {
                if frozen.take().is_some() {
                    tracing::info!("thawed");
                }
                Response::Done
            }
            Request::Changes => match stream_changes(engine, &mut stream) {
                Ok(()) => Response::ChangesEnd,
                Err(e) => Response::Failed { errno: e.linux(), message: e.to_string() },
            },
            Request::RequestCounts => match &hooks.request_counts {
                Some(counts) => Response::RequestCounts(counts()),
                None => Response::Failed {
                    errno: Errno::ENOSYS.linux(),
                    message: "this daemon's frontend does not count requests".into(),
                },
            },
            Request::Unmount => match &hooks.on_unmount {
                Some(f) => {
                    tracing::info!("unmount asked for by a control client");
                    f();
                    Response::Done
                }
                None => Response::Failed {
                    errno: Errno::EINVAL.linux(),
                    message: "this daemon is unmounted through the kernel, not asked to".into(),
                },
            },
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

/// Sends the changes in chunks of about [`CHUNK_BYTES`] as the walk finds them: neither side
/// holds a reply the size of the whole list.
fn stream_changes(engine: &Engine, stream: &mut impl Conn) -> agentfs_core::Result<()> {
    let mut chunk = Vec::new();
    let mut bytes = 0;
    let mut flush = |chunk: &mut Vec<WireChange>| {
        send(stream, &Response::ChangesChunk(std::mem::take(chunk))).map_err(|e| {
            tracing::warn!(%e, "control client gone while changes were sent");
            Errno::EIO
        })
    };
    engine.for_each_change(|c| {
        let w = wire_change(&c);
        bytes += w.path.len() + 32;
        chunk.push(w);
        if bytes >= CHUNK_BYTES {
            bytes = 0;
            flush(&mut chunk)?;
        }
        Ok(())
    })?;
    if !chunk.is_empty() {
        flush(&mut chunk)?;
    }
    Ok(())
}

fn answer(engine: &Engine, req: &Request) -> agentfs_core::Result<Response> {
    Ok(match *req {
        Request::Changes => return Err(Errno::EINVAL),
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
                let value = engine.getxattr(id, &crate::runtime::bytes_os(&name))?;
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
        Request::EngineStats => {
            let s = engine.stats();
            Response::EngineStats { nodes: s.nodes as u64, open_files: s.open_files as u64 }
        }
        Request::Usage => {
            let s = engine.stats();
            Response::Usage(super::Usage { used_bytes: s.used_bytes, budget_bytes: s.budget_bytes })
        }
        Request::Freeze | Request::Thaw | Request::Unmount | Request::RequestCounts => return Err(Errno::EINVAL),
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
    WireChange { path: crate::runtime::path_bytes(&c.path), mode_type: c.kind.mode_bits(), id: c.id, what }
}
