//! macOS calls with no safe wrapper in rustix or std. Every block states why it is sound.

pub mod clone;
pub mod flags;
pub mod groups;
pub mod node;
pub mod peer;
pub mod proc;
pub mod unmount;

use std::ffi::{CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;

/// `name` as a C string (a NUL inside is EINVAL).
fn c_name(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// The result of a libc call that returns 0 or -1 with errno.
fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}
