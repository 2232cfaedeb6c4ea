//! Small filesystems on loop images, made and removed by the tests that need them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A filesystem image mounted on a loop device.
pub struct LoopFs {
    pub dir: tempfile::TempDir,
    /// Where the filesystem is mounted.
    pub root: PathBuf,
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() { Ok(()) } else { Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr))) }
}

impl LoopFs {
    /// Makes a `kind` filesystem ("btrfs", "xfs", "ext4") of `mb` MiB. None (with a note) if
    /// this machine cannot; with CI=true that is a failure.
    pub fn new(kind: &str, mb: u64) -> Option<LoopFs> {
        match Self::try_new(kind, mb) {
            Ok(fs) => Some(fs),
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("cannot make a {kind} loop filesystem: {e}")
            }
            Err(e) => {
                eprintln!("skipping: cannot make a {kind} loop filesystem: {e}");
                None
            }
        }
    }

    fn try_new(kind: &str, mb: u64) -> Result<LoopFs, String> {
        let dir = tempfile::Builder::new().prefix("agentfs-loop").tempdir().map_err(|e| e.to_string())?;
        let image = dir.path().join("image");
        let root = dir.path().join("root");
        std::fs::create_dir(&root).map_err(|e| e.to_string())?;
        std::fs::File::create(&image).and_then(|f| f.set_len(mb << 20)).map_err(|e| e.to_string())?;
        let mkfs = format!("mkfs.{kind}");
        let mut cmd = Command::new(&mkfs);
        cmd.arg("-q");
        if kind == "ext4" {
            cmd.arg("-F");
        }
        run(cmd.arg(&image))?;
        run(Command::new("mount").arg("-o").arg("loop").arg(&image).arg(&root))?;
        Ok(LoopFs { dir, root })
    }

    /// Creates a btrfs subvolume at `path` (inside this filesystem).
    pub fn subvolume(&self, path: &Path) {
        run(Command::new("btrfs").args(["subvolume", "create"]).arg(path)).unwrap();
    }

    /// Unmounts the filesystem and mounts it again at `name` beside the image (as a user who
    /// moves a disk to another mount point does).
    #[allow(dead_code)]
    pub fn remount_at(&mut self, name: &str) {
        let new_root = self.dir.path().join(name);
        std::fs::create_dir(&new_root).unwrap();
        run(Command::new("umount").arg(&self.root)).unwrap();
        run(Command::new("mount").arg("-o").arg("loop").arg(self.dir.path().join("image")).arg(&new_root)).unwrap();
        self.root = new_root;
    }

    /// Free bytes of the filesystem.
    pub fn free(&self) -> u64 {
        let st = rustix::fs::statvfs(&self.root).unwrap();
        st.f_bavail * st.f_frsize
    }

    /// Paths of the btrfs subvolumes (relative to the filesystem root).
    pub fn subvolumes(&self) -> Vec<String> {
        let out = Command::new("btrfs").args(["subvolume", "list", "-o"]).arg(&self.root).output().unwrap();
        let all = Command::new("btrfs").args(["subvolume", "list"]).arg(&self.root).output().unwrap();
        let text = if all.status.success() { all.stdout } else { out.stdout };
        String::from_utf8_lossy(&text)
            .lines()
            .filter_map(|l| l.rsplit_once(" path ").map(|(_, p)| p.to_string()))
            .collect()
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        // Unmount whatever sits on top first (agentfs mounts made in here), then the image; the
        // loop device goes with it (mount -o loop sets autoclear).
        let _ = Command::new("umount").arg("-R").arg("-l").arg(&self.root).output();
    }
}
