//! The control channel of a mount: a Unix socket next to its record (a named pipe on Windows,
//! see [`transport`]), through which `agentfs diff`, `snapshot` and `commit` read what the upper
//! layer holds, with the daemon's engine frozen while they do, and through which a Windows
//! daemon is told to unmount. Only the mount's owner and root may connect.
//!
//! Frames are a little-endian u32 length and a bincode payload; one request, one response,
//! except for the list of changes, which comes as a stream of bounded chunks (a mount may hold
//! millions of changes).

pub mod client;
pub mod server;
pub mod transport;

use std::io::{self, Read, Write};

/// Largest frame accepted (a read answers at most [`MAX_READ`] bytes).
const MAX_FRAME: usize = 16 << 20;
/// Largest read asked for in one request.
pub const MAX_READ: u32 = 4 << 20;
/// A chunk of changes is sent once it holds about this many bytes of paths.
pub const CHUNK_BYTES: usize = 1 << 20;

pub use transport::remove_endpoint;

#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Request {
    /// Stop every change to the upper layer until `Thaw` or the end of the connection.
    Freeze,
    Thaw,
    /// The list of changes against the lower layer: answered by `ChangesChunk`s, then
    /// `ChangesEnd` (or `Failed`).
    Changes,
    /// Attributes of a node.
    Stat {
        id: u64,
    },
    /// Extended attributes of a node.
    Xattrs {
        id: u64,
    },
    /// Target of a symlink node.
    Readlink {
        id: u64,
    },
    /// Which bytes of a file differ from its lower file.
    Layout {
        id: u64,
    },
    /// The data ranges of `[start, end)` of a file (what is not a hole).
    Segments {
        id: u64,
        start: u64,
        end: u64,
    },
    /// Up to `len` bytes of a file's current data (fewer at its end).
    Read {
        id: u64,
        offset: u64,
        len: u32,
    },
    /// End the mount (Windows: only the daemon can take a WinFsp volume down).
    Unmount,
    /// How many requests of each kind the kernel sent so far (answered by `RequestCounts`).
    RequestCounts,
    /// Nodes in memory and open files (answered by `EngineStats`).
    EngineStats,
    /// RAM used of the budget (answered by `Usage`). Last, so that a daemon of an older agentfs
    /// refuses only this.
    Usage,
}

/// The RAM a daemon's upper layer uses of its budget (what `df` of the mount shows, asked
/// without a statfs that a stuck daemon would never answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Usage {
    pub used_bytes: u64,
    pub budget_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum WireWhat {
    Removed,
    Created,
    Moved { from: Vec<u8>, data: bool, meta: bool },
    Modified { data: bool, meta: bool },
}

/// One change; paths are relative to the mount's root, as bytes.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct WireChange {
    pub path: Vec<u8>,
    /// `FileKind` as its Linux `S_IFMT` bits.
    pub mode_type: u32,
    pub id: u64,
    pub what: WireWhat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct WireAttr {
    pub mode_type: u32,
    pub perm: u16,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub nlink: u32,
    pub size: u64,
    pub atime: (i64, u32),
    pub mtime: (i64, u32),
}

#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum WireLayout {
    Whole { len: u64 },
    Partial { len: u64, limit: u64, written: Vec<(u64, u64)> },
}

#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Response {
    Done,
    /// Some changes, in order; more follow until `ChangesEnd`.
    ChangesChunk(Vec<WireChange>),
    ChangesEnd,
    Attr(WireAttr),
    Xattrs(Vec<(Vec<u8>, Vec<u8>)>),
    Bytes(Vec<u8>),
    Layout(Option<WireLayout>),
    Segments(Vec<(u64, u64)>),
    /// Requests served so far, by the kernel's name of the operation.
    RequestCounts(Vec<(String, u64)>),
    EngineStats {
        nodes: u64,
        open_files: u64,
    },
    /// The request failed with this errno.
    Failed {
        errno: i32,
        message: String,
    },
    Usage(Usage),
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard()
}

pub fn send<T: bincode::Encode>(w: &mut impl Write, value: &T) -> io::Result<()> {
    let payload = bincode::encode_to_vec(value, config()).map_err(io::Error::other)?;
    let len = u32::try_from(payload.len()).map_err(|_| io::Error::other("frame too large"))?;
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&payload);
    w.write_all(&frame)?;
    w.flush()
}

/// The next frame; `Ok(None)` when the peer closed the connection between frames.
pub fn recv<T: bincode::Decode<()>>(r: &mut impl Read) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("a {len}-byte frame is too large")));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    let (value, used) = bincode::decode_from_slice(&payload, config()).map_err(io::Error::other)?;
    if used != len {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "trailing bytes in a frame"));
    }
    Ok(Some(value))
}
