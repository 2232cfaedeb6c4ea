//! Open files: open, create, read, write, release, flush, fsync, fallocate, lseek,
//! copy_file_range, and the requests answered "not implemented" on purpose (ioctl, locks,
//! poll, bmap). Every request about an open file names it by node and handle, handle 0 when
//! the kernel opened it without asking (see [`FileRef`]).

use super::super::backing::Backing;
use super::super::convert::open_flags;
use super::super::io_mode::{Decision, Lent};
use super::super::lseek::Job;
use super::{EntryOut, NewMode, OpenOut, Ops, Req, Result, fopen, logged};
use agentfs_core::{Errno, FileRef, PrivilegeDrop};
use std::ffi::OsStr;
use std::os::fd::BorrowedFd;
use std::sync::atomic::Ordering;

/// Lower files smaller than this are read through the page cache: a passthrough backing buys
/// them little and would keep them from being written while read.
const LOWER_PASSTHROUGH_MIN: u64 = 1 << 20;
/// Largest copy_file_range chunk answered at once (the reply counts bytes in a u32).
const MAX_COPY: u64 = 1 << 30;

/// Where an lseek's answer goes; it may come from another thread (see `lseek`).
pub type LseekDone = Box<dyn FnOnce(Result<u64>) + Send>;

impl Ops {
    /// Flags of an open file: with a pinned lower layer, pages stay cached across opens (the
    /// content only changes through this mount).
    fn cached_open_flags(&self) -> u32 {
        if self.opts.keep_cache { fopen::KEEP_CACHE } else { 0 }
    }

