//! Named pipes: the control channel of a Windows daemon.

use super::wide;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::windows::io::{FromRawHandle, OwnedHandle};
use windows::Win32::Foundation::{ERROR_PIPE_CONNECTED, INVALID_HANDLE_VALUE};
use windows::Win32::Storage::FileSystem::PIPE_ACCESS_DUPLEX;
use windows::Win32::System::Pipes::{
    ConnectNamedPipe, CreateNamedPipeW, PIPE_READMODE_BYTE, PIPE_REJECT_REMOTE_CLIENTS, PIPE_TYPE_BYTE,
    PIPE_UNLIMITED_INSTANCES, PIPE_WAIT,
};
use windows::core::PCWSTR;

/// Makes a new instance of the pipe `name` (`\\.\pipe\...`), waits for a client, and returns
/// the connection. Remote clients are refused; the pipe's default security lets only its
/// creator, administrators and LocalSystem write to it.
pub fn accept(name: &str) -> io::Result<File> {
    let w = wide(OsStr::new(name));
    // SAFETY: `w` is NUL-terminated and outlives the call; no security attributes are passed.
    let h = unsafe {
        CreateNamedPipeW(
            PCWSTR(w.as_ptr()),
            PIPE_ACCESS_DUPLEX,
            PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
            PIPE_UNLIMITED_INSTANCES,
            64 * 1024,
            64 * 1024,
            0,
            None,
        )
    };
    if h == INVALID_HANDLE_VALUE || h.is_invalid() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `h` is a valid pipe handle nobody else owns; the OwnedHandle closes it once.
    let owned = unsafe { OwnedHandle::from_raw_handle(h.0) };
    // SAFETY: the handle is open (owned above) for the call; no overlapped I/O.
    match unsafe { ConnectNamedPipe(h, None) } {
        Ok(()) => {}
        // The client connected between CreateNamedPipe and ConnectNamedPipe.
        Err(e) if e.code() == ERROR_PIPE_CONNECTED.to_hresult() => {}
        Err(e) => return Err(super::io_err(e)),
    }
    Ok(File::from(owned))
}
