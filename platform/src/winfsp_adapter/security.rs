//! Security descriptors: what WinFsp checks every access against.
//!
//! A node whose descriptor Windows set (at create, or with SetSecurity) keeps it, in the xattr
//! [`SECURITY_XATTR`], as the self-relative binary Windows gave. Any other node gets one made
//! from its mode, in SDDL: the mounting user owns everything; the owner bits become that user's
//! rights (plus the owner's standing rights: read and change the descriptor, delete), the group
//! bits those of BUILTIN\Users, the other bits those of Everyone, and LocalSystem may do
//! anything. The Windows binding turns SDDL into binary.

use agentfs_core::{Attr, FileKind};

/// The xattr of a node's own security descriptor.
pub const SECURITY_XATTR: &[u8] = b"user.agentfs.security";

const FILE_READ_DATA: u32 = 0x0001;
const FILE_WRITE_DATA: u32 = 0x0002;
const FILE_APPEND_DATA: u32 = 0x0004;
const FILE_READ_EA: u32 = 0x0008;
const FILE_WRITE_EA: u32 = 0x0010;
const FILE_EXECUTE: u32 = 0x0020;
const FILE_DELETE_CHILD: u32 = 0x0040;
const FILE_READ_ATTRIBUTES: u32 = 0x0080;
const FILE_WRITE_ATTRIBUTES: u32 = 0x0100;
const DELETE: u32 = 0x0001_0000;
const READ_CONTROL: u32 = 0x0002_0000;
const WRITE_DAC: u32 = 0x0004_0000;
const WRITE_OWNER: u32 = 0x0008_0000;
const SYNCHRONIZE: u32 = 0x0010_0000;

/// What anyone who may stat a file may do with it.
const BASE: u32 = FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE;
/// What only the owner may always do.
const OWNER: u32 = DELETE | WRITE_DAC | WRITE_OWNER | FILE_WRITE_ATTRIBUTES;

/// BUILTIN\Users, Everyone, LocalSystem.
pub const USERS_SID: &str = "BU";
pub const EVERYONE_SID: &str = "WD";
pub const SYSTEM_SID: &str = "SY";

/// A node's security descriptor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Descriptor {
    /// Set by Windows: self-relative binary, as it was given.
    Stored(Vec<u8>),
    /// Made from the mode.
    Sddl(String),
}

/// The access mask the `rwx` bits `bits` (0..=7) give on a node of `kind`.
pub fn rights(bits: u16, kind: FileKind) -> u32 {
    let mut m = 0;
    if bits & 4 != 0 {
        m |= FILE_READ_DATA | FILE_READ_EA | BASE;
    }
    if bits & 2 != 0 {
        m |= FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES | BASE;
        if kind == FileKind::Directory {
            m |= FILE_DELETE_CHILD;
        }
    }
    if bits & 1 != 0 {
        m |= FILE_EXECUTE | BASE;
    }
    m
}

/// The descriptor, in SDDL, of a node with attributes `a` owned by `owner_sid`.
pub fn sddl_for(a: &Attr, owner_sid: &str) -> String {
    let owner = rights((a.perm >> 6) & 7, a.kind) | OWNER | BASE;
    let group = rights((a.perm >> 3) & 7, a.kind);
    let other = rights(a.perm & 7, a.kind);
    let mut s = format!("O:{owner_sid}G:{owner_sid}D:P(A;;0x{owner:x};;;{owner_sid})");
    for (mask, sid) in [(group, USERS_SID), (other, EVERYONE_SID)] {
        if mask != 0 {
            s.push_str(&format!("(A;;0x{mask:x};;;{sid})"));
        }
    }
    s.push_str(&format!("(A;;FA;;;{SYSTEM_SID})"));
    s
}

/// The owner bits a POSIX mode should keep for the rights Windows grants: not derived (Windows
/// descriptors say far more than a mode can); a node with a stored descriptor keeps its mode.
pub fn descriptor(a: &Attr, stored: Option<Vec<u8>>, owner_sid: &str) -> Descriptor {
    match stored {
        Some(sd) if !sd.is_empty() => Descriptor::Stored(sd),
        _ => Descriptor::Sddl(sddl_for(a, owner_sid)),
    }
}
