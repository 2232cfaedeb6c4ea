//! Applying the operations of a journal. Every operation is safe to repeat after a crash at any
//! point, including in the middle of itself, and after the operations that followed it.

use super::journal::{Identity, Meta, Op, path};
use crate::error::{Error, Result};
use rustix::fs::{AtFlags, Timespec, Timestamps};
use std::ffi::OsStr;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The identity of what is at `p` (not following a symlink there).
pub fn identity(p: &Path) -> std::io::Result<Option<Identity>> {
    match fs::symlink_metadata(p) {
        Ok(md) => Ok(Some(Identity { dev: md.dev(), ino: md.ino() })),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn is(p: &Path, who: Identity) -> std::io::Result<bool> {
    Ok(identity(p)? == Some(who))
}

pub fn apply(op: &Op) -> Result<()> {
    let fail = |what: &str, p: &Path| {
        let what = what.to_string();
        let p = p.to_path_buf();
        move |e: std::io::Error| Error::io(&what, &p, &e)
    };
    match op {
        Op::Detach { from, who, to } => {
            let (from, to) = (path(from), path(to));
            if is(&from, *who).map_err(fail("cannot read", &from))?
                && identity(&to).map_err(fail("cannot read", &to))?.is_none()
            {
                fs::rename(&from, &to).map_err(fail("cannot move away", &from))?;
            }
        }
        Op::Remove { path: p, who } => {
            let p = path(p);
            if is(&p, *who).map_err(fail("cannot read", &p))? {
                crate::materialize::remove_any(&p)?;
            }
        }
        Op::Mkdir { path: p } => {
            let p = path(p);
            match fs::create_dir(&p) {
                Ok(()) => {}
                Err(e)
                    if e.kind() == ErrorKind::AlreadyExists && fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) => {}
                Err(e) => return Err(fail("cannot create", &p)(e)),
            }
        }
        Op::Place { staged, path: p } => {
            let (staged, p) = (path(staged), path(p));
            if identity(&staged).map_err(fail("cannot read", &staged))?.is_some() {
                fs::rename(&staged, &p).map_err(fail("cannot put in place", &p))?;
            }
        }
        Op::Link { existing, path: p } => {
            let (existing, p) = (path(existing), path(p));
            let want = identity(&existing).map_err(fail("cannot read", &existing))?;
            if want.is_some() && identity(&p).map_err(fail("cannot read", &p))? != want {
                // Link beside the target, then rename over it: the name never goes missing.
                let tmp = p.with_file_name(format!(
                    ".agentfs-link.{}",
                    p.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
                ));
                let _ = fs::remove_file(&tmp);
                fs::hard_link(&existing, &tmp).map_err(fail("cannot link", &p))?;
                fs::rename(&tmp, &p).map_err(fail("cannot put in place", &p))?;
            }
        }
        Op::SetMeta { path: p, meta } => {
            let p = path(p);
            set_meta(&p, meta).map_err(fail("cannot set the metadata of", &p))?;
        }
    }
    Ok(())
}

/// Owner (as root), mode and xattrs (not on symlinks), and times of `p`.
pub fn set_meta(p: &Path, m: &Meta) -> std::io::Result<()> {
    if rustix::process::geteuid().is_root() {
        rustix::fs::chownat(
            rustix::fs::CWD,
            p,
            Some(rustix::fs::Uid::from_raw(m.uid)),
            Some(rustix::fs::Gid::from_raw(m.gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )?;
    }
    if let Some(xattrs) = &m.xattrs {
        rustix::fs::chmodat(rustix::fs::CWD, p, agentfs_platform::os::fs::perm_mode(m.perm), AtFlags::empty())?;
        crate::materialize::set_xattrs(p, xattrs)?;
    }
    let ts = |(s, n): (i64, u32)| Timespec { tv_sec: s, tv_nsec: n as _ };
    let times = Timestamps { last_access: ts(m.atime), last_modification: ts(m.mtime) };
    rustix::fs::utimensat(rustix::fs::CWD, p, &times, AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(())
}

/// Makes everything the commit touched durable: the directories holding `paths`.
pub fn sync_dirs<'a>(paths: impl Iterator<Item = &'a Path>) {
    let mut seen = std::collections::HashSet::new();
    for p in paths {
        if let Some(dir) = p.parent() {
            if seen.insert(dir.to_path_buf()) {
                if let Ok(f) = fs::File::open(dir) {
                    let _ = f.sync_all();
                }
            }
        }
    }
}

/// The name of a staged object.
pub fn staged_name(n: usize) -> std::ffi::OsString {
    OsStr::from_bytes(format!("{n:08}").as_bytes()).to_os_string()
}
