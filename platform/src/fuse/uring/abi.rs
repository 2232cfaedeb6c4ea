//! The kernel's FUSE structs (include/uapi/linux/fuse.h, protocol 7.42+) as byte layouts:
//! sizes, and bounds-checked little-endian readers and writers. Nothing here trusts a length
//! the kernel sent without checking it against the buffer first.

/// `struct fuse_in_header`.
pub const IN_HEADER: usize = 40;
/// `struct fuse_out_header`.
pub const OUT_HEADER: usize = 16;
/// `FUSE_URING_IN_OUT_HEADER_SZ` and `FUSE_URING_OP_IN_OUT_SZ`: the two 128-byte areas of
/// `struct fuse_uring_req_header`, followed by `struct fuse_uring_ent_in_out`.
pub const RING_IN_OUT: usize = 128;
pub const RING_OP_IN: usize = 128;
/// `struct fuse_uring_ent_in_out { u64 flags; u64 commit_id; u32 payload_sz; u32 padding; u64 reserved; }`.
pub const RING_ENT_IN_OUT: usize = 32;
pub const RING_HEADER: usize = RING_IN_OUT + RING_OP_IN + RING_ENT_IN_OUT;

/// `struct fuse_attr`.
pub const ATTR: usize = 88;
/// `struct fuse_entry_out`.
pub const ENTRY_OUT: usize = 40 + ATTR;
/// `struct fuse_attr_out`.
pub const ATTR_OUT: usize = 16 + ATTR;
/// `struct fuse_open_out { u64 fh; u32 open_flags; s32 backing_id; }`.
pub const OPEN_OUT: usize = 16;
/// `struct fuse_write_out`.
pub const WRITE_OUT: usize = 8;
/// `struct fuse_statfs_out` (`struct fuse_kstatfs`).
pub const STATFS_OUT: usize = 80;
/// `struct fuse_getxattr_out`.
pub const GETXATTR_OUT: usize = 8;
/// `struct fuse_lseek_out`.
pub const LSEEK_OUT: usize = 8;
/// `struct fuse_ioctl_out`.
pub const IOCTL_OUT: usize = 16;
/// `FUSE_NAME_OFFSET`: `struct fuse_dirent` before its name.
pub const DIRENT: usize = 24;
/// `FUSE_NAME_OFFSET_DIRENTPLUS`: `struct fuse_direntplus` before its name.
pub const DIRENTPLUS: usize = ENTRY_OUT + DIRENT;

/// In-structs (`op_in`), by size.
pub const GETATTR_IN: usize = 16;
pub const SETATTR_IN: usize = 88;
pub const MKNOD_IN: usize = 16;
pub const MKDIR_IN: usize = 8;
pub const RENAME_IN: usize = 8;
pub const RENAME2_IN: usize = 16;
pub const LINK_IN: usize = 8;
pub const OPEN_IN: usize = 8;
pub const CREATE_IN: usize = 16;
pub const READ_IN: usize = 40;
pub const WRITE_IN: usize = 40;
pub const RELEASE_IN: usize = 24;
pub const FSYNC_IN: usize = 16;
/// `FUSE_COMPAT_SETXATTR_IN_SIZE`: without FUSE_SETXATTR_EXT, which we never ask for.
pub const SETXATTR_IN: usize = 8;
pub const GETXATTR_IN: usize = 8;
pub const FALLOCATE_IN: usize = 32;
pub const LSEEK_IN: usize = 24;
pub const COPY_FILE_RANGE_IN: usize = 56;
pub const IOCTL_IN: usize = 32;

/// `FUSE_DIRENT_ALIGN`: records of a directory listing start on 8-byte boundaries.
pub const fn dirent_align(n: usize) -> usize {
    (n + 7) & !7
}

/// Reads little-endian fields in order, refusing to read past the end.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let b = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(b)
    }

    pub fn u32(&mut self) -> Option<u32> {
        self.bytes(4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes)
    }

    pub fn u64(&mut self) -> Option<u64> {
        self.bytes(8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes)
    }

    pub fn skip(&mut self, n: usize) -> Option<()> {
        self.bytes(n).map(drop)
    }

    /// A NUL-terminated string (without its NUL).
    pub fn cstr(&mut self) -> Option<&'a [u8]> {
        let rest = self.buf.get(self.pos..)?;
        let len = rest.iter().position(|&b| b == 0)?;
        self.pos += len + 1;
        rest.get(..len)
    }
}

