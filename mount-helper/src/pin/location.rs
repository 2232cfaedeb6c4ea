//! Where pins go: a `.agentfs-pins` directory on SRC's filesystem (native snapshots and clones
//! only work within one filesystem), as high up as the user may write, and outside SRC unless
//! there is no other choice (then it is hidden from the mount's view).

use crate::mountinfo;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

/// The name of the directory holding pins; `agentfs gc` finds pins through the registry.
pub const PINS_DIR_NAME: &str = ".agentfs-pins";
/// The name of the directory holding snapshots (found through their records).
pub const SNAPSHOTS_DIR_NAME: &str = ".agentfs-snapshots";

pub struct Location {
    pub dir: PathBuf,
    /// Set when the directory lies in SRC itself: the name to hide at the top of the view.
    pub hide: Option<OsString>,
}

/// A pins directory we may use (existing and ours, or just created).
fn usable(dir: &Path) -> bool {
    match fs::symlink_metadata(dir) {
        Ok(md) => md.is_dir() && ours_and_writable(dir, &md),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => make_private(dir).is_ok(),
        Err(_) => false,
    }
}

#[cfg(unix)]
fn ours_and_writable(dir: &Path, md: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    md.uid() == rustix::process::geteuid().as_raw() && rustix::fs::access(dir, rustix::fs::Access::WRITE_OK).is_ok()
}

/// Windows: a directory of ours is one made by [`make_private`], which only its maker (and
/// administrators and LocalSystem) may open.
#[cfg(windows)]
fn ours_and_writable(dir: &Path, md: &fs::Metadata) -> bool {
    !md.permissions().readonly() && fs::read_dir(dir).is_ok()
}

/// Makes `dir` for the caller alone (mode 0700; on Windows a descriptor that lets in only the
/// caller, administrators and LocalSystem).
fn make_private(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new().mode(0o700).create(dir)
    }
    #[cfg(windows)]
    {
        agentfs_platform::sys::windows::security::create_private_dir(dir)
    }
}

/// Makes `dir` (a pins or snapshots directory found by [`place`]) again if it was removed since.
pub fn ensure_dir(dir: &Path) {
    let _ = make_private(dir);
}

/// The pins directory for `src` (canonical), creating it if needed; None if there is no place.
pub fn pins_dir(src: &Path) -> Option<Location> {
    place(src, PINS_DIR_NAME)
}

/// The snapshots directory for trees on `src`'s filesystem, creating it if needed.
pub fn snapshots_dir(src: &Path) -> Option<Location> {
    place(src, SNAPSHOTS_DIR_NAME)
}

/// A directory called `name` on `src`'s mount, as high up as we may write; inside `src` only if
/// there is nothing above it.
pub fn place(src: &Path, name: &str) -> Option<Location> {
    place_where(src, name, |_| true)
}

/// Like [`place`], but on the very device of `src` (a btrfs subvolume is a device of its own,
/// and rename(2) does not cross them): for what is renamed into `src`.
#[cfg(unix)]
pub fn place_for_rename(src: &Path, name: &str) -> Option<Location> {
    use std::os::unix::fs::MetadataExt;
    let dev = fs::metadata(src).ok()?.dev();
    place_where(src, name, |a| fs::metadata(a).is_ok_and(|m| m.dev() == dev))
}

fn place_where(src: &Path, name: &str, fits: impl Fn(&Path) -> bool) -> Option<Location> {
    let mount = mountinfo::mount_containing(src)?;
    let mut candidates: Vec<&Path> =
        src.ancestors().skip(1).filter(|a| a.starts_with(&mount.mount_point) && fits(a)).collect();
    candidates.reverse();
    for a in candidates {
        let dir = a.join(name);
        if usable(&dir) {
            return Some(Location { dir, hide: None });
        }
    }
    let dir = src.join(name);
    usable(&dir).then(|| Location { dir, hide: Some(name.into()) })
}

/// Whether files in `dir` can be cloned (FICLONE, clonefile, ReFS block cloning); the error
/// says why not.
pub fn probe_reflink(dir: &Path) -> Result<(), String> {
    #[cfg(unix)]
    let probed = agentfs_platform::os::fs::probe_clone(dir);
    #[cfg(windows)]
    let probed = agentfs_platform::clone_tree::refs::probe(dir);
    probed.map_err(|e| {
        let fstype = mountinfo::mount_containing(dir).map(|m| m.fstype).unwrap_or_else(|| "?".into());
        format!("its filesystem ({fstype}) cannot clone files ({e})")
    })
}
