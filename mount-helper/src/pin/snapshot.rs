//! btrfs snapshot pins.

use super::{Pin, PinKind};
use crate::error::{Error, Result};
use agentfs_platform::os::subvolume as btrfs;
use rustix::fs::{Mode, OFlags};
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Whether `src` is on btrfs.
pub fn applies(src: &Path) -> std::io::Result<bool> {
    let st = rustix::fs::statfs(src)?;
    #[allow(clippy::unnecessary_cast)]
    Ok(st.f_type as i64 == btrfs::BTRFS_SUPER_MAGIC)
}

/// The root of the btrfs subvolume holding `src`: the nearest ancestor whose inode number is
/// the one every subvolume root has.
fn subvolume_root(src: &Path) -> std::io::Result<PathBuf> {
    for a in src.ancestors() {
        let md = std::fs::metadata(a)?;
        if md.ino() == btrfs::SUBVOL_ROOT_INO {
            return Ok(a.to_path_buf());
        }
    }
    Err(std::io::Error::other("no subvolume root above it"))
}

fn open_dir(p: &Path) -> std::io::Result<std::os::fd::OwnedFd> {
    Ok(rustix::fs::open(p, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?)
}

/// Snapshots the subvolume holding `src` into `pins_dir`; the lower root is SRC's place in it.
pub fn create(src: &Path, pins_dir: &Path, id: &str, hide: &[OsString]) -> Result<Pin> {
    let fail =
        |e: std::io::Error| Error::System(format!("cannot snapshot the btrfs subvolume of {}: {e}", src.display()));
    if !applies(src).map_err(fail)? {
        return Err(Error::Input(format!(
            "{} is not on btrfs, so it cannot be pinned by a snapshot; use --pin reflink, copy or live",
            src.display()
        )));
    }
    let root = subvolume_root(src).map_err(fail)?;
    let rel = src.strip_prefix(&root).map_err(|_| fail(std::io::Error::other("SRC is outside its subvolume")))?;
    let name = format!("{id}.snapshot");
    btrfs::snapshot_readonly(
        open_dir(&root).map_err(fail)?,
        open_dir(pins_dir).map_err(fail)?,
        std::ffi::OsStr::new(&name),
    )
    .map_err(fail)?;
    let path = pins_dir.join(&name);
    let lower = path.join(rel);
    Ok(Pin {
        hide: hide.iter().map(|h| crate::runtime::path_bytes(Path::new(h))).collect(),
        ..Pin::new(PinKind::Snapshot, &path, &lower)
    })
}
