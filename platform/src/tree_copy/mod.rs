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
use std::ffi::{OsStr, OsString};
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
    /// Names to leave out at any depth (the directories agentfs keeps inside trees).
    pub skip_everywhere: Vec<OsString>,
    pub threads: usize,
    pub progress: Arc<Progress>,
}

/// A directory to fill: its source and destination fds, its path below the roots (for
/// messages), and its place in [`Shared::dirs`].
struct DirJob {
    src: Arc<OwnedFd>,
    dst: Arc<OwnedFd>,
    rel: PathBuf,
    index: usize,
}

/// A name in a copied directory: that directory's fd and the name.
type At = (Arc<OwnedFd>, OsString);

/// State shared by the workers.
struct Shared<'a> {
    opts: &'a Options,
    /// Whether owners can be kept (only root may give files away).
    keep_owner: bool,
    /// First error; workers stop when set.
    failed: AtomicBool,
    error: Mutex<Option<io::Error>>,
    /// Hardlinked files: (dev, ino) -> where its first copy is.
    links: Mutex<HashMap<(u64, u64), At>>,
    /// Further names of hardlinked files, linked after the walk (when every first copy exists).
    late_links: Mutex<Vec<((u64, u64), At)>>,
    /// Directories whose metadata is applied at the end; the root first.
    dirs: Mutex<Vec<PendingDir>>,
}

/// A copied directory whose owner, mode, xattrs and times are set once its content is complete;
/// known by its parent's index and its name, so no path (which may pass PATH_MAX) is needed.
struct PendingDir {
    parent: usize,
    name: OsString,
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

const DIR_FLAGS: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY).union(OFlags::CLOEXEC).union(OFlags::NOFOLLOW);

