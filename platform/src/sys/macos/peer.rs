//! The identity of the process at the other end of a Unix socket.

use super::check;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The effective uid of the peer of the connected Unix socket `fd` (`getpeereid`).
pub fn peer_uid(fd: BorrowedFd<'_>) -> io::Result<u32> {
    let (mut uid, mut gid) = (0, 0);
    // SAFETY: both out-pointers are valid for writes; the descriptor is open for the call.
    check(unsafe { libc::getpeereid(fd.as_raw_fd(), &mut uid, &mut gid) })?;
    Ok(uid)
}
