//! Calls on the /dev/fuse device of a session that fuser has no safe form of: closing a
//! passthrough backing file by its id, and answering an OPEN or CREATE with one.

use fuser::{FileAttr, FileHandle, FopenFlags, Generation, ReplyCreate, ReplyOpen};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

/// FUSE_DEV_IOC_BACKING_CLOSE: `_IOW(229, 2, uint32_t)` (include/uapi/linux/fuse.h).
const BACKING_CLOSE: libc::c_ulong = 0x4004_e502;

/// Closes backing file `id` of the session whose device is `dev`.
pub fn backing_close(dev: BorrowedFd<'_>, id: u32) -> std::io::Result<()> {
    // SAFETY: the ioctl reads one u32 from the pointer, which points to a live local for the
    // duration of the call; `dev` is an open fd.
    let r = unsafe { libc::ioctl(dev.as_raw_fd(), BACKING_CLOSE as _, &id as *const u32) };
    if r < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
}

/// Answers an OPEN with backing file `id`, which the caller keeps open (and closes with
/// [`backing_close`]) for as long as the kernel may use it.
pub fn opened_passthrough(reply: ReplyOpen, fh: u64, flags: FopenFlags, id: u32) {
    // SAFETY: `id` was returned by FUSE_DEV_IOC_BACKING_OPEN on this session's device and stays
    // open while the wrapper lives; `into_raw` takes it back so the wrapper never closes it.
    let backing = unsafe { reply.wrap_backing(id) };
    reply.opened_passthrough(FileHandle(fh), flags, &backing);
    let _ = backing.into_raw();
}

/// Answers a CREATE with backing file `id`, as [`opened_passthrough`].
pub fn created_passthrough(
    reply: ReplyCreate,
    entry: (&Duration, &FileAttr, Generation),
    fh: u64,
    flags: FopenFlags,
    id: u32,
) {
    // SAFETY: as in `opened_passthrough`.
    let backing = unsafe { reply.wrap_backing(id) };
    reply.created_passthrough(entry.0, entry.1, entry.2, FileHandle(fh), flags, &backing);
    let _ = backing.into_raw();
}
