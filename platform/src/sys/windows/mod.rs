//! Windows calls with no safe wrapper in std. Every block states why it is sound.

pub mod console;
pub mod dll;
pub mod file;
pub mod pipe;
pub mod process;
pub mod refs;
pub mod security;
pub mod volume;

use std::ffi::OsStr;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::AsRawHandle;

/// A NUL-terminated UTF-16 copy of `s`.
fn wide(s: &OsStr) -> Vec<u16> {
    s.encode_wide().chain(std::iter::once(0)).collect()
}

/// The raw handle of an open std object, as the `windows` crate takes it.
fn handle(h: &impl AsRawHandle) -> windows::Win32::Foundation::HANDLE {
    windows::Win32::Foundation::HANDLE(h.as_raw_handle())
}

/// An I/O error for a `windows` crate error (its Win32 code).
fn io_err(e: windows::core::Error) -> std::io::Error {
    std::io::Error::from_raw_os_error(e.code().0 & 0xFFFF)
}
