//! The implementations the workload benchmark compares, and how each mounts a lower tree.

use std::path::{Path, PathBuf};

pub enum Kind {
    /// The tree itself (a writable btrfs snapshot of it, bind-mounted, so writes stay private).
    Native,
    /// Kernel overlayfs, upper and work directories on tmpfs.
    Overlayfs,
    /// A fuse-overlayfs binary, upper and work directories on tmpfs.
    FuseOverlayfs(PathBuf),
    /// agentfs, with the given mount options (`--io-uring off`: the classic /dev/fuse
    /// transport; `--io-uring on`: FUSE over io_uring; `--passthrough`: the kernel reads large
    /// lower files and writes upper files directly, without the writeback cache).
    Agentfs(PathBuf, &'static str),
}

pub struct Impl {
    pub name: &'static str,
    pub kind: Kind,
}

/// Every implementation starts from nothing and ends with nothing, as agentfs does: mounting
/// includes making the place writes go (a tmpfs for the upper layer, a snapshot for native), and
/// unmounting includes throwing the writes away (unmounting that tmpfs, deleting the snapshot),
/// which agentfs's unmount does with its RAM upper layer.
impl Impl {
    /// Shell command that mounts `lower` at `mnt`; `scratch` is an empty directory for upper
    /// layers.
    pub fn mount_cmd(&self, lower: &Path, mnt: &Path, scratch: &Path) -> String {
        let (l, m, s) = (lower.display(), mnt.display(), scratch.display());
        let tmpfs = format!("mount -t tmpfs tmpfs {s} && mkdir -p {s}/u {s}/w");
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
                format!("{tmpfs} && mount -t overlay overlay -o lowerdir={l},upperdir={s}/u,workdir={s}/w {m}")
            }
            Kind::FuseOverlayfs(bin) => {
                format!("{tmpfs} && {} -o lowerdir={l},upperdir={s}/u,workdir={s}/w {m}", bin.display())
            }
            Kind::Agentfs(bin, opts) => format!("{} mount --quiet {opts} {l} {m}", bin.display()),
        }
    }

    /// Shell command that unmounts `mnt` and throws away what was written.
    pub fn unmount_cmd(&self, lower: &Path, mnt: &Path, scratch: &Path) -> String {
        let (m, s) = (mnt.display(), scratch.display());
        match &self.kind {
            Kind::Agentfs(bin, _) => format!("{} unmount {m}", bin.display()),
            Kind::Native => {
                format!("umount {m} && btrfs subvolume delete {} >/dev/null", native_snapshot(lower).display())
            }
            Kind::Overlayfs | Kind::FuseOverlayfs(_) => format!("umount {m} && umount {s}"),
        }
    }

    /// Shell command that removes whatever a failed run left behind.
    pub fn cleanup_cmd(&self, lower: &Path, mnt: &Path, scratch: &Path) -> String {
        let mut cmd = format!("umount -l {} 2>/dev/null; umount -l {} 2>/dev/null; ", mnt.display(), scratch.display());
        if let Kind::Native = self.kind {
            cmd += &format!("btrfs subvolume delete {} >/dev/null 2>&1; ", native_snapshot(lower).display());
        }
        cmd + "true"
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
    let bin = || agentfs.to_path_buf();
    v.push(Impl { name: "agentfs", kind: Kind::Agentfs(bin(), "--io-uring off") });
    let uring = std::fs::read_to_string("/sys/module/fuse/parameters/enable_uring").unwrap_or_default();
    if matches!(uring.trim(), "Y" | "1") {
        v.push(Impl { name: "agentfs-io_uring", kind: Kind::Agentfs(bin(), "--io-uring on") });
        v.push(Impl { name: "agentfs-passthrough", kind: Kind::Agentfs(bin(), "--passthrough --io-uring on") });
    } else {
        eprintln!(
            "skipping agentfs-io_uring: the fuse module parameter enable_uring is off (scripts/bench turns it on)"
        );
        v.push(Impl { name: "agentfs-passthrough", kind: Kind::Agentfs(bin(), "--passthrough --io-uring off") });
    }
    v
}
