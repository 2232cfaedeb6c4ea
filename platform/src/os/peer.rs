//! Who is at the other end of a Unix socket.

use std::io;
use std::os::unix::net::UnixStream;

/// The effective uid of the process connected to `stream`: SO_PEERCRED on Linux, `getpeereid`
/// on macOS.
pub fn peer_uid(stream: &UnixStream) -> io::Result<u32> {
    #[cfg(target_os = "linux")]
    {
        Ok(rustix::net::sockopt::socket_peercred(stream)?.uid.as_raw())
    }
    #[cfg(target_os = "macos")]
    {
        use std::os::fd::AsFd;
        crate::sys::macos::peer::peer_uid(stream.as_fd())
    }
}
