//! Unmounting (`unmount(2)`).

use super::check;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Unmounts the filesystem at `path`; `force` unmounts even while files are open in it (the
/// closest macOS has to Linux's lazy detach).
pub fn unmount(path: &Path, force: bool) -> io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let flags = if force { libc::MNT_FORCE } else { 0 };
    // SAFETY: `c` is a valid C string for the length of the call.
    check(unsafe { libc::unmount(c.as_ptr(), flags) })
}