/// Copies the tree at `src` to `dst`, which must not exist. On error the partial copy is left
/// for the caller to remove.
pub fn copy_tree(src: &Path, dst: &Path, opts: &Options) -> io::Result<()> {
    let src_fd = openat(rustix::fs::CWD, src, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    let (parent, name) = match (dst.parent(), dst.file_name()) {
        (Some(p), Some(n)) => (if p.as_os_str().is_empty() { Path::new(".") } else { p }, n),
        _ => return Err(io::Error::new(io::ErrorKind::InvalidInput, "copy_tree needs a named destination")),
    };
    let parent_fd = openat(rustix::fs::CWD, parent, DIR_FLAGS, Mode::empty())?;
    copy_tree_at(src_fd, &parent_fd, name, opts)
        .map_err(|e| io::Error::new(e.kind(), format!("{e} (copying {})", src.display())))
}

/// Copies the tree of the directory `src_fd` to a new directory `dst_name` of `dst_parent`.
/// Everything in the copy is reached from `dst_parent`'s fd, never through a path from `/`.
pub fn copy_tree_at(src_fd: OwnedFd, dst_parent: &OwnedFd, dst_name: &OsStr, opts: &Options) -> io::Result<()> {
    mkdirat(dst_parent, dst_name, Mode::from_raw_mode(0o700))?;
    let dst_fd = openat(dst_parent, dst_name, DIR_FLAGS, Mode::empty())?;
    let root_stat = rustix::fs::fstat(&src_fd)?;
    let root_xattrs = entry::read_xattrs_fd(&src_fd);
    let shared = Shared {
        opts,
        keep_owner: rustix::process::geteuid().is_root(),
        failed: AtomicBool::new(false),
        error: Mutex::new(None),
        links: Mutex::new(HashMap::new()),
        late_links: Mutex::new(Vec::new()),
        dirs: Mutex::new(vec![PendingDir {
            parent: usize::MAX,
            name: OsString::new(),
            stat: root_stat,
            xattrs: root_xattrs,
        }]),
    };
    let dst_fd = Arc::new(dst_fd);
    let queue =
        WorkQueue::new(DirJob { src: Arc::new(src_fd), dst: Arc::clone(&dst_fd), rel: PathBuf::new(), index: 0 });
    std::thread::scope(|s| {
        for _ in 0..opts.threads.max(1) {
            s.spawn(|| {
                while let Some(job) = queue.pop() {
                    if !shared.failed.load(Ordering::Acquire) {
                        if let Err(e) = entry::copy_dir(&shared, &job, &queue) {
                            shared.fail(io::Error::new(e.kind(), format!("{}: {e}", job.rel.display())));
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
    for (key, (dir, name)) in shared.late_links.lock().drain(..) {
        let links = shared.links.lock();
        let Some((first_dir, first)) = links.get(&key) else { continue };
        rustix::fs::linkat(&**first_dir, first, &*dir, &name, rustix::fs::AtFlags::empty())?;
    }
    let dirs = std::mem::take(&mut *shared.dirs.lock());
    apply_dirs(&dst_fd, &dirs, shared.keep_owner)
}

/// Applies each directory's metadata after everything below it is done (a read-only mode or
/// a time set earlier would not last), walking the tree of directories depth first with one
/// open fd per level: no path is built, however deep the tree.
fn apply_dirs(root: &Arc<OwnedFd>, dirs: &[PendingDir], keep_owner: bool) -> io::Result<()> {
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); dirs.len()];
    for (i, d) in dirs.iter().enumerate().skip(1) {
        if let Some(c) = children.get_mut(d.parent) {
            c.push(i);
        }
    }
    // (directory, its fd, how many of its children were visited)
    let mut stack: Vec<(usize, Arc<OwnedFd>, usize)> = vec![(0, Arc::clone(root), 0)];
    while let Some((i, fd, next)) = stack.last_mut() {
        if let Some(&child) = children[*i].get(*next) {
            *next += 1;
            let child_fd = openat(&**fd, &dirs[child].name, DIR_FLAGS, Mode::empty())?;
            stack.push((child, Arc::new(child_fd), 0));
            continue;
        }
        let (i, fd) = (*i, Arc::clone(fd));
        stack.pop();
        entry::apply_dir_meta(&fd, &dirs[i].stat, &dirs[i].xattrs, keep_owner)?;
    }
    Ok(())
}

/// Copies one entry of any type, `src_name` of the directory `src_dir`, to a new `dst_name` of
/// `dst_dir`, as [`copy_tree`] copies entries: a directory with everything in it (leaving out
/// `skip_everywhere`), a file cloned or copied, a symlink as a symlink (never followed).
pub fn copy_entry_at(
    (src_dir, src_name): (&OwnedFd, &OsStr),
    (dst_dir, dst_name): (&OwnedFd, &OsStr),
    mode: DataMode,
    skip_everywhere: &[OsString],
) -> io::Result<()> {
    let st = rustix::fs::statat(src_dir, src_name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)?;
    let keep_owner = rustix::process::geteuid().is_root();
    #[allow(clippy::unnecessary_cast)]
    let kind = rustix::fs::FileType::from_raw_mode(st.st_mode as _);
    let shown = Path::new(dst_name);
    match kind {
        rustix::fs::FileType::Directory => {
            let opts = Options {
                mode,
                skip_top: Vec::new(),
                skip_everywhere: skip_everywhere.to_vec(),
                threads: 2,
                progress: Arc::new(Progress::default()),
            };
            let src = openat(src_dir, src_name, DIR_FLAGS, Mode::empty())?;
            copy_tree_at(src, dst_dir, dst_name, &opts)
        }
        rustix::fs::FileType::RegularFile => {
            entry::copy_file_at(src_dir, src_name, dst_dir, dst_name, &st, mode, keep_owner, shown).map(|_| ())
        }
        rustix::fs::FileType::Symlink => entry::copy_symlink_at(src_dir, src_name, dst_dir, dst_name, &st, keep_owner),
        other => entry::copy_special_at(dst_dir, dst_name, other, &st, keep_owner, shown),
    }
}
