//! The commands' side of the control channel.

use super::transport::{self, Conn};
use super::{MAX_READ, Request, Response, Usage, WireAttr, WireChange, WireLayout, recv, send};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// A connection to the daemon of one mount.
pub struct Client {
    stream: Box<dyn Conn>,
    mnt: PathBuf,
}

impl Client {
    /// Connects to the daemon of mount `id` (at `mnt`, for messages).
    pub fn connect(id: &str, mnt: &Path) -> Result<Client> {
        let (stream, _) = transport::connect(id).map_err(|e| {
            Error::System(format!(
                "the daemon of {} does not answer on its control channel ({e}); it may predate this agentfs: \
                 unmount and mount again",
                mnt.display(),
            ))
        })?;
        Ok(Client { stream: Box::new(stream), mnt: mnt.to_path_buf() })
    }

    fn call(&mut self, req: &Request) -> Result<Response> {
        let lost = |e: std::io::Error| Error::System(format!("lost the daemon of {}: {e}", self.mnt.display()));
        send(&mut self.stream, req).map_err(lost)?;
        self.next_response(req)
    }

    /// The next response to `req` (a streamed answer has several).
    fn next_response(&mut self, req: &Request) -> Result<Response> {
        let lost = |e: std::io::Error| Error::System(format!("lost the daemon of {}: {e}", self.mnt.display()));
        match recv::<Response>(&mut self.stream).map_err(lost)? {
            Some(Response::Failed { errno, message }) if errno == agentfs_core::Errno::EBUSY.linux() => {
                Err(Error::Busy(format!("{}: {message}", self.mnt.display())))
            }
            Some(Response::Failed { errno, message }) => Err(Error::System(format!(
                "the daemon of {} could not answer {req:?}: {message} (errno {errno})",
                self.mnt.display()
            ))),
            Some(r) => Ok(r),
            None => Err(Error::System(format!("the daemon of {} closed the control connection", self.mnt.display()))),
        }
    }

    fn unexpected(&self, r: Response) -> Error {
        Error::System(format!("the daemon of {} answered out of turn: {r:?}", self.mnt.display()))
    }

    /// Stops every change to the mount until [`Client::thaw`] or until this client goes away.
    pub fn freeze(&mut self) -> Result<()> {
        match self.call(&Request::Freeze)? {
            Response::Done => Ok(()),
            r => Err(self.unexpected(r)),
        }
    }

    /// Asks the daemon to end the mount (the Windows way to unmount).
    pub fn unmount(&mut self) -> Result<()> {
        match self.call(&Request::Unmount)? {
            Response::Done => Ok(()),
            r => Err(self.unexpected(r)),
        }
    }

    /// Requests the kernel sent the mount so far, by operation.
    pub fn request_counts(&mut self) -> Result<Vec<(String, u64)>> {
        match self.call(&Request::RequestCounts)? {
            Response::RequestCounts(c) => Ok(c),
            r => Err(self.unexpected(r)),
        }
    }

    /// Nodes the daemon holds in memory, and its open files.
    pub fn engine_stats(&mut self) -> Result<(u64, u64)> {
        match self.call(&Request::EngineStats)? {
            Response::EngineStats { nodes, open_files } => Ok((nodes, open_files)),
            r => Err(self.unexpected(r)),
        }
    }

    /// The RAM the daemon's upper layer uses, and its budget.
    pub fn usage(&mut self) -> Result<Usage> {
        match self.call(&Request::Usage)? {
            Response::Usage(u) => Ok(u),
            r => Err(self.unexpected(r)),
        }
    }

    /// Stop waiting for an answer after `timeout` (a stopped daemon never answers).
    pub fn set_timeout(&self, timeout: std::time::Duration) {
        self.stream.set_idle_timeout(Some(timeout));
    }

    pub fn thaw(&mut self) -> Result<()> {
        match self.call(&Request::Thaw)? {
            Response::Done => Ok(()),
            r => Err(self.unexpected(r)),
        }
    }

    /// Every change, received chunk by chunk.
    pub fn changes(&mut self) -> Result<Vec<WireChange>> {
        let mut all = Vec::new();
        let mut next = self.call(&Request::Changes)?;
        loop {
            match next {
                Response::ChangesChunk(c) => all.extend(c),
                Response::ChangesEnd => return Ok(all),
                r => return Err(self.unexpected(r)),
            }
            next = self.next_response(&Request::Changes)?;
        }
    }

    pub fn stat(&mut self, id: u64) -> Result<WireAttr> {
        match self.call(&Request::Stat { id })? {
            Response::Attr(a) => Ok(a),
            r => Err(self.unexpected(r)),
        }
    }

    pub fn xattrs(&mut self, id: u64) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        match self.call(&Request::Xattrs { id })? {
            Response::Xattrs(x) => Ok(x),
            r => Err(self.unexpected(r)),
        }
    }

    pub fn readlink(&mut self, id: u64) -> Result<Vec<u8>> {
        match self.call(&Request::Readlink { id })? {
            Response::Bytes(b) => Ok(b),
            r => Err(self.unexpected(r)),
        }
    }

    pub fn layout(&mut self, id: u64) -> Result<Option<WireLayout>> {
        match self.call(&Request::Layout { id })? {
            Response::Layout(l) => Ok(l),
            r => Err(self.unexpected(r)),
        }
    }

    /// The data ranges (not holes) of `[start, end)` of node `id`.
    pub fn segments(&mut self, id: u64, start: u64, end: u64) -> Result<Vec<(u64, u64)>> {
        match self.call(&Request::Segments { id, start, end })? {
            Response::Segments(s) => Ok(s),
            r => Err(self.unexpected(r)),
        }
    }

    /// Passes the bytes of `[offset, end)` of node `id` to `sink`, in chunks, in order; stops
    /// early at the file's end.
    pub fn read_range(
        &mut self,
        id: u64,
        offset: u64,
        end: u64,
        mut sink: impl FnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let mut pos = offset;
        while pos < end {
            let len = (end - pos).min(u64::from(MAX_READ)) as u32;
            let bytes = match self.call(&Request::Read { id, offset: pos, len })? {
                Response::Bytes(b) => b,
                r => return Err(self.unexpected(r)),
            };
            if bytes.is_empty() {
                break;
            }
            sink(pos, &bytes)?;
            pos += bytes.len() as u64;
        }
        Ok(())
    }
}
