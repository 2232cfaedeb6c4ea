//! BSD file flags (`chflags`): the user immutable flag that seals snapshots.

use super::check;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Sets or clears the user immutable flag (`uchg`, which the owner may set and clear) on `fd`,
/// keeping its other flags (`flags` is its current `st_flags`).
pub fn set_user_immutable(fd: BorrowedFd<'_>, flags: u32, on: bool) -> io::Result<()> {
    let new = if on { flags | libc::UF_IMMUTABLE } else { flags & !libc::UF_IMMUTABLE };
    // SAFETY: fchflags reads nothing from memory; the descriptor is open for the call.
    check(unsafe { libc::fchflags(fd.as_raw_fd(), new) })
}
