//! The directories agentfs keeps inside other people's trees: pins, snapshots, and the staging
//! directories of commits. None of them is ever part of a mount's view, a pin, a snapshot or a
//! commit. They are known by their names, and by what the registry, the snapshot records and
//! the commit journals say they are (their device and inode).

#[cfg(unix)]
use crate::confined::Identity;
#[cfg(unix)]
use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
#[cfg(unix)]
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The directory holding pins.
pub const PINS_DIR_NAME: &str = ".agentfs-pins";
/// The directory holding snapshots.
pub const SNAPSHOTS_DIR_NAME: &str = ".agentfs-snapshots";
/// The directory holding the staging directories of commits.
pub const STAGING_DIR_NAME: &str = ".agentfs-staging";

const NAMES: [&str; 3] = [PINS_DIR_NAME, SNAPSHOTS_DIR_NAME, STAGING_DIR_NAME];

/// The names agentfs gives its own directories.
pub fn names() -> Vec<OsString> {
    NAMES.iter().map(OsString::from).collect()
}

pub fn is_owned_name(name: &OsStr) -> bool {
    NAMES.iter().any(|n| OsStr::new(n) == name)
}

/// The first component of `rel` that is one of agentfs's own names, if any.
pub fn owned_component(rel: &Path) -> Option<&OsStr> {
    rel.iter().find(|c| is_owned_name(c))
}

#[cfg(unix)]
fn identity(p: &Path) -> Option<Identity> {
    std::fs::symlink_metadata(p).ok().map(|m| Identity { dev: m.dev(), ino: m.ino() })
}

/// The identities of every directory agentfs keeps that this user's registry, snapshot records
/// and commit journals know of: pins directories and pins, snapshot directories and snapshots,
/// staging directories. (Unix only: commits and snapshots, which keep the others, are too.)
#[cfg(unix)]
pub fn registered() -> HashSet<Identity> {
    let mut paths = Vec::new();
    for r in crate::registry::list() {
        paths.push(r.pins_dir_path());
        paths.push(r.pin.path());
        if r.pin.kind == crate::pin::PinKind::Branch {
            paths.extend(r.pin.path().parent().map(Path::to_path_buf));
        }
    }
    for s in crate::snapshot::record::list().unwrap_or_default() {
        let c = s.container_path();
        paths.extend(c.parent().map(Path::to_path_buf));
        paths.push(c);
    }
    for j in crate::commit::journal::all().0 {
        paths.push(crate::commit::journal::path(&j.staging_parent));
    }
    paths.iter().filter(|p| !p.as_os_str().is_empty()).filter_map(|p| identity(p)).collect()
}
