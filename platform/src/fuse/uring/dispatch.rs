//! One request from the ring: decode it, call the operation, encode what it returns into the
//! entry's payload. The operations decide everything; this only translates.

use super::abi::{Full, Writer};
use super::decode::{CopyIn, Header, Malformed, Request, decode};
use super::encode;
use crate::fuse::ops::{self, AttrOut, EntryOut, LseekDone, OpenOut, Ops, Req, XattrOut};
use agentfs_core::{Errno, FileRef, StatFs};

/// How a request was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Answered: `error` is 0 or a negative errno; `payload` bytes of out-arguments were written.
    Done { error: i32, payload: usize },
    /// The answer comes later, through the [`LseekDone`] the request was given.
    Pending,
}

impl Reply {
    fn ok(payload: usize) -> Reply {
        Reply::Done { error: 0, payload }
    }

    fn err(e: Errno) -> Reply {
        Reply::Done { error: -e.linux(), payload: 0 }
    }
}

/// What one request needs besides its arguments.
pub struct Call<'a> {
    pub ops: &'a Ops,
    pub header: Header,
    /// Makes the completion of a request answered later (LSEEK).
    pub later: &'a dyn Fn() -> LseekDone,
}

impl Call<'_> {
    fn req(&self) -> Req {
        Req { uid: self.header.uid, gid: self.header.gid, pid: self.header.pid }
    }

    fn ino(&self) -> u64 {
        self.header.nodeid
    }

    fn malformed(&self) -> Reply {
        tracing::warn!(opcode = self.header.opcode, unique = self.header.unique, "malformed request from the kernel");
        Reply::err(Errno::EIO)
    }
}

/// An operation's result, before it is encoded.
enum Outcome {
    Empty,
    Entry(EntryOut),
    Attr(AttrOut),
    Open(OpenOut),
    Create(EntryOut, OpenOut),
    Written(u32),
    Data(Vec<u8>),
    XattrSize(u32),
    Statfs(StatFs),
    Ioctl,
    Pending,
    Failed(Errno),
}

impl<T> From<ops::Result<T>> for Outcome
where
    T: Into<Outcome>,
{
    fn from(r: ops::Result<T>) -> Outcome {
        r.map_or_else(Outcome::Failed, Into::into)
    }
}

impl From<()> for Outcome {
    fn from(_: ()) -> Outcome {
        Outcome::Empty
    }
}

impl From<EntryOut> for Outcome {
    fn from(e: EntryOut) -> Outcome {
        Outcome::Entry(e)
    }
}

impl From<AttrOut> for Outcome {
    fn from(a: AttrOut) -> Outcome {
        Outcome::Attr(a)
    }
}

impl From<XattrOut> for Outcome {
    fn from(x: XattrOut) -> Outcome {
        match x {
            XattrOut::Size(n) => Outcome::XattrSize(n),
            XattrOut::Data(d) => Outcome::Data(d),
        }
    }
}

/// Serves the request of an entry: `op_in` is its op_in area, `payload` its payload buffer, of
/// which the kernel filled `payload_sz` bytes.
pub fn serve(cx: &Call<'_>, op_in: &[u8], payload: &mut [u8], payload_sz: usize) -> Reply {
    cx.ops.count(cx.header.opcode);
    let Some(input) = payload.get(..payload_sz) else { return cx.malformed() };
    let req = match decode(cx.header.opcode, op_in, input) {
        Ok(r) => r,
        Err(Malformed) => return cx.malformed(),
    };
    match req {
        Request::Read { fh, offset, size } => read(cx, fh, offset, size, payload),
        Request::Readdir { offset, size } => readdir(cx, offset, size, payload, false),
        Request::Readdirplus { offset, size } => readdir(cx, offset, size, payload, true),
        other => {
            let outcome = answer(cx, other);
            reply(cx, outcome, payload)
        }
    }
}

fn read(cx: &Call<'_>, fh: u64, offset: u64, size: u32, payload: &mut [u8]) -> Reply {
    let Some(buf) = payload.get_mut(..size as usize) else { return cx.malformed() };
    match cx.ops.read(cx.ino(), fh, offset, buf) {
        Ok(n) => Reply::ok(n.min(size as usize)),
        Err(e) => Reply::err(e),
    }
}

/// A listing written straight into the payload, as many records as fit in `size`.
fn readdir(cx: &Call<'_>, offset: u64, size: u32, payload: &mut [u8], plus: bool) -> Reply {
    let max = (size as usize).min(payload.len());
    let mut w = Writer::new(&mut payload[..max]);
    let r = if plus {
        cx.ops
            .readdirplus_for(cx.header.pid, cx.ino(), offset, &mut |e, out| encode::direntplus(&mut w, e, out).is_ok())
    } else {
        cx.ops.readdir(cx.ino(), offset, &mut |e| encode::dirent(&mut w, e).is_ok())
    };
    match r {
        Ok(()) => Reply::ok(w.len()),
        Err(e) => Reply::err(e),
    }
}

