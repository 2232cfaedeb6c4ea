//! agentfs as a library: freeze a directory for the length of a test, a CI step or an agent's
//! task, and let it go when the guard is dropped.
//!
//! ```no_run
//! # fn main() -> agentfs::Result<()> {
//! let fixture = agentfs::Freeze::new("tests/fixtures/repo").size(512 << 20).mount()?;
//! std::fs::write(fixture.path().join("scratch.txt"), "anything").expect("write");
//! // ... run the code under test against fixture.path() ...
//! for change in fixture.diff()? {
//!     println!("{} {}", change.verdict.name(), change.path.display());
//! }
//! drop(fixture); // unmounted; tests/fixtures/repo never changed
//! # Ok(()) }
//! ```
//!
//! The daemon is the `agentfs` executable: found through `AGENTFS_BIN`, else on `PATH`, or set
//! with [`Freeze::exe`].

#[cfg(unix)]
pub use agentfs_mount_helper::changeset::Verdict;
#[cfg(unix)]
pub use agentfs_mount_helper::diff::Entry as Change;
pub use agentfs_mount_helper::pin::{PinKind, PinRequest};
pub use agentfs_mount_helper::{Error, Result};
pub use agentfs_platform::io_uring_mode::IoUringMode;

use agentfs_mount_helper::mount::{MountRequest, mount};
use agentfs_mount_helper::runtime::mount_id;
use agentfs_mount_helper::unmount::unmount_record;
use std::path::{Path, PathBuf};

/// How to freeze a directory; [`Freeze::mount`] does it.
pub struct Freeze {
    req: MountRequest,
    at: Option<PathBuf>,
    exe: Option<PathBuf>,
}

impl Freeze {
    /// Freezes `src` (auto pin, 4 GiB of RAM for writes, mounted on a new temporary directory).
    pub fn new(src: impl Into<PathBuf>) -> Freeze {
        Freeze { req: MountRequest::new(src.into(), PathBuf::new()), at: None, exe: None }
    }

    /// Mounts at `mnt` (an empty directory) instead of a temporary directory.
    pub fn at(mut self, mnt: impl Into<PathBuf>) -> Freeze {
        self.at = Some(mnt.into());
        self
    }

    /// RAM the upper layer may use; writes past it fail with ENOSPC.
    pub fn size(mut self, bytes: u64) -> Freeze {
        self.req.budget_bytes = bytes;
        self
    }

    pub fn pin(mut self, pin: PinKind) -> Freeze {
        self.req.pin = PinRequest::Exactly(pin);
        self
    }

    pub fn read_only(mut self) -> Freeze {
        self.req.read_only = true;
        self
    }

    /// Opens large lower files through FUSE passthrough (root only; see `agentfs mount --passthrough`).
    pub fn passthrough(mut self) -> Freeze {
        self.req.passthrough = true;
        self
    }

    /// Whether requests may travel through FUSE over io_uring (default: auto, where the kernel
    /// offers it; see `agentfs mount --io-uring`).
    pub fn io_uring(mut self, mode: IoUringMode) -> Freeze {
        self.req.io_uring = mode;
        self
    }

    /// The `agentfs` executable that serves the mount.
    pub fn exe(mut self, exe: impl Into<PathBuf>) -> Freeze {
        self.exe = Some(exe.into());
        self
    }

    fn find_exe(&self) -> Result<PathBuf> {
        if let Some(e) = &self.exe {
            return Ok(e.clone());
        }
        if let Some(e) = std::env::var_os("AGENTFS_BIN") {
            return Ok(PathBuf::from(e));
        }
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|d| d.join("agentfs"))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                Error::Input(
                    "the agentfs executable is not on PATH; install it (cargo install agentfs) or set AGENTFS_BIN"
                        .into(),
                )
            })
    }

    /// Mounts; the returned guard unmounts when dropped.
    pub fn mount(mut self) -> Result<Frozen> {
        let exe = self.find_exe()?;
        let tmp = match &self.at {
            Some(_) => None,
            None => Some(
                tempfile::Builder::new()
                    .prefix("agentfs-frozen")
                    .tempdir()
                    .map_err(|e| Error::System(format!("cannot make a temporary mount point: {e}")))?,
            ),
        };
        self.req.mnt = self.at.clone().or_else(|| tmp.as_ref().map(|t| t.path().to_path_buf())).unwrap_or_default();
        let m = mount(&self.req, &exe)?;
        Ok(Frozen { mnt: m.mountpoint, tmp, mounted: true })
    }
}

/// The guard of a frozen directory.
pub struct Frozen {
    mnt: PathBuf,
    tmp: Option<tempfile::TempDir>,
    mounted: bool,
}

impl Frozen {
    /// Where the frozen view is.
    pub fn path(&self) -> &Path {
        &self.mnt
    }

    /// What has changed so far (Linux and macOS).
    #[cfg(unix)]
    pub fn diff(&self) -> Result<Vec<Change>> {
        agentfs_mount_helper::diff::diff(&self.mnt)
    }

    /// Keeps the current view as the snapshot `name` (`agentfs mount @name` branches from it;
    /// Linux and macOS).
    #[cfg(unix)]
    pub fn snapshot(&self, name: &str) -> Result<()> {
        agentfs_mount_helper::snapshot::create(&self.mnt, name).map(|_| ())
    }

    /// Writes the changes back into the source directory (crash-safe; Linux and macOS).
    #[cfg(unix)]
    pub fn commit(&self) -> Result<()> {
        agentfs_mount_helper::commit::commit(&self.mnt, None, false).map(|_| ())
    }

    /// Unmounts now, reporting errors (dropping the guard unmounts too, quietly).
    pub fn unmount(mut self) -> Result<()> {
        self.mounted = false;
        unmount_record(&self.mnt, &mount_id(&self.mnt), false).map(|_| ())
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        if self.mounted {
            let id = mount_id(&self.mnt);
            if unmount_record(&self.mnt, &id, false).is_err() {
                let _ = unmount_record(&self.mnt, &id, true);
            }
        }
        // The temporary mount point goes with `tmp`.
        let _ = &self.tmp;
    }
}
