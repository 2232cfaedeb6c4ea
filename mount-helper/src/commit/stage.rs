//! Preparing new objects in the staging directory before the commit point: files with their
//! data and metadata, directories, symlinks, device nodes, further names of files, copies of
//! pinned objects. Everything here is created by us in our own directory; SRC and the pin are
//! only read, through confined handles.

use super::shown;
use crate::confined::{Dir, Identity, Meta, set_meta_of};
use crate::control::client::Client;
use crate::error::{Error, Result};
use crate::materialize::write_data;
use agentfs_core::FileKind;
use agentfs_platform::tree_copy::{DataMode, copy_entry_at};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

/// A staged object: its name in the staging directory and its identity.
#[derive(Clone, Debug)]
pub struct Staged {
    pub name: OsString,
    pub id: Identity,
}

pub struct Stager<'a> {
    pub staging: &'a Dir,
    next: usize,
    /// Bytes of file data written.
    pub bytes: u64,
}

fn fail(shown: &Path) -> impl Fn(io::Error) -> Error + '_ {
    move |e| Error::System(format!("cannot prepare {} for the commit: {}", shown.display(), crate::confined::cause(&e)))
}

impl<'a> Stager<'a> {
    pub fn new(staging: &'a Dir) -> Stager<'a> {
        Stager { staging, next: 0, bytes: 0 }
    }

    /// A fresh name in the staging directory (also for objects moved aside).
    pub fn name(&mut self) -> OsString {
        self.next += 1;
        OsString::from(format!("{:08}", self.next))
    }

    fn staged(&self, name: OsString) -> io::Result<Staged> {
        let id = self.staging.identity(&name)?.ok_or_else(|| io::Error::other("the staged object vanished"))?;
        Ok(Staged { name, id })
    }

    /// A regular file with node `id`'s data: the pinned file (`pinned`: its directory and name)
    /// cloned and the changed ranges written over it, or all of it written.
    pub fn file(
        &mut self,
        client: &mut Client,
        id: u64,
        pinned: Option<(&Dir, &OsStr)>,
        shown: &Path,
    ) -> Result<Staged> {
        let meta = shown::meta(client, id, FileKind::Regular)?;
        let name = self.name();
        let fd = self.staging.create_file(&name, 0o600).map_err(fail(shown))?;
        if let Some((dir, n)) = pinned {
            let src = dir.open_file(n, false).map_err(fail(shown))?;
            clone_into(&src, &fd).map_err(fail(shown))?;
        }
        let f = File::from(fd);
        self.bytes += write_data(client, id, &f, shown, pinned.is_some())?;
        // Made durable with everything staged, by one syncfs before the commit point.
        let fd = OwnedFd::from(f);
        let st = rustix::fs::fstat(&fd).map_err(|e| fail(shown)(e.into()))?;
        set_meta_of(&fd, &st, &meta).map_err(fail(shown))?;
        self.staged(name).map_err(fail(shown))
    }

    /// An empty directory, owned and with xattrs as node `id` (its mode and times are set once
    /// it is filled, by the commit's last operations).
    pub fn dir(&mut self, client: &mut Client, id: u64, shown: &Path) -> Result<(Staged, Meta)> {
        let meta = shown::meta(client, id, FileKind::Directory)?;
        let name = self.name();
        self.staging.mkdir(&name, 0o700).map_err(fail(shown))?;
        let s = self.staged(name).map_err(fail(shown))?;
        let mut now = self.staging.meta(&s.name).map_err(fail(shown))?.map(|m| m.meta).unwrap_or_else(|| meta.clone());
        (now.uid, now.gid, now.xattrs) = (meta.uid, meta.gid, meta.xattrs.clone());
        self.staging.set_meta(&s.name, s.id, &now).map_err(fail(shown))?;
        Ok((s, meta))
    }

    /// A symlink, FIFO, socket or device node like node `id`.
    pub fn special(&mut self, client: &mut Client, id: u64, kind: FileKind, shown: &Path) -> Result<Staged> {
        let meta = shown::meta(client, id, kind)?;
        let name = self.name();
        if kind == FileKind::Symlink {
            let target = client.readlink(id)?;
            self.staging.symlink(&target, &name).map_err(fail(shown))?;
        } else {
            let rdev = client.stat(id)?.rdev;
            let ft = rustix::fs::FileType::from_raw_mode(kind.mode_bits() as _);
            self.staging.mknod(&name, ft, rdev).map_err(fail(shown))?;
        }
        let s = self.staged(name).map_err(fail(shown))?;
        self.staging.set_meta(&s.name, s.id, &meta).map_err(fail(shown))?;
        Ok(s)
    }

    /// Another name for the object `name` of `dir` (which must still be `want`).
    pub fn link(&mut self, dir: &Dir, name: &OsStr, want: Identity, shown: &Path) -> Result<Staged> {
        let new = self.name();
        dir.link_to(name, self.staging, &new).map_err(fail(shown))?;
        let s = self.staged(new).map_err(fail(shown))?;
        if s.id != want {
            let _ = self.staging.unlink(&s.name);
            return Err(Error::Conflict(format!(
                "{} changed in SRC while the commit was prepared; nothing was written",
                shown.display()
            )));
        }
        Ok(s)
    }

    /// A copy of the pinned object `name` of `dir` (a whole tree for a directory).
    pub fn copy(&mut self, dir: &Dir, name: &OsStr, shown: &Path) -> Result<Staged> {
        let new = self.name();
        let (src, dst) = (dir.dup_fd().map_err(fail(shown))?, self.staging.dup_fd().map_err(fail(shown))?);
        copy_entry_at((&src, name), (&dst, &new), DataMode::Copy, &crate::owned::names()).map_err(fail(shown))?;
        self.staged(new).map_err(fail(shown))
    }
}

/// Fills `dst` with `src`'s data: a reflink clone where the filesystem can (Linux's FICLONE;
/// macOS clones only into a new name, so it copies), else a copy.
fn clone_into(src: &OwnedFd, dst: &OwnedFd) -> io::Result<()> {
    if agentfs_platform::os::fs::clone_into(dst, src).is_ok() {
        return Ok(());
    }
    let mut reader = File::from(rustix::io::fcntl_dupfd_cloexec(src, 0)?);
    let mut writer = File::from(rustix::io::fcntl_dupfd_cloexec(dst, 0)?);
    std::io::copy(&mut reader, &mut writer)?;
    Ok(())
}
