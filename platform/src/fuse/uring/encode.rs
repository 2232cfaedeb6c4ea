//! Replies as the kernel reads them from a ring entry: `struct fuse_out_header` in the first
//! area of the header buffer (only `error` and `unique` are read), the size of the reply's
//! arguments in `fuse_uring_ent_in_out.payload_sz`, and the out-arguments concatenated in the
//! payload: `fuse_entry_out`, `fuse_attr_out`, `fuse_open_out`... or data.

use super::abi::{self, Full, Writer};
use crate::fuse::ops::{AttrOut, EntryOut, OpenOut, fopen};
use agentfs_core::{Attr, DirEntry, StatFs, Timestamp};
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

/// Writes the out header and the payload size of a reply into the header buffer: `error` is
/// 0 or a negative errno, `payload` the bytes of out-arguments in the payload buffer.
pub fn finish(header: &mut [u8; abi::RING_HEADER], unique: u64, error: i32, payload: usize) {
    let len = if error == 0 { abi::OUT_HEADER + payload } else { abi::OUT_HEADER };
    let payload_sz = if error == 0 { payload } else { 0 };
    let (in_out, rest) = header.split_at_mut(abi::RING_IN_OUT);
    let mut w = Writer::new(in_out);
    // The 128-byte area always holds the 16-byte header.
    let _ = w.u32(u32::try_from(len).unwrap_or(u32::MAX));
    let _ = w.u32(error as u32);
    let _ = w.u64(unique);
    // fuse_uring_ent_in_out: flags, commit_id, then payload_sz.
    let ent = &mut rest[abi::RING_OP_IN..];
    let _ = Writer::new(&mut ent[16..20]).u32(u32::try_from(payload_sz).unwrap_or(u32::MAX));
}

fn time(w: &mut Writer<'_>, t: Timestamp) -> Result<(), Full> {
    w.u64(t.secs as u64)
}

/// `struct fuse_attr`.
pub fn attr(w: &mut Writer<'_>, a: &Attr) -> Result<(), Full> {
    w.u64(a.ino)?;
    w.u64(a.size)?;
    w.u64(a.blocks)?;
    for t in [a.atime, a.mtime, a.ctime] {
        time(w, t)?;
    }
    for t in [a.atime, a.mtime, a.ctime] {
        w.u32(t.nanos)?;
    }
    w.u32(a.mode())?;
    w.u32(a.nlink)?;
    w.u32(a.uid)?;
    w.u32(a.gid)?;
    // The kernel's 32-bit device number: for majors below 4096 the low 32 bits of the
    // user-space dev_t are already in that encoding.
    w.u32(a.rdev as u32)?;
    w.u32(a.blksize)?;
    // flags (FUSE_ATTR_*): none.
    w.u32(0)
}

fn ttl(w: &mut Writer<'_>, d: Duration) -> Result<(), Full> {
    w.u64(d.as_secs())
}

/// `struct fuse_entry_out` (generation 0: node ids are never reused while the mount lives).
pub fn entry_out(w: &mut Writer<'_>, e: &EntryOut) -> Result<(), Full> {
    let start = w.len();
    w.u64(e.attr.ino)?;
    w.u64(0)?;
    ttl(w, e.entry_ttl)?;
    ttl(w, e.attr_ttl)?;
    w.u32(e.entry_ttl.subsec_nanos())?;
    w.u32(e.attr_ttl.subsec_nanos())?;
    attr(w, &e.attr)?;
    debug_assert_eq!(w.len() - start, abi::ENTRY_OUT);
    Ok(())
}

/// `struct fuse_attr_out`.
pub fn attr_out(w: &mut Writer<'_>, a: &AttrOut) -> Result<(), Full> {
    let start = w.len();
    ttl(w, a.ttl)?;
    w.u32(a.ttl.subsec_nanos())?;
    w.u32(0)?;
    attr(w, &a.attr)?;
    debug_assert_eq!(w.len() - start, abi::ATTR_OUT);
    Ok(())
}

/// `struct fuse_open_out`: a passthrough open carries its backing file's id.
pub fn open_out(w: &mut Writer<'_>, o: &OpenOut) -> Result<(), Full> {
    let start = w.len();
    w.u64(o.fh)?;
    let (flags, backing_id) = match &o.backing {
        Some(b) => (o.flags | fopen::PASSTHROUGH, b.id()),
        None => (o.flags, 0),
    };
    w.u32(flags)?;
    w.u32(backing_id)?;
    debug_assert_eq!(w.len() - start, abi::OPEN_OUT);
    Ok(())
}

/// `struct fuse_write_out` (WRITE and COPY_FILE_RANGE).
pub fn write_out(w: &mut Writer<'_>, size: u32) -> Result<(), Full> {
    w.u32(size)?;
    w.zeros(abi::WRITE_OUT - 4)
}

/// `struct fuse_statfs_out`.
pub fn statfs_out(w: &mut Writer<'_>, s: &StatFs) -> Result<(), Full> {
    let start = w.len();
    for v in [s.blocks, s.bfree, s.bavail, s.files, s.ffree] {
        w.u64(v)?;
    }
    w.u32(s.bsize)?;
    w.u32(s.namelen)?;
    w.u32(s.frsize)?;
    // padding, spare[6]
    w.zeros(4 + 24)?;
    debug_assert_eq!(w.len() - start, abi::STATFS_OUT);
    Ok(())
}

/// `struct fuse_getxattr_out` (the size asked about).
pub fn getxattr_out(w: &mut Writer<'_>, size: u32) -> Result<(), Full> {
    w.u32(size)?;
    w.zeros(abi::GETXATTR_OUT - 4)
}

/// `struct fuse_lseek_out`.
pub fn lseek_out(w: &mut Writer<'_>, offset: u64) -> Result<(), Full> {
    w.u64(offset)
}

/// `struct fuse_ioctl_out` of an ioctl that succeeded with nothing to return.
pub fn ioctl_out(w: &mut Writer<'_>) -> Result<(), Full> {
    w.zeros(abi::IOCTL_OUT)
}

/// The `d_type` of a directory entry: the file type bits of its mode.
fn dirent_type(e: &DirEntry) -> u32 {
    e.kind.mode_bits() >> 12
}

/// `struct fuse_dirent` then the name, padded to 8 bytes; Full (nothing written) if the
/// record does not fit.
pub fn dirent(w: &mut Writer<'_>, e: &DirEntry) -> Result<(), Full> {
    let name = e.name.as_bytes();
    if abi::dirent_align(abi::DIRENT + name.len()) > w.room() {
        return Err(Full);
    }
    w.u64(e.ino)?;
    w.u64(e.offset)?;
    w.u32(u32::try_from(name.len()).map_err(|_| Full)?)?;
    w.u32(dirent_type(e))?;
    w.bytes(name)?;
    w.align8()
}

/// `struct fuse_direntplus` (`fuse_entry_out` then `fuse_dirent`) then the name, padded. An
/// entry without attributes gets an all-zero `fuse_entry_out`: node id 0 tells the kernel to
/// list the name and make no dentry for it.
pub fn direntplus(w: &mut Writer<'_>, e: &DirEntry, out: Option<&EntryOut>) -> Result<(), Full> {
    let name = e.name.as_bytes();
    if abi::dirent_align(abi::DIRENTPLUS + name.len()) > w.room() {
        return Err(Full);
    }
    match out {
        Some(out) => entry_out(w, out)?,
        None => w.zeros(abi::ENTRY_OUT)?,
    }
    dirent(w, e)
}
