//! Making a planned clone.

use super::{Progress, TreePlan};
use std::io;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Reproduces one regular file's data at a new path (which must not exist).
pub trait FileCloner: Sync {
    fn clone_file(&self, src: &Path, dst: &Path, size: u64) -> io::Result<()>;
}

/// Copies the data (on Windows 11 24H2 and later, `CopyFile` itself block-clones on ReFS).
pub struct CopyCloner;

impl FileCloner for CopyCloner {
    fn clone_file(&self, src: &Path, dst: &Path, _size: u64) -> io::Result<()> {
        std::fs::copy(src, dst).map(|_| ())
    }
}

/// Makes `plan` (of the tree at `src`) at `dst`, which must not exist, on `threads` threads.
/// On error the partial clone is left for the caller to remove.
pub fn execute(
    plan: &TreePlan,
    src: &Path,
    dst: &Path,
    cloner: &dyn FileCloner,
    threads: usize,
    progress: &Progress,
) -> io::Result<()> {
    std::fs::create_dir(dst)?;
    for d in &plan.dirs {
        std::fs::create_dir(dst.join(d))?;
        progress.dirs.fetch_add(1, Ordering::Relaxed);
    }
    clone_files(plan, src, dst, cloner, threads, progress)?;
    for (name, target, is_dir) in &plan.symlinks {
        symlink(target, &dst.join(name), *is_dir).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot make the symlink {} ({e})", dst.join(name).display()))
        })?;
        progress.files.fetch_add(1, Ordering::Relaxed);
    }
    for (name, first) in &plan.links {
        std::fs::hard_link(dst.join(first), dst.join(name))?;
    }
    for s in &plan.skipped {
        tracing::warn!(path = %src.join(s).display(), "left out of the clone: not a file, directory or symlink");
    }
    for f in &plan.files {
        copy_meta(&src.join(&f.rel), &dst.join(&f.rel))?;
    }
    let mut dirs: Vec<&Path> = plan.dirs.iter().map(|d| d.as_path()).collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    dirs.push(Path::new(""));
    for d in dirs {
        copy_meta(&src.join(d), &dst.join(d))?;
    }
    Ok(())
}

/// Clones every file of `plan`, `threads` at a time; stops at the first error.
fn clone_files(
    plan: &TreePlan,
    src: &Path,
    dst: &Path,
    cloner: &dyn FileCloner,
    threads: usize,
    progress: &Progress,
) -> io::Result<()> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let error: Mutex<Option<io::Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, 64) {
            s.spawn(|| {
                while !failed.load(Ordering::Acquire) {
                    let Some(f) = plan.files.get(next.fetch_add(1, Ordering::AcqRel)) else { return };
                    let (from, to) = (src.join(&f.rel), dst.join(&f.rel));
                    match cloner.clone_file(&from, &to, f.size) {
                        Ok(()) => {
                            progress.files.fetch_add(1, Ordering::Relaxed);
                            progress.bytes.fetch_add(f.size, Ordering::Relaxed);
                        }
                        Err(e) => {
                            if !failed.swap(true, Ordering::AcqRel) {
                                let e = io::Error::new(e.kind(), format!("{}: {e}", from.display()));
                                *error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            }
                            return;
                        }
                    }
                }
            });
        }
    });
    match error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Gives `dst` the permissions (Unix mode, or Windows read-only flag) and times of `src`.
fn copy_meta(src: &Path, dst: &Path) -> io::Result<()> {
    let md = std::fs::symlink_metadata(src)?;
    let mut times = std::fs::FileTimes::new();
    if let Ok(t) = md.accessed() {
        times = times.set_accessed(t);
    }
    if let Ok(t) = md.modified() {
        times = times.set_modified(t);
    }
    #[cfg(windows)]
    if let Ok(t) = md.created() {
        times = std::os::windows::fs::FileTimesExt::set_created(times, t);
    }
    // Times first: a read-only file may not be opened for writing them afterwards (Windows).
    let f = open_for_times(dst, md.is_dir())?;
    f.set_times(times)?;
    drop(f);
    std::fs::set_permissions(dst, md.permissions())
}

fn open_for_times(p: &Path, dir: bool) -> io::Result<std::fs::File> {
    #[cfg(windows)]
    {
        let mut o = std::fs::OpenOptions::new();
        o.write(true);
        if dir {
            // FILE_FLAG_BACKUP_SEMANTICS: how Windows opens a directory.
            std::os::windows::fs::OpenOptionsExt::custom_flags(&mut o, 0x0200_0000);
        }
        o.open(p)
    }
    #[cfg(not(windows))]
    {
        let _ = dir;
        std::fs::File::open(p)
    }
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path, _is_dir: bool) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

/// Windows makes file and directory symlinks differently, and only with Developer Mode or the
/// symlink privilege.
#[cfg(windows)]
fn symlink(target: &Path, link: &Path, is_dir: bool) -> io::Result<()> {
    if is_dir {
        std::os::windows::fs::symlink_dir(target, link)
    } else {
        std::os::windows::fs::symlink_file(target, link)
    }
}
