//! Which mounts exist, per OS: the mount table of this thread's namespace on Linux
//! (/proc/thread-self/mountinfo: a thread may have entered a mount namespace of its own), `statfs` on macOS (the mount holding a path), the volume of a path on
//! Windows (a WinFsp volume names its filesystem `agentfs`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// One line of mountinfo. Paths are bytes: any user can make a mount point whose name is not
/// UTF-8, and one such line must not hide the others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry {
    pub mount_point: PathBuf,
    pub fstype: String,
    pub source: OsString,
    /// "major:minor" of the mounted filesystem.
    pub device: String,
    /// The mount's own options (`rw,nosuid,nodev,relatime`; Linux only).
    pub options: String,
    /// The filesystem's own options (for FUSE: user_id=, allow_other...).
    pub super_options: String,
}

/// Undoes the octal escapes of mountinfo (\040 for a space...).
fn unescape(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push(
                (b[i + 1] - b'0').wrapping_mul(64).wrapping_add((b[i + 2] - b'0') * 8).wrapping_add(b[i + 3] - b'0'),
            );
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Parses one line; None if it is malformed.
fn parse_line(line: &[u8]) -> Option<MountEntry> {
    let sep = line.windows(3).position(|w| w == b" - ")?;
    let l: Vec<&[u8]> = line[..sep].split(|b| *b == b' ').collect();
    let r: Vec<&[u8]> = line[sep + 3..].split(|b| *b == b' ').collect();
    Some(MountEntry {
        mount_point: bytes_path(unescape(l.get(4)?)),
        device: String::from_utf8_lossy(l.get(2)?).into_owned(),
        fstype: String::from_utf8_lossy(&unescape(r.first()?)).into_owned(),
        source: bytes_path(unescape(r.get(1)?)).into_os_string(),
        options: String::from_utf8_lossy(l.get(5)?).into_owned(),
        super_options: String::from_utf8_lossy(r.get(2).copied().unwrap_or_default()).into_owned(),
    })
}

/// Parses the bytes of a mountinfo file; malformed lines are skipped.
pub fn parse(text: &[u8]) -> Vec<MountEntry> {
    text.split(|b| *b == b'\n').filter(|l| !l.is_empty()).filter_map(parse_line).collect()
}

#[cfg(unix)]
fn bytes_path(b: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(b))
}

#[cfg(not(unix))]
fn bytes_path(b: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&b).into_owned())
}

/// The current mount table.
#[cfg(target_os = "linux")]
pub fn mounts() -> Vec<MountEntry> {
    match std::fs::read("/proc/thread-self/mountinfo") {
        Ok(t) => parse(&t),
        Err(e) => {
            tracing::warn!(%e, "cannot read /proc/thread-self/mountinfo");
            Vec::new()
        }
    }
}

/// The topmost mount at `path` (which must be canonical).
#[cfg(target_os = "linux")]
pub fn mount_at(path: &Path) -> Option<MountEntry> {
    mounts().into_iter().rev().find(|m| m.mount_point == path)
}

/// The topmost mount at `path` as process `pid` sees it: its mount namespace may not be ours
/// (`agentfs run` without --at mounts in a private one).
#[cfg(target_os = "linux")]
pub fn mount_at_seen_by(pid: u32, path: &Path) -> Option<MountEntry> {
    let table = std::fs::read(format!("/proc/{pid}/mountinfo")).ok()?;
    parse(&table).into_iter().rev().find(|m| m.mount_point == path)
}

/// The mount holding `path` (canonical): the one with the longest mount point above it.
#[cfg(target_os = "linux")]
pub fn mount_containing(path: &Path) -> Option<MountEntry> {
    mounts()
        .into_iter()
        .rev()
        .filter(|m| path.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.as_os_str().len())
}

/// The mount holding `path` (canonical), as `statfs` reports it.
#[cfg(target_os = "macos")]
pub fn mount_containing(path: &Path) -> Option<MountEntry> {
    let (mount_point, fstype, source) = agentfs_platform::os::fs::mount_of(path).ok()?;
    Some(MountEntry {
        mount_point,
        fstype,
        source: source.into(),
        device: String::new(),
        options: String::new(),
        super_options: String::new(),
    })
}

/// The mount at `path` (canonical), if a filesystem is mounted right there.
#[cfg(target_os = "macos")]
pub fn mount_at(path: &Path) -> Option<MountEntry> {
    mount_containing(path).filter(|m| m.mount_point == path)
}

/// The volume of `path` (a drive letter's root, or a directory mount point), if it is a mounted
/// filesystem.
#[cfg(windows)]
pub fn mount_at(path: &Path) -> Option<MountEntry> {
    let fstype = agentfs_platform::sys::windows::volume::filesystem_name(path).ok()?;
    Some(MountEntry {
        mount_point: path.to_path_buf(),
        fstype,
        source: OsString::new(),
        device: String::new(),
        options: String::new(),
        super_options: String::new(),
    })
}

