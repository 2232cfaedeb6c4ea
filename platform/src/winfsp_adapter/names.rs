//! Windows paths (UTF-16, `\`-separated, as WinFsp passes them) to engine names and back.

use super::status::{NtStatus, Result};
use std::cmp::Ordering;
use std::ffi::{OsStr, OsString};

const BACKSLASH: u16 = b'\\' as u16;

/// The components of a WinFsp path (`\`, `\a`, `\a\b`); the root has none. An empty component
/// or a character Windows forbids in names is STATUS_OBJECT_NAME_INVALID.
pub fn components(path: &[u16]) -> Result<Vec<OsString>> {
    let path = path.strip_prefix(&[BACKSLASH]).unwrap_or(path);
    if path.is_empty() {
        return Ok(Vec::new());
    }
    path.split(|c| *c == BACKSLASH).map(component).collect()
}

/// Characters Windows never allows in a name (besides controls and `\`).
const FORBIDDEN: [u16; 8] =
    [b'/' as u16, b':' as u16, b'*' as u16, b'?' as u16, b'"' as u16, b'<' as u16, b'>' as u16, b'|' as u16];

fn component(c: &[u16]) -> Result<OsString> {
    if c.is_empty() || c.iter().any(|ch| *ch < 32 || FORBIDDEN.contains(ch)) {
        return Err(NtStatus::OBJECT_NAME_INVALID);
    }
    from_wide(c)
}

/// The parent path and last name of a path; the root has no parent (INVALID_PARAMETER).
pub fn split(path: &[u16]) -> Result<(Vec<OsString>, OsString)> {
    let mut c = components(path)?;
    let name = c.pop().ok_or(NtStatus::INVALID_PARAMETER)?;
    Ok((c, name))
}

/// A name from UTF-16 (unpaired surrogates are invalid where the host cannot keep them).
pub fn from_wide(w: &[u16]) -> Result<OsString> {
    #[cfg(windows)]
    {
        Ok(std::os::windows::ffi::OsStringExt::from_wide(w))
    }
    #[cfg(not(windows))]
    {
        String::from_utf16(w).map(OsString::from).map_err(|_| NtStatus::OBJECT_NAME_INVALID)
    }
}

/// A name as UTF-16.
pub fn to_wide(s: &OsStr) -> Vec<u16> {
    #[cfg(windows)]
    {
        std::os::windows::ffi::OsStrExt::encode_wide(s).collect()
    }
    #[cfg(not(windows))]
    {
        s.to_string_lossy().encode_utf16().collect()
    }
}

/// A WinFsp path from components.
pub fn join(components: &[OsString]) -> Vec<u16> {
    let mut out = vec![BACKSLASH];
    for (i, c) in components.iter().enumerate() {
        if i > 0 {
            out.push(BACKSLASH);
        }
        out.extend(to_wide(c));
    }
    out
}

/// The sort key of a name: its UTF-16 units, upper-cased when names are compared without case
/// (an approximation of NTFS's upcase table: each character's simple upper case).
pub fn key(name: &[u16], ignore_case: bool) -> Vec<u16> {
    if !ignore_case {
        return name.to_vec();
    }
    let mut out = Vec::with_capacity(name.len());
    for ch in char::decode_utf16(name.iter().copied()) {
        match ch {
            Ok(c) => {
                let mut up = c.to_uppercase();
                let u = if up.len() == 1 { up.next().unwrap_or(c) } else { c };
                let mut buf = [0u16; 2];
                out.extend_from_slice(u.encode_utf16(&mut buf));
            }
            Err(e) => out.push(e.unpaired_surrogate()),
        }
    }
    out
}

/// Whether two names are the same name on this volume.
pub fn same(a: &OsStr, b: &OsStr, ignore_case: bool) -> bool {
    a == b || (ignore_case && key(&to_wide(a), true) == key(&to_wide(b), true))
}

/// Orders names as a listing returns them.
pub fn compare(a: &[u16], b: &[u16], ignore_case: bool) -> Ordering {
    key(a, ignore_case).cmp(&key(b, ignore_case))
}
