//! The implementations the workload benchmark compares, and how each mounts a lower tree.

use std::path::{Path, PathBuf};

pub enum Kind {
    /// The tree itself (a writable btrfs snapshot of it, bind-mounted, so writes stay private).
    Native,
    /// Kernel overlayfs, upper and work directories on tmpfs.
    Overlayfs,
    /// A fuse-overlayfs binary, upper and work directories on tmpfs.
    FuseOverlayfs(PathBuf),
    Agentfs(PathBuf),
}

pub struct Impl {
    pub name: &'static str,
    pub kind: Kind,
}

impl Impl {
    /// Shell command that mounts `lower` at `mnt`; `scratch` is an empty tmpfs for upper layers.
    pub fn mount_cmd(&self, lower: &Path, mnt: &Path, scratch: &Path) -> String {
        let (l, m, s) = (lower.display(), mnt.display(), scratch.display());
        match &self.kind {
            Kind::Native => {
                let snap = native_snapshot(lower);
                format!(
                    "btrfs subvolume snapshot {l} {} >/dev/null && mount --bind {} {m}",
                    snap.display(),
                    snap.display()
                )
            }
            Kind::Overlayfs => {
                format!(
                    "mkdir -p {s}/u {s}/w && mount -t overlay overlay -o lowerdir={l},upperdir={s}/u,workdir={s}/w {m}"
                )
            }
            Kind::FuseOverlayfs(bin) => {
                format!("mkdir -p {s}/u {s}/w && {} -o lowerdir={l},upperdir={s}/u,workdir={s}/w {m}", bin.display())
            }
            Kind::Agentfs(bin) => format!("{} mount --quiet {l} {m}", bin.display()),
        }
    }

    pub fn unmount_cmd(&self, mnt: &Path) -> String {
        match &self.kind {
            Kind::Agentfs(bin) => format!("{} unmount {}", bin.display(), mnt.display()),
            _ => format!("umount {}", mnt.display()),
        }
    }

    /// Shell command that removes what mounting left beside the lower tree.
    pub fn cleanup_cmd(&self, lower: &Path) -> Option<String> {
        match self.kind {
            Kind::Native => {
                Some(format!("btrfs subvolume delete {} >/dev/null 2>&1", native_snapshot(lower).display()))
            }
            _ => None,
        }
    }
}

fn native_snapshot(lower: &Path) -> PathBuf {
    lower.with_file_name("native-snapshot")
}

/// The implementations found on this machine, in the order they run; says which are missing.
pub fn available(agentfs: &Path, fuse_overlayfs_2: Option<PathBuf>, fuse_overlayfs_1: Option<PathBuf>) -> Vec<Impl> {
    let mut v = vec![Impl { name: "native", kind: Kind::Native }, Impl { name: "overlayfs", kind: Kind::Overlayfs }];
    for (name, bin) in [("fuse-overlayfs-2", fuse_overlayfs_2), ("fuse-overlayfs-1", fuse_overlayfs_1)] {
        match bin {
            Some(b) => v.push(Impl { name, kind: Kind::FuseOverlayfs(b) }),
            None => eprintln!("skipping {name}: not installed (scripts/bench installs it)"),
        }
    }
    v.push(Impl { name: "agentfs", kind: Kind::Agentfs(agentfs.to_path_buf()) });
    v
}
