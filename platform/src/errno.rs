//! Host error numbers to the engine's (Linux-numbered) [`Errno`] and back. The tables are in
//! [`crate::fuse::host`], with every other per-OS number.

use crate::fuse::host;
use agentfs_core::Errno;

/// Converts a host errno value.
pub fn from_raw(raw: i32) -> Errno {
    host::errno_from_host(raw)
}

/// The host's value of an engine error (for replies to the kernel).
pub fn to_host(e: Errno) -> i32 {
    host::errno_to_host(e)
}

/// Converts a rustix error.
pub fn from_rustix(e: rustix::io::Errno) -> Errno {
    from_raw(e.raw_os_error())
}

/// Converts a std I/O error (EIO if it carries no OS error).
pub fn from_io(e: &std::io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, from_raw)
}