    /// How an open of `ino` is served: cached, or passed through to its lower file (large,
    /// read only) or to its upper data. A writer gets the upper data moved where the kernel may
    /// write it; a reader passes through to upper data only if it is there already.
    fn decide(&self, ino: u64, write: bool) -> Decision {
        let Some(device) = self.device.get().filter(|_| self.granted.passthrough.load(Ordering::Acquire)) else {
            return Decision::Cached;
        };
        let register = |fd: BorrowedFd<'_>| match Backing::register(device, fd) {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::warn!(ino, %e, "passthrough refused; serving through the daemon");
                None
            }
        };
        self.io.open(ino, write, || {
            if !write {
                if let Some(lower) = self.engine.lower_backing(ino, LOWER_PASSTHROUGH_MIN) {
                    return register(lower.backing_fd()?).map(Lent::Lower);
                }
            }
            self.engine.lend_upper(ino, write, register).map(Lent::Upper)
        })
    }

    /// The reply to an open of `ino` as handle `fh`, or ETXTBSY (and `fh` released).
    fn opened(&self, ino: u64, fh: u64, write: bool) -> Result<OpenOut> {
        match self.decide(ino, write) {
            Decision::Cached => Ok(OpenOut { fh, flags: self.cached_open_flags(), backing: None }),
            Decision::Passthrough(b) => Ok(OpenOut { fh, flags: fopen::PASSTHROUGH, backing: Some(b) }),
            Decision::Busy => {
                // A refused open was never counted.
                let _ = self.engine.release(fh);
                Err(Errno::ETXTBSY)
            }
        }
    }

    /// OPEN; in the no-open mode, ENOSYS makes the kernel open files by itself from then on.
    pub fn open(&self, ino: u64, flags: i32) -> Result<OpenOut> {
        if self.opts.no_open {
            return Err(Errno::ENOSYS);
        }
        let flags = open_flags(flags, self.granted.writeback.load(Ordering::Acquire));
        let fh = self.engine.open(ino, flags).map_err(|e| logged("open", e))?;
        self.opened(ino, fh, flags.write)
    }

    /// CREATE; in the no-open mode ENOSYS: the kernel then makes the file with MKNOD and opens
    /// it itself (a CREATE would hand out a handle it then has to RELEASE).
    pub fn create(
        &self,
        req: &Req,
        parent: u64,
        name: &OsStr,
        mode: NewMode,
        flags: i32,
    ) -> Result<(EntryOut, OpenOut)> {
        if self.opts.no_open {
            return Err(Errno::ENOSYS);
        }
        let flags = open_flags(flags, self.granted.writeback.load(Ordering::Acquire));
        let (attr, fh) = self
            .engine
            .create(parent, name, mode.mode, flags, &self.creator(req, mode.umask))
            .map_err(|e| logged("create", e))?;
        match self.opened(attr.ino, fh, flags.write) {
            Ok(open) => Ok((self.entry(attr), open)),
            Err(e) => {
                self.engine.forget(attr.ino, 1);
                Err(e)
            }
        }
    }

    /// Reads into `buf`; returns the bytes read. The access time is updated before the reply,
    /// so that a stat after the read sees it.
    pub fn read(&self, ino: u64, fh: u64, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let n = self.engine.read(FileRef::new(ino, fh), offset, buf).map_err(|e| logged("read", e))?;
        self.accessed(ino);
        Ok(n)
    }

    /// Writes `data`; `kill_suidgid` is the kernel's FUSE_WRITE_KILL_SUIDGID, set exactly when
    /// the writer lacks CAP_FSETID and the file has a set-id bit to lose.
    pub fn write(&self, req: &Req, ino: u64, fh: u64, offset: u64, data: &[u8], kill_suidgid: bool) -> Result<u32> {
        if self.granted.killpriv.load(Ordering::Acquire) {
            let drop = if kill_suidgid {
                PrivilegeDrop::CapabilitiesAndSetId { caller_in_group: self.caller_in_group(req, ino) }
            } else {
                PrivilegeDrop::Capabilities
            };
            self.drop_privileges(ino, drop).map_err(|e| logged("write", e))?;
        }
        let written = self.engine.write(FileRef::new(ino, fh), offset, data);
        if written == Err(Errno::ENOSPC) && self.granted.writeback.load(Ordering::Acquire) {
            self.keep_size_after_lost_write(ino, offset + data.len() as u64);
        }
        written.map(|n| n as u32).map_err(|e| logged("write", e))
    }

    /// With the writeback cache the writer was told at write() that these bytes were written,
    /// and the kernel keeps the file's size as written; when the budget refuses them at
    /// writeback, the daemon's size is brought up to the same `end` (the lost bytes read as
    /// zeros; a hole costs no memory), so both agree, and the ENOSPC reaches the writer at
    /// fsync, msync or close.
    fn keep_size_after_lost_write(&self, ino: u64, end: u64) {
        if self.engine.getattr(ino).is_ok_and(|a| a.size < end) {
            let grow = agentfs_core::SetAttr { size: Some(end), ..Default::default() };
            if let Err(e) = self.engine.setattr(ino, &grow) {
                tracing::warn!(ino, end, %e, "a file the budget cut short keeps its shorter size");
            }
        }
    }

    /// Nothing to do at close (the upper layer is volatile); ENOSYS makes the kernel stop
    /// sending FLUSH, a round trip saved at every close (it still writes dirty pages back first).
    pub fn flush(&self) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    pub fn release(&self, ino: u64, fh: u64) -> Result<()> {
        let r = self.engine.release(fh);
        if self.granted.passthrough.load(Ordering::Acquire) {
            self.io.release(ino);
        }
        r.map_err(|e| logged("release", e))
    }

    pub fn fsync(&self, ino: u64, fh: u64, datasync: bool) -> Result<()> {
        self.engine.fsync(FileRef::new(ino, fh), datasync).map_err(|e| logged("fsync", e))
    }

    /// fallocate, punch hole and zero range (Linux mode bits).
    pub fn fallocate(&self, req: &Req, ino: u64, fh: u64, offset: u64, length: u64, mode: i32) -> Result<()> {
        let mode = super::super::host::fallocate_mode(mode)?;
        // Linux takes set-id bits and capabilities away on fallocate as on write; the kernel
        // leaves that to us here (HANDLE_KILLPRIV_V2) without saying who may keep them.
        if self.granted.killpriv.load(Ordering::Acquire) {
            let drop = if req.uid == 0 {
                PrivilegeDrop::Capabilities
            } else {
                PrivilegeDrop::CapabilitiesAndSetId { caller_in_group: self.caller_in_group(req, ino) }
            };
            self.drop_privileges(ino, drop)?;
        }
        self.engine.fallocate(FileRef::new(ino, fh), offset, length, mode).map_err(|e| logged("fallocate", e))
    }

    /// SEEK_DATA (3) and SEEK_HOLE (4). With the writeback cache, dirty pages may hold data the
    /// engine has not seen: they are written back first, by a worker thread, since the writes
    /// that takes are requests too; `done` then gets the answer, from that thread.
    pub fn lseek(&self, ino: u64, fh: u64, offset: i64, whence: i32, done: LseekDone) {
        let Some(whence) = super::super::host::whence(whence) else { return done(Err(Errno::EINVAL)) };
        let Ok(offset) = u64::try_from(offset) else { return done(Err(Errno::ENXIO)) };
        let job = Job { file: FileRef::new(ino, fh), offset, whence, done };
        // Without open tracking any file may have writers.
        let may_have_writers = self.opts.no_open || self.engine.has_writers(ino);
        if self.granted.writeback.load(Ordering::Acquire) && may_have_writers {
            self.lseek.submit(job, &self.engine);
        } else {
            super::super::lseek::answer(&self.engine, job);
        }
    }

    pub fn copy_file_range(
        &self,
        from: FileRef,
        offset_in: u64,
        to: FileRef,
        offset_out: u64,
        len: u64,
    ) -> Result<u32> {
        self.engine
            .copy_file_range(from, offset_in, to, offset_out, len.min(MAX_COPY))
            .map(|n| n as u32)
            .map_err(|e| logged("copy_file_range", e))
    }

    /// No ioctl is implemented (chattr flags, FIEMAP ...): ENOTTY, as a filesystem without them
    /// answers, after checking that the file is one.
    pub fn ioctl(&self, ino: u64, fh: u64) -> Result<()> {
        match self.engine.flush(FileRef::new(ino, fh)) {
            Ok(()) | Err(Errno::EISDIR) => Err(Errno::ENOTTY),
            Err(e) => Err(logged("ioctl", e)),
        }
    }

    /// Byte-range locks are left to the kernel (ENOSYS makes it keep them locally), which is
    /// exact for a filesystem only this kernel can reach.
    pub fn lock(&self) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// Files are always ready; ENOSYS makes the kernel say so itself from now on.
    pub fn poll(&self) -> Result<()> {
        Err(Errno::ENOSYS)
    }

    /// No block map (there is no block device); ENOSYS makes the kernel stop asking.
    pub fn bmap(&self) -> Result<()> {
        Err(Errno::ENOSYS)
    }
}
