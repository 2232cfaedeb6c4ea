//! The mount table of this thread's namespace (/proc/thread-self/mountinfo: a thread may have
//! entered a mount namespace of its own).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// One line of mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry {
    pub mount_point: PathBuf,
    pub fstype: String,
    pub source: String,
    /// "major:minor" of the mounted filesystem.
    pub device: String,
    /// The mount's own options (`rw,nosuid,nodev,relatime`).
    pub options: String,
    /// The filesystem's options (`rw,sync,user_id=0,...`).
    pub super_options: String,
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
                mount_point: PathBuf::from(OsString::from_vec(unescape(l.get(4)?))),
                device: (*l.get(2)?).to_string(),
                fstype: String::from_utf8_lossy(&unescape(r.first()?)).into_owned(),
                source: String::from_utf8_lossy(&unescape(r.get(1)?)).into_owned(),
                options: (*l.get(5)?).to_string(),
                super_options: r
                    .get(2)
                    .map_or_else(String::new, |o| String::from_utf8_lossy(&unescape(o)).into_owned()),
            })
        })
        .collect()
}

/// The current mount table.
pub fn mounts() -> Vec<MountEntry> {
    std::fs::read_to_string("/proc/thread-self/mountinfo")
        .or_else(|_| std::fs::read_to_string("/proc/self/mountinfo"))
        .map(|t| parse(&t))
        .unwrap_or_default()
}

/// The topmost mount at `path` (which must be canonical).
pub fn mount_at(path: &Path) -> Option<MountEntry> {
    mounts().into_iter().rev().find(|m| m.mount_point == path)
}

/// The mount holding `path` (canonical): the one with the longest mount point above it.
pub fn mount_containing(path: &Path) -> Option<MountEntry> {
    mounts()
        .into_iter()
        .rev()
        .filter(|m| path.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.as_os_str().len())
}

/// Whether an agentfs mount sits at `path`.
pub fn is_agentfs(entry: &MountEntry) -> bool {
    entry.fstype == "fuse.agentfs"
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
        assert_eq!((m[0].options.as_str(), m[0].super_options.as_str()), ("rw,noatime", "rw,user_id=0"));
        assert!(is_agentfs(&m[0]) && !is_agentfs(&m[1]));
    }
}
