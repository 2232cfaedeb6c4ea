//! Loading WinFsp's DLL. agentfs links it with delay loading; WinFsp installs it in its own
//! directory (`InstallDir\bin`, from the registry), which is not on PATH, so it is loaded from
//! there before first use.

use super::{io_err, wide};
use std::ffi::OsStr;
use std::io;
use windows::Win32::System::LibraryLoader::LoadLibraryW;
use windows::Win32::System::Registry::{HKEY_LOCAL_MACHINE, RRF_RT_REG_SZ, RegGetValueW};
use windows::core::PCWSTR;

/// The DLL for this architecture.
fn dll_name() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "winfsp-a64.dll"
    } else if cfg!(target_arch = "x86") {
        "winfsp-x86.dll"
    } else {
        "winfsp-x64.dll"
    }
}

/// WinFsp's install directory, from `HKLM\SOFTWARE\WOW6432Node\WinFsp\InstallDir`.
pub fn install_dir() -> io::Result<String> {
    let key = wide(OsStr::new(r"SOFTWARE\WOW6432Node\WinFsp"));
    let value = wide(OsStr::new("InstallDir"));
    let mut buf = vec![0u16; 1024];
    let mut size = (buf.len() * 2) as u32;
    // SAFETY: both names are NUL-terminated and outlive the call; the buffer is writable for
    // `size` bytes, which the call is given and updates.
    let r = unsafe {
        RegGetValueW(
            HKEY_LOCAL_MACHINE,
            PCWSTR(key.as_ptr()),
            PCWSTR(value.as_ptr()),
            RRF_RT_REG_SZ,
            None,
            Some(buf.as_mut_ptr().cast()),
            Some(&mut size),
        )
    };
    if r.is_err() {
        return Err(io::Error::new(io::ErrorKind::NotFound, "WinFsp is not installed (no InstallDir in the registry)"));
    }
    let len = buf.iter().position(|c| *c == 0).unwrap_or(buf.len());
    Ok(String::from_utf16_lossy(&buf[..len]))
}

/// Loads WinFsp's DLL from its install directory (or, failing that, from the DLL search path).
pub fn load_winfsp() -> io::Result<()> {
    let from_install = install_dir().map(|d| format!(r"{}\bin\{}", d.trim_end_matches('\\'), dll_name()));
    for path in from_install.into_iter().chain(std::iter::once(dll_name().to_string())) {
        let w = wide(OsStr::new(&path));
        // SAFETY: `w` is NUL-terminated and outlives the call; a loaded module stays loaded for
        // the life of the process, as the delay-load stubs need.
        if unsafe { LoadLibraryW(PCWSTR(w.as_ptr())) }.map_err(io_err).is_ok() {
            return Ok(());
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        "WinFsp is not installed: install it from https://winfsp.dev (winget install WinFsp.WinFsp)",
    ))
}