/// Calls the operation of a request that does not write into the payload while it runs.
fn answer(cx: &Call<'_>, req: Request<'_>) -> Outcome {
    let (ops, ino) = (cx.ops, cx.ino());
    match req {
        Request::Lookup { name } => ops.lookup(cx.header.pid, ino, name).into(),
        Request::Mknod { name, mode, rdev } => ops.mknod(&cx.req(), ino, name, mode, rdev).into(),
        Request::Mkdir { name, mode } => ops.mkdir(&cx.req(), ino, name, mode).into(),
        Request::Symlink { name, target } => ops.symlink(&cx.req(), ino, name, target).into(),
        Request::Link { ino: target, newname } => ops.link(target, ino, newname).into(),
        Request::Unlink { name } => ops.unlink(ino, name).into(),
        Request::Rmdir { name } => ops.rmdir(ino, name).into(),
        Request::Rename { name, newparent, newname, flags } => {
            ops.rename(&cx.req(), ino, name, newparent, newname, flags).into()
        }
        Request::Getattr => ops.getattr(ino).into(),
        Request::Setattr(set) => ops.setattr(&cx.req(), ino, &set).into(),
        Request::Readlink => ops.readlink(ino).map_or_else(Outcome::Failed, Outcome::Data),
        Request::Statfs => Outcome::Statfs(ops.statfs()),
        Request::Access => ops.access().into(),
        Request::Setxattr { name, value, flags } => ops.setxattr(&cx.req(), ino, name, value, flags, 0).into(),
        Request::Getxattr { name, size } => ops.getxattr(ino, name, size).into(),
        Request::Listxattr { size } => ops.listxattr(ino, size).into(),
        Request::Removexattr { name } => ops.removexattr(ino, name).into(),
        Request::Opendir => ops.opendir().map_or_else(Outcome::Failed, |()| Outcome::Open(no_handle())),
        Request::Releasedir { fh } => ops.releasedir(fh).into(),
        Request::Fsyncdir => ops.fsyncdir().into(),
        other => files(cx, other),
    }
}

/// The answer to an OPENDIR that succeeded: no handle, no flags.
fn no_handle() -> OpenOut {
    OpenOut { fh: 0, flags: 0, backing: None }
}

/// Requests about open files, and those answered "not implemented" on purpose.
fn files(cx: &Call<'_>, req: Request<'_>) -> Outcome {
    let (ops, ino) = (cx.ops, cx.ino());
    match req {
        Request::Open { flags } => ops.open(ino, flags).map_or_else(Outcome::Failed, Outcome::Open),
        Request::Create { name, mode, flags } => {
            ops.create(&cx.req(), ino, name, mode, flags).map_or_else(Outcome::Failed, |(e, o)| Outcome::Create(e, o))
        }
        Request::Write { fh, offset, data, kill_suidgid } => {
            ops.write(&cx.req(), ino, fh, offset, data, kill_suidgid).map_or_else(Outcome::Failed, Outcome::Written)
        }
        Request::Flush => ops.flush().into(),
        Request::Release { fh } => ops.release(ino, fh).into(),
        Request::Fsync { fh, datasync } => ops.fsync(ino, fh, datasync).into(),
        Request::Fallocate { fh, offset, length, mode } => {
            ops.fallocate(&cx.req(), ino, fh, offset, length, mode).into()
        }
        Request::Lseek { fh, offset, whence } => {
            ops.lseek(ino, fh, offset, whence, (cx.later)());
            Outcome::Pending
        }
        Request::CopyFileRange(c) => copy_file_range(cx, &c),
        Request::Ioctl { fh } => ops.ioctl(ino, fh).map_or_else(Outcome::Failed, |()| Outcome::Ioctl),
        // Success is not an answer these have: EIO, as the classic transport says.
        Request::Lock => not_implemented(ops.lock()),
        Request::Poll => not_implemented(ops.poll()),
        Request::Bmap => not_implemented(ops.bmap()),
        Request::Destroy => Outcome::Empty,
        _ => Outcome::Failed(Errno::ENOSYS),
    }
}

fn not_implemented(r: ops::Result<()>) -> Outcome {
    Outcome::Failed(r.err().unwrap_or(Errno::EIO))
}

fn copy_file_range(cx: &Call<'_>, c: &CopyIn) -> Outcome {
    let (from, to) = (FileRef::new(cx.ino(), c.fh_in), FileRef::new(c.nodeid_out, c.fh_out));
    cx.ops.copy_file_range(from, c.off_in, to, c.off_out, c.len).map_or_else(Outcome::Failed, Outcome::Written)
}

/// Encodes an outcome into the payload.
fn reply(cx: &Call<'_>, outcome: Outcome, payload: &mut [u8]) -> Reply {
    let mut w = Writer::new(payload);
    let r: Result<(), Full> = match &outcome {
        Outcome::Empty => Ok(()),
        Outcome::Entry(e) => encode::entry_out(&mut w, e),
        Outcome::Attr(a) => encode::attr_out(&mut w, a),
        Outcome::Open(o) => encode::open_out(&mut w, o),
        Outcome::Create(e, o) => encode::entry_out(&mut w, e).and_then(|()| encode::open_out(&mut w, o)),
        Outcome::Written(n) => encode::write_out(&mut w, *n),
        Outcome::Data(d) => w.bytes(d),
        Outcome::XattrSize(n) => encode::getxattr_out(&mut w, *n),
        Outcome::Statfs(s) => encode::statfs_out(&mut w, s),
        Outcome::Ioctl => encode::ioctl_out(&mut w),
        Outcome::Pending => return Reply::Pending,
        Outcome::Failed(e) => return Reply::err(*e),
    };
    match r {
        Ok(()) => Reply::ok(w.len()),
        Err(Full) => {
            tracing::error!(opcode = cx.header.opcode, "a reply does not fit the ring's payload buffer");
            Reply::err(Errno::EIO)
        }
    }
}

/// Encodes the answer of an LSEEK that came later.
pub fn lseek_reply(result: ops::Result<u64>, payload: &mut [u8]) -> Reply {
    match result {
        Ok(offset) => match encode::lseek_out(&mut Writer::new(payload), offset) {
            Ok(()) => Reply::ok(crate::fuse::uring::abi::LSEEK_OUT),
            Err(Full) => Reply::err(Errno::EIO),
        },
        Err(e) => Reply::err(e),
    }
}