/// The volume holding `path`: its root (`C:\`), as the place pins go up to.
#[cfg(windows)]
pub fn mount_containing(path: &Path) -> Option<MountEntry> {
    let root = agentfs_platform::sys::windows::volume::volume_root(path).ok()?;
    let fstype = agentfs_platform::sys::windows::volume::filesystem_name(&root).unwrap_or_default();
    Some(MountEntry {
        mount_point: root,
        fstype,
        source: OsString::new(),
        device: String::new(),
        options: String::new(),
        super_options: String::new(),
    })
}

/// The source name an agentfs mount shows (fsname): SRC on Linux, where the type says agentfs;
/// `agentfs:SRC` on macOS, where every macFUSE mount has the same type.
pub fn fsname(source: &Path) -> String {
    let s = source.to_string_lossy();
    if cfg!(target_os = "macos") { format!("{MACOS_FSNAME_PREFIX}{s}") } else { s.into_owned() }
}

const MACOS_FSNAME_PREFIX: &str = "agentfs:";

/// Whether an agentfs mount is the topmost mount at `path` (canonical).
pub fn agentfs_at(path: &Path) -> bool {
    mount_at(path).is_some_and(|m| is_agentfs(&m))
}

/// Whether an agentfs mount sits at `path`.
pub fn is_agentfs(entry: &MountEntry) -> bool {
    if cfg!(target_os = "macos") {
        entry.source.to_string_lossy().starts_with(MACOS_FSNAME_PREFIX)
    } else if cfg!(windows) {
        entry.fstype == "agentfs"
    } else {
        entry.fstype == "fuse.agentfs"
    }
}

/// The user a FUSE mount belongs to (its `user_id=` option).
pub fn fuse_owner(entry: &MountEntry) -> Option<u32> {
    entry.super_options.split(',').find_map(|o| o.strip_prefix("user_id=")).and_then(|v| v.parse().ok())
}

/// Why the caller finds no record of the agentfs mount `entry`: it belongs to another user
/// (named, when the system knows the name: a permission error, or for root a pointer to that
/// user), or its record is gone.
pub fn not_ours(entry: &MountEntry) -> crate::error::Error {
    use crate::error::Error;
    let mnt = crate::quote::text(&entry.mount_point);
    let me = crate::runtime::current_uid();
    match fuse_owner(entry) {
        Some(uid) if uid != me => {
            let who = user_name(uid).map(|n| format!("{n} (uid {uid})")).unwrap_or_else(|| format!("uid {uid}"));
            if me == 0 {
                Error::NotMounted(format!(
                    "{mnt} is an agentfs mount of {who}, recorded in that user's runtime directory; run the command as that user"
                ))
            } else {
                Error::Permission(format!("{mnt} is an agentfs mount of {who}; only that user or root can use it"))
            }
        }
        _ => match crate::registry::load(&crate::runtime::mount_id(&entry.mount_point)) {
            Ok(Some(rec)) => Error::Busy(format!(
                "the daemon of {mnt} (pid {}) is gone; run `agentfs gc` to clean up, then mount again",
                rec.pid
            )),
            _ => Error::NotMounted(format!(
                "{mnt} is an agentfs mount without a record here; `agentfs gc` cleans up after lost daemons"
            )),
        },
    }
}

/// The name of user `uid` in /etc/passwd.
fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn parses_lines_with_escapes_and_optional_fields() {
        let text = b"36 35 98:0 /mnt1 /mnt\\040two rw,noatime master:1 - fuse.agentfs /src\\040dir rw,user_id=0\n\
                    37 35 0:51 / /tmp rw shared:2 - tmpfs tmpfs rw\n\
                    garbage line\n";
        let m = parse(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].mount_point, PathBuf::from("/mnt two"));
        assert_eq!(m[0].fstype, "fuse.agentfs");
        assert_eq!(m[0].source, "/src dir");
        assert_eq!(m[0].device, "98:0");
        assert_eq!((m[0].options.as_str(), m[0].super_options.as_str()), ("rw,noatime", "rw,user_id=0"));
        assert!(is_agentfs(&m[0]) && !is_agentfs(&m[1]));
        assert_eq!(fuse_owner(&m[0]), Some(0));
        assert_eq!(fuse_owner(&m[1]), None);
    }

    /// A mount point that is not UTF-8 is one entry like any other, and hides nothing.
    #[test]
    fn names_that_are_not_utf8_are_kept_as_bytes() {
        let mut text = b"36 35 0:52 / /tmp/bad\xff\\012name rw - fuse.agentfs /src\xfe rw\n".to_vec();
        text.extend_from_slice(b"37 35 0:51 / /tmp/good rw - fuse.agentfs /src rw\n");
        let m = parse(&text);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].mount_point.as_os_str().as_bytes(), b"/tmp/bad\xff\nname");
        assert_eq!(m[0].source.as_bytes(), b"/src\xfe");
        assert_eq!(m[1].mount_point, PathBuf::from("/tmp/good"));
    }
}
