//! Security descriptors: SDDL to binary, the user's SID, and the raw buffers WinFsp passes.

use super::{io_err, wide};
use std::ffi::{OsStr, c_void};
use std::io;
use windows::Win32::Foundation::{CloseHandle, HANDLE, HLOCAL, LocalFree};
use windows::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows::Win32::Security::{
    GetSecurityDescriptorLength, GetTokenInformation, PSECURITY_DESCRIPTOR, TOKEN_QUERY, TOKEN_USER, TokenUser,
};
use windows::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
use windows::core::{PCWSTR, PWSTR};

/// The self-relative binary form of the descriptor `sddl`.
pub fn from_sddl(sddl: &str) -> io::Result<Vec<u8>> {
    let w = wide(OsStr::new(sddl));
    let mut sd = PSECURITY_DESCRIPTOR::default();
    // SAFETY: `w` is NUL-terminated and outlives the call; `sd` is a valid place for the
    // pointer the call allocates (freed below with LocalFree).
    unsafe { ConvertStringSecurityDescriptorToSecurityDescriptorW(PCWSTR(w.as_ptr()), SDDL_REVISION_1, &mut sd, None) }
        .map_err(io_err)?;
    // SAFETY: `sd` points to a valid self-relative descriptor the call made.
    let len = unsafe { GetSecurityDescriptorLength(sd) } as usize;
    // SAFETY: the descriptor is `len` bytes long and stays allocated until LocalFree below.
    let bytes = unsafe { std::slice::from_raw_parts(sd.0 as *const u8, len) }.to_vec();
    // SAFETY: `sd` was allocated by the conversion call with LocalAlloc and is freed once.
    unsafe { LocalFree(Some(HLOCAL(sd.0))) };
    Ok(bytes)
}

/// The bytes of a descriptor WinFsp passes as a raw buffer (its length is the descriptor's).
pub fn descriptor_bytes(sd: &[c_void]) -> Vec<u8> {
    if sd.is_empty() {
        return Vec::new();
    }
    // SAFETY: WinFsp passes a valid self-relative descriptor; its length is read from it and
    // bytes are only read within it.
    let len = unsafe { GetSecurityDescriptorLength(PSECURITY_DESCRIPTOR(sd.as_ptr().cast_mut())) } as usize;
    // SAFETY: see above: `len` bytes from the start of the descriptor are readable.
    unsafe { std::slice::from_raw_parts(sd.as_ptr().cast::<u8>(), len) }.to_vec()
}

/// Copies `sd` into the buffer WinFsp gave (if it is large enough); returns the size needed.
pub fn write_descriptor(buffer: Option<&mut [c_void]>, sd: &[u8]) -> u64 {
    if let Some(buf) = buffer {
        if buf.len() >= sd.len() {
            // SAFETY: the buffer is writable for `buf.len()` bytes, at least `sd.len()`, and
            // does not overlap `sd` (ours).
            unsafe { std::ptr::copy_nonoverlapping(sd.as_ptr(), buf.as_mut_ptr().cast::<u8>(), sd.len()) };
        }
    }
    sd.len() as u64
}

