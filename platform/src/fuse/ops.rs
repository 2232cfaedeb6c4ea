//! fuser's `Filesystem` trait, answered by the engine.

use super::AgentFs;
use super::caller;
use super::convert::{errno, file_attr, file_type, negative_attr, open_flags, set_time};
use super::io_mode::Decision;
use super::lseek::{Job, answer};
use agentfs_core::{
    Caller, Errno, FallocMode, FileRef, PrivilegeDrop, RenameFlags, SetAttr, Timestamp, Whence, XattrFlags,
};
use fuser::BackingId;
use fuser::{
    AccessFlags, CopyFileRangeFlags, FileHandle, Filesystem, FopenFlags, Generation, INodeNo, KernelConfig, LockOwner,
    OpenFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry,
    ReplyLseek, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use std::cell::RefCell;
use std::ffi::OsStr;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

const GEN: Generation = Generation(0);
/// Lower files smaller than this are read through the page cache: a passthrough backing buys
/// them little and would keep them from being written while read.
const LOWER_PASSTHROUGH_MIN: u64 = 1 << 20;
/// Largest copy_file_range chunk answered at once (the reply counts bytes in a u32).
const MAX_COPY: u64 = 1 << 30;

thread_local! {
    static READ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn caller(req: &Request) -> Caller {
    Caller { uid: req.uid(), gid: req.gid(), pid: req.pid() }
}

/// Logs what should never happen (EIO means a lower I/O failure or an engine bug).
fn fail(op: &str, e: Errno) -> fuser::Errno {
    if e == Errno::EIO {
        tracing::error!(op, "I/O error");
    } else {
        tracing::trace!(op, %e);
    }
    errno(e)
}

/// POSIX ACLs are not supported: without FUSE_POSIX_ACL the kernel would pass them through as
/// plain xattrs that change nothing, and tools (cp -a) would then skip their chmod. Refusing
/// them makes those tools fall back to the mode bits, as on a filesystem without ACLs.
fn is_acl(name: &OsStr) -> bool {
    matches!(name.as_bytes(), b"system.posix_acl_access" | b"system.posix_acl_default")
}

/// Replies with an xattr value or list, honouring the size protocol (0 = ask for the size).
fn reply_xattr(reply: ReplyXattr, size: u32, data: &[u8]) {
    if size == 0 {
        reply.size(data.len() as u32);
    } else if data.len() > size as usize {
        reply.error(errno(Errno::ERANGE));
    } else {
        reply.data(data);
    }
}

impl AgentFs {
    /// Flags of an open file: with a pinned lower layer, pages stay cached across opens (the
    /// content only changes through this mount).
    fn open_flags(&self) -> FopenFlags {
        if self.opts.keep_cache { FopenFlags::FOPEN_KEEP_CACHE } else { FopenFlags::empty() }
    }

    /// How an open of `ino` is served: cached, or passed through to a backing file registered
    /// with `open_backing` (the reply's, so the kernel ties it to this session).
    fn decide(
        &self,
        ino: u64,
        write: bool,
        open_backing: impl Fn(BorrowedFd<'_>) -> std::io::Result<BackingId>,
    ) -> Decision {
        if !self.passthrough.load(Ordering::Acquire) {
            return Decision::Cached;
        }
        self.io.open(ino, write, || {
            let lower = self.engine.lower_backing(ino, LOWER_PASSTHROUGH_MIN)?;
            match open_backing(lower.backing_fd()?) {
                Ok(id) => Some(id),
                Err(e) => {
                    tracing::warn!(ino, %e, "passthrough refused; serving through the daemon");
                    None
                }
            }
        })
    }

    fn reply_entry(&self, reply: ReplyEntry, r: agentfs_core::Result<agentfs_core::Attr>, op: &str) {
        match r {
            Ok(a) => reply.entry(&self.opts.entry_ttl, &file_attr(&a), GEN),
            Err(e) => reply.error(fail(op, e)),
        }
    }

    /// What a setattr takes away when the kernel left that to us (HANDLE_KILLPRIV_V2), as
    /// Linux's chown and truncate do: chown always drops set-user-id; truncate drops the set-id
    /// bits unless the caller may keep them (CAP_FSETID, which fuser does not pass on: root
    /// stands in for it).
    fn setattr_drop(&self, req: &Request, ino: u64, chown: bool, truncate: bool) -> PrivilegeDrop {
        let privileged = req.uid() == 0;
        if !self.killpriv.load(Ordering::Acquire) || !(chown || truncate) {
            PrivilegeDrop::Nothing
        } else if chown || !privileged {
            PrivilegeDrop::CapabilitiesAndSetId { caller_in_group: privileged || self.caller_in_group(req, ino) }
        } else {
            PrivilegeDrop::Capabilities
        }
    }

    /// Whether the caller belongs to the group of node `ino`; only asked for a set-group-id
    /// bit without group execute, the one case where membership decides.
    fn caller_in_group(&self, req: &Request, ino: u64) -> bool {
        match self.engine.getattr(ino) {
            Ok(a) if a.perm & 0o2010 == 0o2000 => caller::in_group(req.pid(), req.gid(), a.gid),
            _ => true,
        }
    }

    /// Takes set-id bits and capabilities away as a write does; when that changed the mode, the
    /// kernel's cached attributes are dropped (they would otherwise show the old mode for as
    /// long as they may be cached, which pinned is forever). Only attributes are invalidated,
    /// which takes no lock a request in progress could hold.
    fn drop_privileges(&self, ino: u64, drop: PrivilegeDrop) -> agentfs_core::Result<()> {
        if self.engine.drop_privileges(ino, drop)? {
            if let Some(n) = self.notifier.get() {
                if let Err(e) = n.inval_inode(INodeNo(ino), -1, 0) {
                    tracing::debug!(ino, %e, "could not drop the kernel's attributes after a privilege drop");
                }
            }
        }
        Ok(())
    }

    fn reply_empty(reply: ReplyEmpty, r: agentfs_core::Result<()>, op: &str) {
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fail(op, e)),
        }
    }
}

impl Filesystem for AgentFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        self.negotiate(config);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.engine.lookup(parent.0, name) {
            Ok(a) => reply.entry(&self.opts.entry_ttl, &file_attr(&a), GEN),
            Err(Errno::ENOENT) if !self.opts.negative_ttl.is_zero() => {
                reply.entry(&self.opts.negative_ttl, &negative_attr(), GEN)
            }
            Err(e) => reply.error(fail("lookup", e)),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.engine.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.engine.getattr(ino.0) {
            Ok(a) => reply.attr(&self.opts.attr_ttl, &file_attr(&a)),
            Err(e) => reply.error(fail("getattr", e)),
        }
    }

    fn setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        if size.is_some() && self.io.reads_lower(ino.0) {
            // Truncating would copy up a file that readers see through its lower backing.
            return reply.error(errno(Errno::ETXTBSY));
        }
        let set = SetAttr {
            mode,
            uid,
            gid,
            size,
            atime: atime.map(set_time),
            mtime: mtime.map(set_time),
            ctime: ctime.map(Timestamp::from),
            drop: self.setattr_drop(req, ino.0, uid.is_some() || gid.is_some(), size.is_some()),
        };
        match self.engine.setattr(ino.0, &set) {
            Ok(a) => reply.attr(&self.opts.attr_ttl, &file_attr(&a)),
            Err(e) => reply.error(fail("setattr", e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.engine.readlink(ino.0) {
            Ok(t) => reply.data(&t),
            Err(e) => reply.error(fail("readlink", e)),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let r = self.engine.mknod(parent.0, name, mode, u64::from(rdev), &caller(req));
        self.reply_entry(reply, r, "mknod");
    }

    fn mkdir(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, _umask: u32, reply: ReplyEntry) {
        let r = self.engine.mkdir(parent.0, name, mode, &caller(req));
        self.reply_entry(reply, r, "mkdir");
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        Self::reply_empty(reply, self.engine.unlink(parent.0, name), "unlink");
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        Self::reply_empty(reply, self.engine.rmdir(parent.0, name), "rmdir");
    }

    fn symlink(&self, req: &Request, parent: INodeNo, link_name: &OsStr, target: &Path, reply: ReplyEntry) {
        let r = self.engine.symlink(parent.0, link_name, target.as_os_str().as_bytes(), &caller(req));
        self.reply_entry(reply, r, "symlink");
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: fuser::RenameFlags,
        reply: ReplyEmpty,
    ) {
        let r = RenameFlags::from_linux(flags.bits())
            .and_then(|f| self.engine.rename(parent.0, name, newparent.0, newname, f));
        Self::reply_empty(reply, r, "rename");
    }

    fn link(&self, _req: &Request, ino: INodeNo, newparent: INodeNo, newname: &OsStr, reply: ReplyEntry) {
        let r = self.engine.link(ino.0, newparent.0, newname);
        self.reply_entry(reply, r, "link");
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if self.opts.no_open {
            return reply.error(errno(Errno::ENOSYS));
        }
        let flags = open_flags(flags.0, self.writeback.load(Ordering::Acquire));
        let fh = match self.engine.open(ino.0, flags) {
            Ok(fh) => fh,
            Err(e) => return reply.error(fail("open", e)),
        };
        match self.decide(ino.0, flags.write, |fd| reply.open_backing(fd)) {
            Decision::Cached => reply.opened(FileHandle(fh), self.open_flags()),
            Decision::Passthrough(b) => reply.opened_passthrough(FileHandle(fh), FopenFlags::empty(), &b),
            Decision::Busy => {
                // A refused open was never counted.
                let _ = self.engine.release(fh);
                reply.error(errno(Errno::ETXTBSY))
            }
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        READ_BUF.with_borrow_mut(|buf| {
            if buf.len() < size as usize {
                buf.resize(size as usize, 0);
            }
            match self.engine.read(FileRef::new(ino.0, fh.0), offset, &mut buf[..size as usize]) {
                Ok(n) => reply.data(&buf[..n]),
                Err(e) => reply.error(fail("read", e)),
            }
        });
    }

    fn write(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        if self.killpriv.load(Ordering::Acquire) {
            // The kernel sets the flag exactly when the writer lacks CAP_FSETID and the file has
            // a set-id bit to lose.
            let drop = if write_flags.contains(WriteFlags::FUSE_WRITE_KILL_SUIDGID) {
                PrivilegeDrop::CapabilitiesAndSetId { caller_in_group: self.caller_in_group(req, ino.0) }
            } else {
                PrivilegeDrop::Capabilities
            };
            if let Err(e) = self.drop_privileges(ino.0, drop) {
                return reply.error(fail("write", e));
            }
        }
        match self.engine.write(FileRef::new(ino.0, fh.0), offset, data) {
            Ok(n) => reply.written(n as u32),
            Err(e) => reply.error(fail("write", e)),
        }
    }

    /// Nothing to do at close (the upper layer is volatile); ENOSYS makes the kernel stop
    /// sending FLUSH, a round trip saved at every close (it still writes dirty pages back first).
    fn flush(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _lock_owner: LockOwner, reply: ReplyEmpty) {
        reply.error(errno(Errno::ENOSYS));
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let r = self.engine.release(fh.0);
        if self.passthrough.load(Ordering::Acquire) {
            self.io.release(ino.0);
        }
        Self::reply_empty(reply, r, "release");
    }

    fn fsync(&self, _req: &Request, ino: INodeNo, fh: FileHandle, datasync: bool, reply: ReplyEmpty) {
        Self::reply_empty(reply, self.engine.fsync(FileRef::new(ino.0, fh.0), datasync), "fsync");
    }

    /// Listing needs no open state (readdir works by inode and cookie); ENOSYS makes the kernel
    /// stop sending OPENDIR and RELEASEDIR, two round trips saved per directory listed.
    fn opendir(&self, _req: &Request, _ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        reply.error(errno(Errno::ENOSYS));
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let r =
            self.engine.readdir(ino.0, offset, |e| !reply.add(INodeNo(e.ino), e.offset, file_type(e.kind), &e.name));
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fail("readdir", e)),
        }
    }

    fn readdirplus(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectoryPlus) {
        let ttl = self.opts.entry_ttl;
        let r = self
            .engine
            .readdirplus(ino.0, offset, |e, a| !reply.add(INodeNo(e.ino), e.offset, &e.name, &ttl, &file_attr(a), GEN));
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fail("readdirplus", e)),
        }
    }

    fn releasedir(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, _flags: OpenFlags, reply: ReplyEmpty) {
        Self::reply_empty(reply, self.engine.releasedir(fh.0), "releasedir");
    }

    fn fsyncdir(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let s = self.engine.statfs();
        reply.statfs(s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.bsize, s.namelen, s.frsize);
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        position: u32,
        reply: ReplyEmpty,
    ) {
        if position != 0 {
            return reply.error(errno(Errno::EINVAL));
        }
        if is_acl(name) {
            return reply.error(errno(Errno::EOPNOTSUPP));
        }
        let r = XattrFlags::from_linux(flags).and_then(|f| self.engine.setxattr(ino.0, name, value, f));
        Self::reply_empty(reply, r, "setxattr");
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        if is_acl(name) {
            return reply.error(errno(Errno::EOPNOTSUPP));
        }
        match self.engine.getxattr(ino.0, name) {
            Ok(v) => reply_xattr(reply, size, &v),
            Err(e) => reply.error(fail("getxattr", e)),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        match self.engine.listxattr(ino.0) {
            Ok(names) => {
                let mut list = Vec::new();
                for n in names.iter().filter(|n| !is_acl(OsStr::from_bytes(n))) {
                    list.extend_from_slice(n);
                    list.push(0);
                }
                reply_xattr(reply, size, &list)
            }
            Err(e) => reply.error(fail("listxattr", e)),
        }
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        if is_acl(name) {
            return reply.error(errno(Errno::EOPNOTSUPP));
        }
        Self::reply_empty(reply, self.engine.removexattr(ino.0, name), "removexattr");
    }

    /// The kernel checks permissions itself (default_permissions).
    fn access(&self, _req: &Request, _ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        reply.ok();
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        if self.opts.no_open {
            // Without OPEN the kernel makes the file with MKNOD and opens it itself; a CREATE
            // would hand out a handle it then has to RELEASE, one round trip more per file.
            return reply.error(errno(Errno::ENOSYS));
        }
        let flags = open_flags(flags, self.writeback.load(Ordering::Acquire));
        let (a, fh) = match self.engine.create(parent.0, name, mode, flags, &caller(req)) {
            Ok(created) => created,
            Err(e) => return reply.error(fail("create", e)),
        };
        let ttl = self.opts.entry_ttl;
        match self.decide(a.ino, flags.write, |fd| reply.open_backing(fd)) {
            Decision::Cached => reply.created(&ttl, &file_attr(&a), GEN, FileHandle(fh), self.open_flags()),
            Decision::Passthrough(b) => {
                reply.created_passthrough(&ttl, &file_attr(&a), GEN, FileHandle(fh), FopenFlags::empty(), &b)
            }
            Decision::Busy => {
                // A refused open was never counted.
                let _ = self.engine.release(fh);
                self.engine.forget(a.ino, 1);
                reply.error(errno(Errno::ETXTBSY))
            }
        }
    }

    /// Byte-range locks are left to the kernel (ENOSYS makes it keep them locally), which is
    /// exact for a filesystem only this kernel can reach.
    fn getlk(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        _start: u64,
        _end: u64,
        _typ: i32,
        _pid: u32,
        reply: fuser::ReplyLock,
    ) {
        reply.error(errno(Errno::ENOSYS));
    }

    fn setlk(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        _start: u64,
        _end: u64,
        _typ: i32,
        _pid: u32,
        _sleep: bool,
        reply: ReplyEmpty,
    ) {
        reply.error(errno(Errno::ENOSYS));
    }

    /// No ioctl is implemented (chattr flags, FIEMAP ...): ENOTTY, as a filesystem without them
    /// answers, after checking that the file is one.
    fn ioctl(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _flags: fuser::IoctlFlags,
        _cmd: u32,
        _in_data: &[u8],
        _out_size: u32,
        reply: fuser::ReplyIoctl,
    ) {
        match self.engine.flush(FileRef::new(ino.0, fh.0)) {
            Ok(()) | Err(Errno::EISDIR) => reply.error(errno(Errno::ENOTTY)),
            Err(e) => reply.error(fail("ioctl", e)),
        }
    }

    fn fallocate(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        let r = FallocMode::from_linux(mode).and_then(|m| {
            // Linux takes set-id bits and capabilities away on fallocate as on write; the kernel
            // leaves that to us here (HANDLE_KILLPRIV_V2) without saying who may keep them.
            if self.killpriv.load(Ordering::Acquire) {
                let drop = if req.uid() == 0 {
                    PrivilegeDrop::Capabilities
                } else {
                    PrivilegeDrop::CapabilitiesAndSetId { caller_in_group: self.caller_in_group(req, ino.0) }
                };
                self.drop_privileges(ino.0, drop)?;
            }
            self.engine.fallocate(FileRef::new(ino.0, fh.0), offset, length, m)
        });
        Self::reply_empty(reply, r, "fallocate");
    }

    fn lseek(&self, _req: &Request, ino: INodeNo, fh: FileHandle, offset: i64, whence: i32, reply: ReplyLseek) {
        let whence = match whence {
            3 => Whence::Data,
            4 => Whence::Hole,
            _ => return reply.error(errno(Errno::EINVAL)),
        };
        let Ok(offset) = u64::try_from(offset) else {
            return reply.error(errno(Errno::ENXIO));
        };
        let job = Job { file: FileRef::new(ino.0, fh.0), offset, whence, reply };
        // Without open tracking any file may have writers.
        let may_have_writers = self.opts.no_open || self.engine.has_writers(ino.0);
        if self.writeback.load(Ordering::Acquire) && may_have_writers {
            // Dirty pages may hold data the engine has not seen: flush them first.
            self.lseek.submit(job, &self.engine);
        } else {
            answer(&self.engine, job);
        }
    }

    fn copy_file_range(
        &self,
        _req: &Request,
        ino_in: INodeNo,
        fh_in: FileHandle,
        offset_in: u64,
        ino_out: INodeNo,
        fh_out: FileHandle,
        offset_out: u64,
        len: u64,
        _flags: CopyFileRangeFlags,
        reply: ReplyWrite,
    ) {
        let (from, to) = (FileRef::new(ino_in.0, fh_in.0), FileRef::new(ino_out.0, fh_out.0));
        match self.engine.copy_file_range(from, offset_in, to, offset_out, len.min(MAX_COPY)) {
            Ok(n) => reply.written(n as u32),
            Err(e) => reply.error(fail("copy_file_range", e)),
        }
    }
}
