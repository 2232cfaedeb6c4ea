//! Which mounts exist, per OS: the mount table of this process's namespace on Linux
//! (/proc/self/mountinfo), `statfs` on macOS (the mount holding a path), the volume of a path on
//! Windows (a WinFsp volume names its filesystem `agentfs`).

use std::path::{Path, PathBuf};

/// One line of mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry {
    pub mount_point: PathBuf,
    pub fstype: String,
    pub source: String,
    /// "major:minor" of the mounted filesystem.
    pub device: String,
}

/// Undoes the octal escapes of mountinfo (\040 for a space...).
fn unescape(field: &str) -> Vec<u8> {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Parses the text of a mountinfo file; malformed lines are skipped.
pub fn parse(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            Some(MountEntry {
                mount_point: bytes_path(unescape(l.get(4)?)),
                device: (*l.get(2)?).to_string(),
                fstype: String::from_utf8_lossy(&unescape(r.first()?)).into_owned(),
                source: String::from_utf8_lossy(&unescape(r.get(1)?)).into_owned(),
            })
        })
        .collect()
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
    std::fs::read_to_string("/proc/self/mountinfo").map(|t| parse(&t)).unwrap_or_default()
}

/// The topmost mount at `path` (which must be canonical).
#[cfg(target_os = "linux")]
pub fn mount_at(path: &Path) -> Option<MountEntry> {
    mounts().into_iter().rev().find(|m| m.mount_point == path)
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
    Some(MountEntry { mount_point, fstype, source, device: String::new() })
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
    Some(MountEntry { mount_point: path.to_path_buf(), fstype, source: String::new(), device: String::new() })
}

/// The volume holding `path`: its root (`C:\`), as the place pins go up to.
#[cfg(windows)]
pub fn mount_containing(path: &Path) -> Option<MountEntry> {
    let root = agentfs_platform::sys::windows::volume::volume_root(path).ok()?;
    let fstype = agentfs_platform::sys::windows::volume::filesystem_name(&root).unwrap_or_default();
    Some(MountEntry { mount_point: root, fstype, source: String::new(), device: String::new() })
}

/// The source name an agentfs mount shows (fsname): SRC on Linux, where the type says agentfs;
/// `agentfs:SRC` on macOS, where every macFUSE mount has the same type.
pub fn fsname(source: &Path) -> String {
    let s = source.to_string_lossy();
    if cfg!(target_os = "macos") { format!("{MACOS_FSNAME_PREFIX}{s}") } else { s.into_owned() }
}

const MACOS_FSNAME_PREFIX: &str = "agentfs:";

/// Whether an agentfs mount sits at `path`.
pub fn is_agentfs(entry: &MountEntry) -> bool {
    if cfg!(target_os = "macos") {
        entry.source.starts_with(MACOS_FSNAME_PREFIX)
    } else if cfg!(windows) {
        entry.fstype == "agentfs"
    } else {
        entry.fstype == "fuse.agentfs"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_with_escapes_and_optional_fields() {
        let text = "36 35 98:0 /mnt1 /mnt\\040two rw,noatime master:1 - fuse.agentfs /src\\040dir rw,user_id=0\n\
                    37 35 0:51 / /tmp rw shared:2 - tmpfs tmpfs rw\n\
                    garbage line\n";
        let m = parse(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].mount_point, PathBuf::from("/mnt two"));
        assert_eq!(m[0].fstype, "fuse.agentfs");
        assert_eq!(m[0].source, "/src dir");
        assert_eq!(m[0].device, "98:0");
        assert!(is_agentfs(&m[0]) && !is_agentfs(&m[1]));
    }
}