/// The buffer was too small for a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// Writes little-endian fields in order into a buffer, refusing to write past its end.
pub struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    pub fn new(buf: &'a mut [u8]) -> Writer<'a> {
        Writer { buf, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes left.
    pub fn room(&self) -> usize {
        self.buf.len() - self.len
    }

    pub fn bytes(&mut self, b: &[u8]) -> Result<(), Full> {
        let end = self.len.checked_add(b.len()).ok_or(Full)?;
        self.buf.get_mut(self.len..end).ok_or(Full)?.copy_from_slice(b);
        self.len = end;
        Ok(())
    }

    pub fn u32(&mut self, v: u32) -> Result<(), Full> {
        self.bytes(&v.to_le_bytes())
    }

    pub fn u64(&mut self, v: u64) -> Result<(), Full> {
        self.bytes(&v.to_le_bytes())
    }

    pub fn zeros(&mut self, n: usize) -> Result<(), Full> {
        let end = self.len.checked_add(n).ok_or(Full)?;
        self.buf.get_mut(self.len..end).ok_or(Full)?.fill(0);
        self.len = end;
        Ok(())
    }

    /// Zero padding up to the next multiple of 8.
    pub fn align8(&mut self) -> Result<(), Full> {
        self.zeros(dirent_align(self.len) - self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes as the kernel has them (include/uapi/linux/fuse.h; FUSE_COMPAT_* sizes are the
    /// pre-7.9 ones and not what a 6.x kernel sends or expects).
    #[test]
    fn sizes_match_the_kernel() {
        assert_eq!(RING_HEADER, 288, "sizeof(struct fuse_uring_req_header)");
        assert_eq!(RING_HEADER, crate::sys::uring::HEADER_SIZE);
        assert_eq!((IN_HEADER, OUT_HEADER), (40, 16));
        assert_eq!(ATTR, 88);
        assert_eq!(ENTRY_OUT, 128);
        assert_eq!(ATTR_OUT, 104);
        assert_eq!(DIRENTPLUS, 152);
        assert_eq!((OPEN_OUT, WRITE_OUT, STATFS_OUT, GETXATTR_OUT, LSEEK_OUT, IOCTL_OUT), (16, 8, 80, 8, 8, 16));
        assert_eq!((SETATTR_IN, READ_IN, WRITE_IN, RELEASE_IN, COPY_FILE_RANGE_IN), (88, 40, 40, 24, 56));
        for s in [SETATTR_IN, READ_IN, WRITE_IN, COPY_FILE_RANGE_IN, IOCTL_IN, FALLOCATE_IN, CREATE_IN] {
            assert!(s <= RING_OP_IN, "an in-struct fits the op_in area");
        }
        assert_eq!((dirent_align(24 + 1), dirent_align(24 + 8), dirent_align(24 + 9)), (32, 32, 40));
    }

    #[test]
    fn reads_refuse_to_run_past_the_end() {
        let mut r = Reader::new(b"ab\0cd");
        assert_eq!(r.cstr(), Some(&b"ab"[..]));
        assert_eq!(r.cstr(), None, "no NUL: not a name");
        assert_eq!(r.bytes(3), None);
        assert_eq!(r.bytes(2), Some(&b"cd"[..]));
        assert_eq!(r.u32(), None);
        let mut r = Reader::new(&[1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!((r.u32(), r.u64()), (Some(1), Some(2)));
        assert_eq!(r.skip(usize::MAX), None);
    }

    #[test]
    fn writes_refuse_to_run_past_the_end() {
        let mut buf = [0xffu8; 12];
        let mut w = Writer::new(&mut buf);
        w.u32(7).unwrap();
        w.bytes(b"x").unwrap();
        w.align8().unwrap();
        assert_eq!(w.len(), 8);
        assert_eq!(w.u64(1), Err(Full));
        assert_eq!(w.room(), 4);
        assert_eq!(buf[..8], [7, 0, 0, 0, b'x', 0, 0, 0]);
    }
}
