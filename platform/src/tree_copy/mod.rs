//! Copies a directory tree, keeping types, modes, owners, times, xattrs, symlinks and hardlinks,
//! with the data of regular files either cloned (no data block is copied: FICLONE on Linux,
//! `fclonefileat` on APFS) or copied (see `data.rs`). Directories are walked in parallel; directory metadata is applied last,
//! deepest first, so read-only directories can be filled and their times stay as they were.

mod data;
mod entry;
mod queue;

use parking_lot::Mutex;
use queue::WorkQueue;
use rustix::fs::{Mode, OFlags, mkdirat, openat};
use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// How file data is reproduced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataMode {
    /// Share the data blocks: FICLONE (btrfs, XFS, bcachefs, ZFS 2.2+), clonefile (APFS).
    Reflink,
    /// Copy the data (Linux: copy_file_range, which the kernel may turn into a clone).
    Copy,
}

pub use crate::clone_tree::Progress;

pub struct Options {
    pub mode: DataMode,
    /// Names to leave out at the top level of the source (e.g. the pin directory itself).
    pub skip_top: Vec<OsString>,
    pub threads: usize,
    pub progress: Arc<Progress>,
}

/// A directory to fill: its source and destination fds and its path below the roots.
struct DirJob {
    src: Arc<OwnedFd>,
    dst: Arc<OwnedFd>,
    rel: PathBuf,
}

/// State shared by the workers.
struct Shared<'a> {
    opts: &'a Options,
    /// Whether owners can be kept (only root may give files away).
    keep_owner: bool,
    /// First error; workers stop when set.
    failed: AtomicBool,
    error: Mutex<Option<io::Error>>,
    /// Hardlinked files: (dev, ino) -> first destination path.
    links: Mutex<HashMap<(u64, u64), PathBuf>>,
    /// Further names of hardlinked files, linked after the walk: (existing, new).
    late_links: Mutex<Vec<((u64, u64), PathBuf)>>,
    /// Directories whose metadata is applied at the end.
    dirs: Mutex<Vec<PendingDir>>,
}

/// A copied directory whose owner, mode, xattrs and times are set once its content is complete.
struct PendingDir {
    rel: PathBuf,
    stat: rustix::fs::Stat,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Shared<'_> {
    fn fail(&self, e: io::Error) {
        if !self.failed.swap(true, Ordering::AcqRel) {
            *self.error.lock() = Some(e);
        }
    }
}

/// Copies the tree at `src` to `dst`, which must not exist. On error the partial copy is left
/// for the caller to remove.
pub fn copy_tree(src: &Path, dst: &Path, opts: &Options) -> io::Result<()> {
    let src_fd = openat(rustix::fs::CWD, src, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    mkdirat(rustix::fs::CWD, dst, Mode::from_raw_mode(0o700))?;
    let dst_fd = openat(
        rustix::fs::CWD,
        dst,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )?;
    let root_stat = rustix::fs::fstat(&src_fd)?;
    let root_xattrs = entry::read_xattrs_fd(&src_fd);
    let shared = Shared {
        opts,
        keep_owner: rustix::process::geteuid().is_root(),
        failed: AtomicBool::new(false),
        error: Mutex::new(None),
        links: Mutex::new(HashMap::new()),
        late_links: Mutex::new(Vec::new()),
        dirs: Mutex::new(vec![PendingDir { rel: PathBuf::new(), stat: root_stat, xattrs: root_xattrs }]),
    };
    let queue = WorkQueue::new(DirJob { src: Arc::new(src_fd), dst: Arc::new(dst_fd), rel: PathBuf::new() });
    std::thread::scope(|s| {
        for _ in 0..opts.threads.max(1) {
            s.spawn(|| {
                while let Some(job) = queue.pop() {
                    if !shared.failed.load(Ordering::Acquire) {
                        if let Err(e) = entry::copy_dir(&shared, &job, &queue) {
                            shared.fail(io::Error::new(e.kind(), format!("{}: {e}", src.join(&job.rel).display())));
                        }
                    }
                    queue.done();
                }
            });
        }
    });
    if let Some(e) = shared.error.lock().take() {
        return Err(e);
    }
    for (key, new) in shared.late_links.lock().drain(..) {
        let links = shared.links.lock();
        let Some(first) = links.get(&key) else { continue };
        std::fs::hard_link(dst.join(first), dst.join(&new))?;
    }
    let mut dirs = std::mem::take(&mut *shared.dirs.lock());
    dirs.sort_by_key(|d| std::cmp::Reverse(d.rel.components().count()));
    for d in dirs {
        entry::apply_dir_meta(&dst.join(&d.rel), &d.stat, &d.xattrs, shared.keep_owner)?;
    }
    Ok(())
}

/// Copies one entry of any type from `src` to `dst` (which must not exist), as [`copy_tree`]
/// copies entries: a directory with everything in it, a file cloned or copied, a symlink as a
/// symlink (never followed).
pub fn copy_entry(src: &Path, dst: &Path, mode: DataMode) -> io::Result<()> {
    let (Some(src_parent), Some(src_name), Some(dst_parent), Some(dst_name)) =
        (src.parent(), src.file_name(), dst.parent(), dst.file_name())
    else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "copy_entry needs two named paths"));
    };
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let src_dir = openat(rustix::fs::CWD, src_parent, dir_flags, Mode::empty())?;
    let st = rustix::fs::statat(&src_dir, src_name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)?;
    let keep_owner = rustix::process::geteuid().is_root();
    #[allow(clippy::unnecessary_cast)]
    let kind = rustix::fs::FileType::from_raw_mode(st.st_mode as _);
    if kind == rustix::fs::FileType::Directory {
        let opts = Options { mode, skip_top: Vec::new(), threads: 2, progress: Arc::new(Progress::default()) };
        return copy_tree(src, dst, &opts);
    }
    let dst_dir = openat(rustix::fs::CWD, dst_parent, dir_flags, Mode::empty())?;
    match kind {
        rustix::fs::FileType::RegularFile => {
            entry::copy_file_at(&src_dir, src_name, &dst_dir, dst_name, &st, mode, keep_owner, dst).map(|_| ())
        }
        rustix::fs::FileType::Symlink => {
            entry::copy_symlink_at(&src_dir, src_name, &dst_dir, dst_name, &st, keep_owner)
        }
        other => entry::copy_special_at(&dst_dir, dst_name, other, &st, keep_owner, dst),
    }
}
