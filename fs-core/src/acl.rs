//! POSIX access control lists, stored as the `system.posix_acl_access` and
//! `system.posix_acl_default` extended attributes in Linux's format (a version word, then
//! 8-byte entries: tag, permissions, id; all little-endian).
//!
//! A kernel that checks permissions itself (FUSE with POSIX_ACL and default_permissions) reads
//! and writes these attributes but leaves the rest to the filesystem, as every Linux filesystem
//! does it: the mode bits follow an access ACL, chmod changes the ACL, and a new object in a
//! directory with a default ACL inherits it (instead of having the umask applied).

use crate::errno::{Errno, Result};

pub const ACCESS_XATTR: &[u8] = b"system.posix_acl_access";
pub const DEFAULT_XATTR: &[u8] = b"system.posix_acl_default";

const VERSION: u32 = 2;
const USER_OBJ: u16 = 0x01;
const USER: u16 = 0x02;
const GROUP_OBJ: u16 = 0x04;
const GROUP: u16 = 0x08;
const MASK: u16 = 0x10;
const OTHER: u16 = 0x20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    tag: u16,
    perm: u16,
    id: u32,
}

/// A parsed ACL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acl {
    entries: Vec<Entry>,
}

impl Acl {
    /// Parses an ACL attribute value; EINVAL if it is not one.
    pub fn parse(value: &[u8]) -> Result<Acl> {
        let (head, body) = value.split_first_chunk::<4>().ok_or(Errno::EINVAL)?;
        if u32::from_le_bytes(*head) != VERSION || body.len() % 8 != 0 {
            return Err(Errno::EINVAL);
        }
        let entries = body
            .chunks_exact(8)
            .map(|c| Entry {
                tag: u16::from_le_bytes([c[0], c[1]]),
                perm: u16::from_le_bytes([c[2], c[3]]),
                id: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect::<Vec<_>>();
        let count = |tag| entries.iter().filter(|e| e.tag == tag).count();
        let named = count(USER) + count(GROUP);
        let valid = entries
            .iter()
            .all(|e| e.perm & !7 == 0 && [USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER].contains(&e.tag))
            && (entries.is_empty()
                || (count(USER_OBJ) == 1 && count(GROUP_OBJ) == 1 && count(OTHER) == 1 && count(MASK) <= 1))
            && (named == 0 || count(MASK) == 1);
        if !valid {
            return Err(Errno::EINVAL);
        }
        Ok(Acl { entries })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = VERSION.to_le_bytes().to_vec();
        for e in &self.entries {
            out.extend_from_slice(&e.tag.to_le_bytes());
            out.extend_from_slice(&e.perm.to_le_bytes());
            out.extend_from_slice(&e.id.to_le_bytes());
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn perm_of(&self, tag: u16) -> Option<u16> {
        self.entries.iter().find(|e| e.tag == tag).map(|e| e.perm)
    }

    /// Whether the mode bits say everything this ACL says (no named entries, no mask).
    pub fn is_equivalent_to_mode(&self) -> bool {
        self.entries.iter().all(|e| matches!(e.tag, USER_OBJ | GROUP_OBJ | OTHER))
    }

    /// The permission bits (0o777) an access ACL gives the mode: owner, mask (or owning group),
    /// other.
    pub fn mode_bits(&self) -> u16 {
        let owner = self.perm_of(USER_OBJ).unwrap_or(0);
        let group = self.perm_of(MASK).or_else(|| self.perm_of(GROUP_OBJ)).unwrap_or(0);
        let other = self.perm_of(OTHER).unwrap_or(0);
        (owner << 6) | (group << 3) | other
    }

    /// What chmod does to an access ACL: owner, mask (or owning group) and other take the new
    /// mode's bits.
    pub fn chmod(&mut self, perm: u16) {
        let has_mask = self.perm_of(MASK).is_some();
        for e in &mut self.entries {
            match e.tag {
                USER_OBJ => e.perm = (perm >> 6) & 7,
                MASK => e.perm = (perm >> 3) & 7,
                GROUP_OBJ if !has_mask => e.perm = (perm >> 3) & 7,
                OTHER => e.perm = perm & 7,
                _ => {}
            }
        }
    }

    /// A new object's access ACL from its directory's default ACL (`self`) and the mode it was
    /// created with (Linux's posix_acl_create): the ACL's owner, group class and other entries
    /// are limited by the mode and the mode by them. Returns the new permission bits (the
    /// set-id and sticky bits of `perm` kept) and the access ACL, if the mode bits do not say
    /// it all.
    pub fn inherit(&self, perm: u16) -> (u16, Option<Acl>) {
        let mut acl = self.clone();
        let mut mode = perm;
        let has_mask = acl.perm_of(MASK).is_some();
        for e in &mut acl.entries {
            match e.tag {
                USER_OBJ => {
                    e.perm &= (mode >> 6) & 7;
                    mode &= (e.perm << 6) | !0o700;
                }
                OTHER => {
                    e.perm &= mode & 7;
                    mode &= e.perm | !0o007;
                }
                MASK | GROUP_OBJ if (e.tag == MASK) == has_mask => {
                    e.perm &= (mode >> 3) & 7;
                    mode &= (e.perm << 3) | !0o070;
                }
                _ => {}
            }
        }
        let equivalent = acl.is_equivalent_to_mode();
        (mode, (!equivalent).then_some(acl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(entries: &[(u16, u16, u32)]) -> Acl {
        Acl { entries: entries.iter().map(|&(tag, perm, id)| Entry { tag, perm, id }).collect() }
    }

    #[test]
    fn round_trips_and_rejects_what_is_not_an_acl() {
        let a = acl(&[(USER_OBJ, 7, 0), (USER, 5, 1000), (GROUP_OBJ, 5, 0), (MASK, 7, 0), (OTHER, 1, 0)]);
        assert_eq!(Acl::parse(&a.to_bytes()).unwrap(), a);
        assert_eq!(Acl::parse(b"xx"), Err(Errno::EINVAL));
        let mut bad = a.to_bytes();
        bad[0] = 1;
        assert_eq!(Acl::parse(&bad), Err(Errno::EINVAL), "wrong version");
        let no_mask = acl(&[(USER_OBJ, 7, 0), (USER, 5, 1000), (GROUP_OBJ, 5, 0), (OTHER, 1, 0)]);
        assert_eq!(Acl::parse(&no_mask.to_bytes()), Err(Errno::EINVAL), "named entries need a mask");
    }

    #[test]
    fn mode_bits_follow_owner_mask_and_other_and_chmod_changes_them() {
        let mut a = acl(&[(USER_OBJ, 6, 0), (USER, 7, 1000), (GROUP_OBJ, 4, 0), (MASK, 5, 0), (OTHER, 0, 0)]);
        assert_eq!(a.mode_bits(), 0o650);
        assert!(!a.is_equivalent_to_mode());
        a.chmod(0o741);
        assert_eq!(a.mode_bits(), 0o741);
        assert_eq!(a.perm_of(GROUP_OBJ), Some(4), "with a mask, chmod changes the mask, not the group");
        assert!(acl(&[(USER_OBJ, 6, 0), (GROUP_OBJ, 4, 0), (OTHER, 4, 0)]).is_equivalent_to_mode());
    }

    #[test]
    fn new_objects_inherit_the_default_acl_limited_by_their_mode() {
        let default = acl(&[(USER_OBJ, 7, 0), (USER, 7, 1000), (GROUP_OBJ, 5, 0), (MASK, 7, 0), (OTHER, 5, 0)]);
        let (mode, access) = default.inherit(0o644);
        assert_eq!(mode, 0o644);
        let access = access.unwrap();
        assert_eq!(access.perm_of(MASK), Some(4));
        assert_eq!(access.perm_of(USER), Some(7), "named entries are kept, the mask limits them");
        let plain = acl(&[(USER_OBJ, 7, 0), (GROUP_OBJ, 5, 0), (OTHER, 0, 0)]);
        let (mode, access) = plain.inherit(0o4777);
        assert_eq!((mode, access), (0o4750, None), "an ACL the mode says all of is not stored");
    }
}
