//! Where pins go: a `.agentfs-pins` directory on SRC's filesystem (native snapshots and clones
//! only work within one filesystem), as high up as the user may write, and outside SRC unless
//! there is no other choice (then it is hidden from the mount's view).

use crate::mountinfo;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

pub use crate::owned::{PINS_DIR_NAME, SNAPSHOTS_DIR_NAME};

pub struct Location {
    pub dir: PathBuf,
    /// Set when the directory lies in SRC itself: the name to hide at the top of the view.
    pub hide: Option<OsString>,
}

/// A directory of ours we may use (existing and ours, or just created), reached without
/// following a symlink on the way (its parent may be someone else's).
fn usable(dir: &Path) -> bool {
    #[cfg(unix)]
    {
        let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else { return false };
        let Ok(parent) = crate::confined::Dir::open_root(parent) else { return false };
        let me = rustix::process::geteuid().as_raw();
        match parent.stat(name) {
            Ok(Some(st)) => {
                crate::confined::kind_of(&st) == rustix::fs::FileType::Directory
                    && st.st_uid == me
                    && rustix::fs::accessat(
                        parent.fd(),
                        name,
                        rustix::fs::Access::WRITE_OK,
                        rustix::fs::AtFlags::empty(),
                    )
                    .is_ok()
            }
            Ok(None) => parent.mkdir(name, 0o700).is_ok(),
            Err(_) => false,
        }
    }
    #[cfg(windows)]
    match fs::symlink_metadata(dir) {
        Ok(md) => md.is_dir() && ours_and_writable(dir, &md),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => make_private(dir).is_ok(),
        Err(_) => false,
    }
}

/// Windows: a directory of ours is one made by [`make_private`], which only its maker (and
/// administrators and LocalSystem) may open.
#[cfg(windows)]
fn ours_and_writable(dir: &Path, md: &fs::Metadata) -> bool {
    !md.permissions().readonly() && fs::read_dir(dir).is_ok()
}

/// Windows: makes `dir` with a descriptor that lets in only the caller, administrators and
/// LocalSystem.
#[cfg(windows)]
fn make_private(dir: &Path) -> std::io::Result<()> {
    agentfs_platform::sys::windows::security::create_private_dir(dir)
}

/// Makes `dir` (a pins or snapshots directory found by [`place`]) again if it was removed since.
pub fn ensure_dir(dir: &Path) {
    #[cfg(unix)]
    {
        let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else { return };
        if let Ok(parent) = crate::confined::Dir::open_root(parent) {
            let _ = parent.mkdir(name, 0o700);
        }
    }
    #[cfg(windows)]
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
