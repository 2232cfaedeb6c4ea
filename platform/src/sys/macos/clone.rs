//! APFS clones (`fclonefileat(2)`): a new file sharing the data blocks of another.

use super::{c_name, check};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Do not follow a symlink as the source.
const CLONE_NOFOLLOW: u32 = 0x0001;
/// The clone belongs to the caller, not to the source's owner.
const CLONE_NOOWNERCOPY: u32 = 0x0002;

/// Clones the open file `src` to the new name `name` in `dst_dir` (which must not exist). The
/// clone gets the source's data, mode, times, flags and extended attributes; its owner is the
/// source's only when `keep_owner` (and the caller may give files away).
pub fn fclonefileat(src: BorrowedFd<'_>, dst_dir: BorrowedFd<'_>, name: &OsStr, keep_owner: bool) -> io::Result<()> {
    let name = c_name(name)?;
    let flags = CLONE_NOFOLLOW | if keep_owner { 0 } else { CLONE_NOOWNERCOPY };
    // SAFETY: both descriptors are open for the length of the call and `name` is a valid C string.
    check(unsafe { libc::fclonefileat(src.as_raw_fd(), dst_dir.as_raw_fd(), name.as_ptr(), flags) })
}
