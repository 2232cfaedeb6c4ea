//! Symlinks as Windows sees them: reparse points with the tag `IO_REPARSE_TAG_SYMLINK` and a
//! `REPARSE_DATA_BUFFER` holding the target.
//!
//! Layout (little-endian): tag u32, data length u16, reserved u16, then substitute name offset,
//! substitute name length, print name offset, print name length (u16 each, in bytes, relative
//! to the path buffer), flags u32 (1: relative), and the path buffer (UTF-16).

use super::info::IO_REPARSE_TAG_SYMLINK;
use super::status::{NtStatus, Result};

const SYMLINK_FLAG_RELATIVE: u32 = 1;
const HEADER: usize = 8;
const SYMLINK_FIELDS: usize = 12;
/// The NT prefix of an absolute substitute name.
const NT_PREFIX: [u16; 4] = [b'\\' as u16, b'?' as u16, b'?' as u16, b'\\' as u16];

/// Whether a Windows target names a place by itself (`C:\...`, `\\server\...`) rather than
/// relative to the link.
fn is_absolute(t: &[u16]) -> bool {
    let bs = b'\\' as u16;
    (t.len() >= 3 && t[1] == b':' as u16 && t[2] == bs) || t.starts_with(&[bs, bs])
}

/// The Windows form of a symlink target kept as bytes: `/` becomes `\`.
pub fn target_to_wide(target: &[u8]) -> Vec<u16> {
    String::from_utf8_lossy(target).replace('/', "\\").encode_utf16().collect()
}

/// The reparse buffer of a symlink to `target` (the engine's bytes).
pub fn symlink_buffer(target: &[u8]) -> Vec<u8> {
    let print = target_to_wide(target);
    let absolute = is_absolute(&print);
    let subst: Vec<u16> =
        if absolute { NT_PREFIX.iter().chain(print.iter()).copied().collect() } else { print.clone() };
    let (subst_len, print_len) = (subst.len() * 2, print.len() * 2);
    let data_len = SYMLINK_FIELDS + subst_len + print_len;
    let mut b = Vec::with_capacity(HEADER + data_len);
    b.extend_from_slice(&IO_REPARSE_TAG_SYMLINK.to_le_bytes());
    b.extend_from_slice(&(data_len as u16).to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    for v in [0, subst_len, subst_len, print_len] {
        b.extend_from_slice(&(v as u16).to_le_bytes());
    }
    b.extend_from_slice(&(if absolute { 0 } else { SYMLINK_FLAG_RELATIVE }).to_le_bytes());
    for u in subst.iter().chain(print.iter()) {
        b.extend_from_slice(&u.to_le_bytes());
    }
    b
}

fn u16_at(b: &[u8], at: usize) -> Result<usize> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]) as usize).ok_or(NtStatus::IO_REPARSE_DATA_INVALID)
}

/// The target (as the engine keeps it: UTF-8 bytes) of a symlink reparse buffer. Any other tag
/// or a malformed buffer is STATUS_IO_REPARSE_DATA_INVALID.
pub fn parse_symlink(b: &[u8]) -> Result<Vec<u8>> {
    let tag = b.get(..4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]));
    if tag != Some(IO_REPARSE_TAG_SYMLINK) || b.len() < HEADER + SYMLINK_FIELDS {
        return Err(NtStatus::IO_REPARSE_DATA_INVALID);
    }
    let (subst_off, subst_len) = (u16_at(b, 8)?, u16_at(b, 10)?);
    let (print_off, print_len) = (u16_at(b, 12)?, u16_at(b, 14)?);
    let path = &b[HEADER + SYMLINK_FIELDS..];
    let slice = |off: usize, len: usize| -> Result<Vec<u16>> {
        let bytes = path.get(off..off + len).filter(|s| s.len() % 2 == 0).ok_or(NtStatus::IO_REPARSE_DATA_INVALID)?;
        Ok(bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect())
    };
    let mut name = slice(print_off, print_len)?;
    if name.is_empty() {
        name = slice(subst_off, subst_len)?;
        if let Some(rest) = name.strip_prefix(&NT_PREFIX[..]) {
            name = rest.to_vec();
        }
    }
    if name.is_empty() {
        return Err(NtStatus::IO_REPARSE_DATA_INVALID);
    }
    String::from_utf16(&name).map(String::into_bytes).map_err(|_| NtStatus::IO_REPARSE_DATA_INVALID)
}
