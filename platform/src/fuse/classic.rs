//! The classic transport: fuser's session reads requests from /dev/fuse and calls this
//! `Filesystem`, which calls the operations and encodes their results as fuser replies.

use super::convert::{errno, file_attr, file_type, set_time};
use super::ops::{self, EntryOut, NewMode, OpenOut, Ops, Req, XattrOut, opcode};
use agentfs_core::{Errno, FileRef, SetAttr, Timestamp};
use fuser::{
    AccessFlags, CopyFileRangeFlags, FileHandle, Filesystem, FopenFlags, Generation, INodeNo, KernelConfig, LockOwner,
    OpenFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry,
    ReplyLseek, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use std::cell::RefCell;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

const GEN: Generation = Generation(0);

thread_local! {
    static READ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The fuser `Filesystem` of a mount.
pub struct Classic {
    ops: Arc<Ops>,
}

impl Classic {
    pub fn new(ops: Arc<Ops>) -> Classic {
        Classic { ops }
    }
}

fn req(r: &Request) -> Req {
    Req { uid: r.uid(), gid: r.gid(), pid: r.pid() }
}

fn entry(reply: ReplyEntry, r: ops::Result<EntryOut>) {
    match r {
        Ok(e) => reply.entry_with_ttls(&e.entry_ttl, &e.attr_ttl, &file_attr(&e.attr), GEN),
        Err(e) => reply.error(errno(e)),
    }
}

fn empty(reply: ReplyEmpty, r: ops::Result<()>) {
    match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(errno(e)),
    }
}

fn xattr(reply: ReplyXattr, r: ops::Result<XattrOut>) {
    match r {
        Ok(XattrOut::Size(n)) => reply.size(n),
        Ok(XattrOut::Data(d)) => reply.data(&d),
        Err(e) => reply.error(errno(e)),
    }
}

fn opened(reply: ReplyOpen, open: OpenOut) {
    match &open.backing {
        Some(b) => crate::sys::fuse_dev::opened_passthrough(reply, open.fh, FopenFlags::empty(), b.id()),
        None => reply.opened(FileHandle(open.fh), FopenFlags::from_bits_retain(open.flags)),
    }
}

impl Filesystem for Classic {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        self.ops.negotiate(config);
        Ok(())
    }

    fn lookup(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.ops.count(opcode::LOOKUP);
        entry(reply, self.ops.lookup(req.pid(), parent.0, name));
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.ops.count(opcode::FORGET);
        self.ops.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        self.ops.count(opcode::GETATTR);
        match self.ops.getattr(ino.0) {
            Ok(a) => reply.attr(&a.ttl, &file_attr(&a.attr)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn setattr(
        &self,
        r: &Request,
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
        self.ops.count(opcode::SETATTR);
        let set = SetAttr {
            mode,
            uid,
            gid,
            size,
            atime: atime.map(set_time),
            mtime: mtime.map(set_time),
            ctime: ctime.map(Timestamp::from),
            ..SetAttr::default()
        };
        match self.ops.setattr(&req(r), ino.0, &set) {
            Ok(a) => reply.attr(&a.ttl, &file_attr(&a.attr)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        self.ops.count(opcode::READLINK);
        match self.ops.readlink(ino.0) {
            Ok(t) => reply.data(&t),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn mknod(&self, r: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, rdev: u32, reply: ReplyEntry) {
        self.ops.count(opcode::MKNOD);
        entry(reply, self.ops.mknod(&req(r), parent.0, name, NewMode { mode, umask }, rdev));
    }

    fn mkdir(&self, r: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, reply: ReplyEntry) {
        self.ops.count(opcode::MKDIR);
        entry(reply, self.ops.mkdir(&req(r), parent.0, name, NewMode { mode, umask }));
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.ops.count(opcode::UNLINK);
        empty(reply, self.ops.unlink(parent.0, name));
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.ops.count(opcode::RMDIR);
        empty(reply, self.ops.rmdir(parent.0, name));
    }

    fn symlink(&self, r: &Request, parent: INodeNo, link_name: &OsStr, target: &Path, reply: ReplyEntry) {
        self.ops.count(opcode::SYMLINK);
        entry(reply, self.ops.symlink(&req(r), parent.0, link_name, target.as_os_str().as_bytes()));
    }

    fn rename(
        &self,
        r: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: fuser::RenameFlags,
        reply: ReplyEmpty,
    ) {
        self.ops.count(opcode::RENAME2);
        empty(reply, self.ops.rename(&req(r), parent.0, name, newparent.0, newname, flags.bits()));
    }

    fn link(&self, _req: &Request, ino: INodeNo, newparent: INodeNo, newname: &OsStr, reply: ReplyEntry) {
        self.ops.count(opcode::LINK);
        entry(reply, self.ops.link(ino.0, newparent.0, newname));
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        self.ops.count(opcode::OPEN);
        match self.ops.open(ino.0, flags.0) {
            Ok(open) => opened(reply, open),
            Err(e) => reply.error(errno(e)),
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
        self.ops.count(opcode::READ);
        READ_BUF.with_borrow_mut(|buf| {
            if buf.len() < size as usize {
                buf.resize(size as usize, 0);
            }
            match self.ops.read(ino.0, fh.0, offset, &mut buf[..size as usize]) {
                Ok(n) => reply.data(&buf[..n]),
                Err(e) => reply.error(errno(e)),
            }
        });
    }

    fn write(
        &self,
        r: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        self.ops.count(opcode::WRITE);
        let kill = write_flags.contains(WriteFlags::FUSE_WRITE_KILL_SUIDGID);
        match self.ops.write(&req(r), ino.0, fh.0, offset, data, kill) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn flush(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _lock_owner: LockOwner, reply: ReplyEmpty) {
        self.ops.count(opcode::FLUSH);
        empty(reply, self.ops.flush());
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
        self.ops.count(opcode::RELEASE);
        empty(reply, self.ops.release(ino.0, fh.0));
    }

    fn fsync(&self, _req: &Request, ino: INodeNo, fh: FileHandle, datasync: bool, reply: ReplyEmpty) {
        self.ops.count(opcode::FSYNC);
        empty(reply, self.ops.fsync(ino.0, fh.0, datasync));
    }

    fn opendir(&self, _req: &Request, _ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.ops.count(opcode::OPENDIR);
        match self.ops.opendir() {
            Ok(()) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        self.ops.count(opcode::READDIR);
        let r =
            self.ops.readdir(ino.0, offset, &mut |e| !reply.add(INodeNo(e.ino), e.offset, file_type(e.kind), &e.name));
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn readdirplus(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectoryPlus) {
        self.ops.count(opcode::READDIRPLUS);
        let r = self.ops.readdirplus(ino.0, offset, &mut |e, out| {
            !reply.add(INodeNo(e.ino), e.offset, &e.name, &out.entry_ttl, &file_attr(&out.attr), GEN)
        });
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn releasedir(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, _flags: OpenFlags, reply: ReplyEmpty) {
        self.ops.count(opcode::RELEASEDIR);
        empty(reply, self.ops.releasedir(fh.0));
    }

    fn fsyncdir(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        self.ops.count(opcode::FSYNCDIR);
        empty(reply, self.ops.fsyncdir());
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        self.ops.count(opcode::STATFS);
        let s = self.ops.statfs();
        reply.statfs(s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.bsize, s.namelen, s.frsize);
    }

    fn setxattr(
        &self,
        r: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        position: u32,
        reply: ReplyEmpty,
    ) {
        self.ops.count(opcode::SETXATTR);
        empty(reply, self.ops.setxattr(&req(r), ino.0, name, value, flags, position));
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        self.ops.count(opcode::GETXATTR);
        xattr(reply, self.ops.getxattr(ino.0, name, size));
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        self.ops.count(opcode::LISTXATTR);
        xattr(reply, self.ops.listxattr(ino.0, size));
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.ops.count(opcode::REMOVEXATTR);
        empty(reply, self.ops.removexattr(ino.0, name));
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        self.ops.count(opcode::ACCESS);
        empty(reply, self.ops.access());
    }

    fn create(
        &self,
        r: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        self.ops.count(opcode::CREATE);
        match self.ops.create(&req(r), parent.0, name, NewMode { mode, umask }, flags) {
            Ok((e, open)) => {
                let attr = file_attr(&e.attr);
                match &open.backing {
                    Some(b) => crate::sys::fuse_dev::created_passthrough(
                        reply,
                        (&e.entry_ttl, &attr, GEN),
                        open.fh,
                        FopenFlags::empty(),
                        b.id(),
                    ),
                    None => reply.created(
                        &e.entry_ttl,
                        &attr,
                        GEN,
                        FileHandle(open.fh),
                        FopenFlags::from_bits_retain(open.flags),
                    ),
                }
            }
            Err(e) => reply.error(errno(e)),
        }
    }

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
        self.ops.count(opcode::GETLK);
        let Err(e) = self.ops.lock() else { return reply.error(errno(Errno::EIO)) };
        reply.error(errno(e));
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
        self.ops.count(opcode::SETLK);
        empty(reply, self.ops.lock());
    }

    fn bmap(&self, _req: &Request, _ino: INodeNo, _blocksize: u32, _idx: u64, reply: fuser::ReplyBmap) {
        self.ops.count(opcode::BMAP);
        let Err(e) = self.ops.bmap() else { return reply.error(errno(Errno::EIO)) };
        reply.error(errno(e));
    }

    fn poll(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _ph: fuser::PollNotifier,
        _events: fuser::PollEvents,
        _flags: fuser::PollFlags,
        reply: fuser::ReplyPoll,
    ) {
        self.ops.count(opcode::POLL);
        let Err(e) = self.ops.poll() else { return reply.error(errno(Errno::EIO)) };
        reply.error(errno(e));
    }

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
        self.ops.count(opcode::IOCTL);
        match self.ops.ioctl(ino.0, fh.0) {
            Ok(()) => reply.ioctl(0, &[]),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn fallocate(
        &self,
        r: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        self.ops.count(opcode::FALLOCATE);
        empty(reply, self.ops.fallocate(&req(r), ino.0, fh.0, offset, length, mode));
    }

    fn lseek(&self, _req: &Request, ino: INodeNo, fh: FileHandle, offset: i64, whence: i32, reply: ReplyLseek) {
        self.ops.count(opcode::LSEEK);
        self.ops.lseek(
            ino.0,
            fh.0,
            offset,
            whence,
            Box::new(move |r| match r {
                Ok(o) => reply.offset(o as i64),
                Err(e) => reply.error(errno(e)),
            }),
        );
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
        self.ops.count(opcode::COPY_FILE_RANGE);
        let (from, to) = (FileRef::new(ino_in.0, fh_in.0), FileRef::new(ino_out.0, fh_out.0));
        match self.ops.copy_file_range(from, offset_in, to, offset_out, len) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(errno(e)),
        }
    }
}