/// Merges `modification` (what SetSecurity asks to change, for `info`) into `old`; returns the
/// new self-relative descriptor.
pub fn merge(old: &[u8], info: u32, modification: &winfsp::filesystem::ModificationDescriptor) -> io::Result<Vec<u8>> {
    let modification = modification.as_mut_ptr();
    let mut new: winfsp_sys::PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: `old` is a valid descriptor (ours, made by from_sddl or kept from Windows) that
    // the call only reads; `modification` is the descriptor WinFsp passed for this request;
    // `new` is a valid place for the descriptor the call allocates (freed below).
    let status =
        unsafe { winfsp_sys::FspSetSecurityDescriptor(old.as_ptr() as *mut c_void, info, modification, &mut new) };
    if status != 0 || new.is_null() {
        return Err(io::Error::other(format!("FspSetSecurityDescriptor failed: {status:#x}")));
    }
    // SAFETY: `new` is a valid self-relative descriptor the call made.
    let len = unsafe { GetSecurityDescriptorLength(PSECURITY_DESCRIPTOR(new)) } as usize;
    // SAFETY: `new` is `len` bytes long and stays allocated until it is deleted below.
    let bytes = unsafe { std::slice::from_raw_parts(new as *const u8, len) }.to_vec();
    // SAFETY: `new` came from FspSetSecurityDescriptor and is given back to its deleter once;
    // the second argument names the function that made it, as WinFsp requires.
    unsafe {
        winfsp_sys::FspDeleteSecurityDescriptor(
            new,
            Some(std::mem::transmute::<
                unsafe extern "C" fn(
                    winfsp_sys::PSECURITY_DESCRIPTOR,
                    u32,
                    winfsp_sys::PSECURITY_DESCRIPTOR,
                    *mut winfsp_sys::PSECURITY_DESCRIPTOR,
                ) -> i32,
                unsafe extern "C" fn() -> i32,
            >(winfsp_sys::FspSetSecurityDescriptor)),
        )
    };
    Ok(bytes)
}

/// The SID (string form, `S-1-5-21-...`) of the user this process runs as.
pub fn current_user_sid() -> io::Result<String> {
    let mut token = HANDLE::default();
    // SAFETY: GetCurrentProcess returns a pseudo-handle; `token` is a valid place for the
    // token handle, closed below.
    unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) }.map_err(io_err)?;
    let mut buf = vec![0u8; 256];
    let mut len = 0u32;
    // SAFETY: the token is open; the buffer is writable for its length, which is given.
    let got =
        unsafe { GetTokenInformation(token, TokenUser, Some(buf.as_mut_ptr().cast()), buf.len() as u32, &mut len) };
    // SAFETY: the token handle is closed once.
    let _ = unsafe { CloseHandle(token) };
    got.map_err(io_err)?;
    if (len as usize) < std::mem::size_of::<TOKEN_USER>() {
        return Err(io::Error::other("no token user"));
    }
    // SAFETY: the call wrote a TOKEN_USER at the start of `buf` (at least its size, checked);
    // read_unaligned copes with the Vec's alignment.
    let user: TOKEN_USER = unsafe { std::ptr::read_unaligned(buf.as_ptr().cast()) };
    let mut s = PWSTR::null();
    // SAFETY: user.User.Sid points into `buf`, still alive; `s` receives a LocalAlloc'd string.
    unsafe { ConvertSidToStringSidW(user.User.Sid, &mut s) }.map_err(io_err)?;
    // SAFETY: `s` is a NUL-terminated string the call made; it is read, then freed once.
    let out = unsafe { s.to_string() }.map_err(|e| io::Error::other(e.to_string()));
    // SAFETY: see above.
    unsafe { LocalFree(Some(HLOCAL(s.0.cast()))) };
    out
}

/// Makes the directory `path` with a descriptor that lets in only the current user,
/// LocalSystem and administrators (and what is made in it inherits that): a Unix 0700.
pub fn create_private_dir(path: &std::path::Path) -> io::Result<()> {
    let sid = current_user_sid()?;
    let mut sd = from_sddl(&format!("D:P(A;OICI;FA;;;{sid})(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"))?;
    let attrs = windows::Win32::Security::SECURITY_ATTRIBUTES {
        nLength: std::mem::size_of::<windows::Win32::Security::SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: sd.as_mut_ptr().cast(),
        bInheritHandle: windows::core::BOOL(0),
    };
    let w = wide(path.as_os_str());
    // SAFETY: `w` is NUL-terminated; `attrs` and the descriptor bytes it points to (a valid
    // self-relative descriptor) outlive the call, which only reads them.
    unsafe { windows::Win32::Storage::FileSystem::CreateDirectoryW(PCWSTR(w.as_ptr()), Some(&attrs)) }.map_err(io_err)
}
