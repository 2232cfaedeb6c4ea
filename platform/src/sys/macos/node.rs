//! Special files (FIFOs, sockets, device nodes) by name in a directory.

use super::{c_name, check};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `mknodat(dir, name, mode, dev)`; `mode` carries the type bits (S_IFIFO, S_IFCHR...).
pub fn mknodat(dir: BorrowedFd<'_>, name: &OsStr, mode: u32, dev: u64) -> io::Result<()> {
    let name = c_name(name)?;
    let mode = libc::mode_t::try_from(mode).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let dev = libc::dev_t::try_from(dev).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: the descriptor is open for the call and `name` is a valid C string.
    check(unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode, dev) })
}
