//! Turning a mount's changes into the operations of a commit into SRC: checking that SRC did not
//! change under any of them since the pin, and preparing every new file in the staging
//! directory first.

use super::base::Base;
use super::journal::{Meta, Op, bytes};
use super::ops::{identity, set_meta, staged_name};
use crate::changeset::{ChangeSet, Item, What};
use crate::control::client::Client;
use crate::error::{Error, Result};
use crate::materialize::write_data;
use agentfs_core::FileKind;
use agentfs_platform::tree_copy;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// What a commit will do, in order.
#[derive(Default)]
pub struct Plan {
    /// Objects moved out of the way first (renamed directories keep their inode and content).
    detach: Vec<Op>,
    main: Vec<Op>,
    /// Further names of hardlinked files, once their content is in place.
    links: Vec<Op>,
    /// Directory metadata, deepest first, once their content is complete.
    dir_meta: Vec<(PathBuf, Meta)>,
    /// Bytes of file data written into the staging directory.
    pub staged_bytes: u64,
    /// One line per change, for --dry-run and the report.
    pub lines: Vec<String>,
}

impl Plan {
    pub fn into_ops(mut self) -> Vec<Op> {
        self.dir_meta.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        let mut ops = self.detach;
        ops.append(&mut self.main);
        ops.append(&mut self.links);
        ops.extend(self.dir_meta.into_iter().map(|(p, meta)| Op::SetMeta { path: bytes(&p), meta }));
        ops
    }
}

/// Builds the plan. Without `staging` (a dry run) nothing is written anywhere.
pub struct Planner<'a> {
    pub client: &'a mut Client,
    pub set: &'a ChangeSet,
    pub src: &'a Path,
    pub lower: &'a Path,
    base: &'a Base,
    pub staging: Option<&'a Path>,
    /// What the mount shows at each changed path.
    shown: HashMap<PathBuf, u64>,
    next: usize,
    /// Node id -> the SRC path its content goes to (later names link to it).
    first: HashMap<u64, PathBuf>,
}

fn conflict(src: &Path, rel: &Path) -> Error {
    Error::Conflict(format!(
        "{} changed in SRC since the mount was pinned, and the mount changed it too; nothing was written. \
         Commit elsewhere with --to DIR, or look at the change and mount again",
        src.join(rel).display()
    ))
}

/// Whether `a` (in SRC) is still what `b` (in the pin) is: same type, and for files the same
/// size and modification time, for symlinks the same target.
fn same_object(a: &Path, b: &Path) -> std::io::Result<bool> {
    let (ma, mb) = match (fs::symlink_metadata(a), fs::symlink_metadata(b)) {
        (Err(ea), Err(eb))
            if ea.kind() == std::io::ErrorKind::NotFound && eb.kind() == std::io::ErrorKind::NotFound =>
        {
            return Ok(true);
        }
        (Ok(ma), Ok(mb)) => (ma, mb),
        (Err(e), _) | (_, Err(e)) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => return Ok(false),
    };
    if ma.file_type() != mb.file_type() {
        return Ok(false);
    }
    Ok(if ma.is_file() {
        ma.len() == mb.len() && ma.mtime() == mb.mtime() && ma.mtime_nsec() == mb.mtime_nsec()
    } else if ma.file_type().is_symlink() {
        fs::read_link(a)? == fs::read_link(b)?
    } else if ma.is_dir() {
        true
    } else {
        ma.rdev() == mb.rdev()
    })
}

/// Whether the trees at `a` and `b` hold the same objects (by [`same_object`]).
fn same_tree(a: &Path, b: &Path) -> std::io::Result<bool> {
    if !same_object(a, b)? {
        return Ok(false);
    }
    if !fs::symlink_metadata(a).is_ok_and(|m| m.is_dir()) {
        return Ok(true);
    }
    let names = |p: &Path| -> std::io::Result<Vec<std::ffi::OsString>> {
        let mut v: Vec<_> = fs::read_dir(p)?.map(|e| e.map(|e| e.file_name())).collect::<std::io::Result<_>>()?;
        v.sort();
        Ok(v)
    };
    let (na, nb) = (names(a)?, names(b)?);
    if na != nb {
        return Ok(false);
    }
    for n in na {
        if !same_tree(&a.join(&n), &b.join(&n))? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Where SRC stands at a path, for one change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stand {
    /// As pinned (or as the last commit of this mount left it): the change applies.
    Before,
    /// Already as the mount shows it (an earlier commit did it): nothing to do.
    Done,
}

impl<'a> Planner<'a> {
    pub fn new(
        client: &'a mut Client,
        set: &'a ChangeSet,
        src: &'a Path,
        lower: &'a Path,
        base: &'a Base,
        staging: Option<&'a Path>,
    ) -> Self {
        // What the mount shows at each changed path (absent where only a removal is listed).
        let shown = set.items.iter().filter(|i| i.what != What::Removed).map(|i| (i.path.clone(), i.id)).collect();
        Planner { client, set, src, lower, base, staging, shown, next: 0, first: HashMap::new() }
    }

    /// Where SRC stands at `rel`: as the pin has it (deeply, for a tree to remove) or as the
    /// last commit left it, as the mount shows it, or neither (a conflict).
    fn stand(&mut self, rel: &Path, deep: bool) -> Result<Stand> {
        let (a, b) = (self.src.join(rel), self.lower.join(rel));
        let cmp = |e: std::io::Error| Error::io("cannot compare", &a, &e);
        if self.shows(rel, &a)? {
            return Ok(Stand::Done);
        }
        if if deep { same_tree(&a, &b) } else { same_object(&a, &b) }.map_err(cmp)? {
            return Ok(Stand::Before);
        }
        if self.base.left(rel, &a).map_err(cmp)? {
            return Ok(Stand::Before);
        }
        Err(conflict(self.src, rel))
    }

    /// Whether SRC's object at `abs` is what the mount shows at `rel`.
    fn shows(&mut self, rel: &Path, abs: &Path) -> Result<bool> {
        let md = match fs::symlink_metadata(abs) {
            Ok(md) => md,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(!self.shown.contains_key(rel)),
            Err(e) => return Err(Error::io("cannot read", abs, &e)),
        };
        let Some(&id) = self.shown.get(rel) else { return Ok(false) };
        let a = self.client.stat(id)?;
        let kind = FileKind::from_mode(a.mode_type);
        if kind != FileKind::from_mode(md.mode()) || a.uid != md.uid() || a.gid != md.gid() {
            return Ok(false);
        }
        if kind != Some(FileKind::Symlink) && u32::from(a.perm) != md.mode() & 0o7777 {
            return Ok(false);
        }
        Ok(match kind {
            Some(FileKind::Regular) => a.size == md.len() && a.mtime == (md.mtime(), md.mtime_nsec() as u32),
            Some(FileKind::Symlink) => {
                let target = fs::read_link(abs).map_err(|e| Error::io("cannot read", abs, &e))?;
                self.client.readlink(id)? == target.into_os_string().into_encoded_bytes()
            }
            Some(FileKind::Directory) => true,
            _ => a.rdev == md.rdev(),
        })
    }

    fn who(&self, p: &Path) -> Result<super::journal::Identity> {
        identity(p)
            .map_err(|e| Error::io("cannot read", p, &e))?
            .ok_or_else(|| Error::Conflict(format!("{} is gone from SRC; nothing was written", p.display())))
    }

    fn meta(&mut self, item: &Item) -> Result<Meta> {
        let a = self.client.stat(item.id)?;
        let xattrs = if item.kind == FileKind::Symlink { None } else { Some(self.client.xattrs(item.id)?) };
        Ok(Meta { perm: a.perm, uid: a.uid, gid: a.gid, atime: a.atime, mtime: a.mtime, xattrs })
    }

    /// A fresh name in the staging directory (none in a dry run).
    fn staged(&mut self) -> Option<PathBuf> {
        self.next += 1;
        self.staging.map(|s| s.join(staged_name(self.next)))
    }

    pub fn build(mut self) -> Result<Plan> {
        let mut plan = Plan::default();
        for item in &self.set.items {
            let dst = self.src.join(&item.path);
            let rel = item.path.display();
            match &item.what {
                What::Removed => {
                    if self.stand(&item.path, true)? == Stand::Done || identity(&dst).ok().flatten().is_none() {
                        continue;
                    }
                    plan.main.push(Op::Remove { path: bytes(&dst), who: self.who(&dst)? });
                    plan.lines.push(format!("remove {rel}"));
                }
                What::Created => {
                    if self.stand(&item.path, false)? == Stand::Done {
                        continue;
                    }
                    self.create(item, &dst, &mut plan)?;
                    plan.lines.push(format!("create {rel}"));
                }
                What::Moved { from, data, meta } => {
                    if self.stand(&item.path, false)? == Stand::Done {
                        continue;
                    }
                    let moved_away = self.set.is_removed(from);
                    let from_src = self.src.join(from);
                    if identity(&from_src).ok().flatten().is_none() {
                        // Gone from SRC: fine only if an earlier commit of this mount moved it.
                        if !self.base.left(from, &from_src).unwrap_or(false) {
                            return Err(conflict(self.src, from));
                        }
                        match item.kind {
                            // Its content changes are changes of their own.
                            FileKind::Directory if *meta => {
                                let m = self.meta(item)?;
                                plan.dir_meta.push((dst.clone(), m));
                            }
                            FileKind::Directory => {}
                            FileKind::Regular => {
                                let pinned = self.lower.join(from);
                                self.stage_file(item, &dst, Some(&pinned), &mut plan)?;
                            }
                            _ => self.create(item, &dst, &mut plan)?,
                        }
                        plan.lines.push(format!("update {rel}"));
                        continue;
                    }
                    if !moved_away && item.kind != FileKind::Directory {
                        let existing = self.first.get(&item.id).cloned().unwrap_or(from_src);
                        plan.links.push(Op::Link { existing: bytes(&existing), path: bytes(&dst) });
                        plan.lines.push(format!("link {rel} to {}", from.display()));
                        continue;
                    }
                    if *data && item.kind == FileKind::Regular {
                        // New content from the pinned file: stage it; the old name goes with
                        // its own removal.
                        let pinned = self.lower.join(from);
                        self.stage_file(item, &dst, Some(&pinned), &mut plan)?;
                    } else {
                        let staged = self.staged();
                        if let Some(s) = &staged {
                            plan.detach.push(Op::Detach {
                                from: bytes(&from_src),
                                who: self.who(&from_src)?,
                                to: bytes(s),
                            });
                            plan.main.push(Op::Place { staged: bytes(s), path: bytes(&dst) });
                        }
                        if *meta {
                            let m = self.meta(item)?;
                            if item.kind == FileKind::Directory {
                                plan.dir_meta.push((dst.clone(), m));
                            } else {
                                plan.main.push(Op::SetMeta { path: bytes(&dst), meta: m });
                            }
                        }
                        self.first.insert(item.id, dst.clone());
                    }
                    plan.lines.push(format!("move {} to {rel}", from.display()));
                }
                What::Modified { data, meta } => {
                    if self.stand(&item.path, false)? == Stand::Done {
                        continue;
                    }
                    if *data && item.kind == FileKind::Regular {
                        match self.first.get(&item.id).cloned() {
                            Some(existing) => {
                                plan.links.push(Op::Link { existing: bytes(&existing), path: bytes(&dst) })
                            }
                            // The changed ranges are relative to the pinned file.
                            None => self.stage_file(item, &dst, Some(&self.lower.join(&item.path)), &mut plan)?,
                        }
                        plan.lines.push(format!("write {rel}"));
                    } else if *meta {
                        let m = self.meta(item)?;
                        if item.kind == FileKind::Directory {
                            plan.dir_meta.push((dst.clone(), m));
                        } else {
                            plan.main.push(Op::SetMeta { path: bytes(&dst), meta: m });
                        }
                        plan.lines.push(format!("set metadata of {rel}"));
                    }
                }
            }
        }
        self.revert_stale(&mut plan)?;
        Ok(plan)
    }

    /// Paths an earlier commit of this mount wrote that the mount no longer changes (a file
    /// added, committed, then deleted; a rename undone): SRC goes back to the pinned state there.
    fn revert_stale(&mut self, plan: &mut Plan) -> Result<()> {
        let mentioned: std::collections::HashSet<&Path> = self
            .set
            .items
            .iter()
            .flat_map(|i| {
                std::iter::once(i.path.as_path()).chain(match &i.what {
                    What::Moved { from, .. } => Some(from.as_path()),
                    _ => None,
                })
            })
            .collect();
        let stale: Vec<PathBuf> = self
            .base
            .paths
            .keys()
            .map(|k| PathBuf::from(OsStr::from_bytes(k)))
            .filter(|p| !mentioned.contains(p.as_path()))
            .collect();
        for rel in stale {
            let (now, pinned) = (self.src.join(&rel), self.lower.join(&rel));
            if same_object(&now, &pinned).map_err(|e| Error::io("cannot compare", &now, &e))? {
                continue;
            }
            if !self.base.left(&rel, &now).map_err(|e| Error::io("cannot compare", &now, &e))? {
                return Err(conflict(self.src, &rel));
            }
            if let Some(who) = identity(&now).map_err(|e| Error::io("cannot read", &now, &e))? {
                plan.main.push(Op::Remove { path: bytes(&now), who });
            }
            if identity(&pinned).map_err(|e| Error::io("cannot read", &pinned, &e))?.is_some() {
                if let Some(staged) = self.staged() {
                    tree_copy::copy_entry(&pinned, &staged, tree_copy::DataMode::Copy)
                        .map_err(|e| Error::io("cannot stage", &staged, &e))?;
                    plan.main.push(Op::Place { staged: bytes(&staged), path: bytes(&now) });
                }
            }
            plan.lines.push(format!("restore {} as pinned", rel.display()));
        }
        Ok(())
    }

    fn create(&mut self, item: &Item, dst: &Path, plan: &mut Plan) -> Result<()> {
        match item.kind {
            FileKind::Directory => {
                plan.main.push(Op::Mkdir { path: bytes(dst) });
                let m = self.meta(item)?;
                plan.dir_meta.push((dst.to_path_buf(), m));
            }
            FileKind::Regular => match self.first.get(&item.id).cloned() {
                Some(existing) => plan.links.push(Op::Link { existing: bytes(&existing), path: bytes(dst) }),
                None => self.stage_file(item, dst, None, plan)?,
            },
            kind => {
                let m = self.meta(item)?;
                if let Some(staged) = self.staged() {
                    let made = if kind == FileKind::Symlink {
                        let to = self.client.readlink(item.id)?;
                        std::os::unix::fs::symlink(OsStr::from_bytes(&to), &staged)
                    } else {
                        let a = self.client.stat(item.id)?;
                        let ft = rustix::fs::FileType::from_raw_mode(kind.mode_bits() as _);
                        agentfs_platform::os::fs::mknodat(rustix::fs::CWD, staged.as_os_str(), ft, 0o600, a.rdev)
                    };
                    made.map_err(|e| Error::io("cannot stage", &staged, &e))?;
                    set_meta(&staged, &m).map_err(|e| Error::io("cannot stage", &staged, &e))?;
                    plan.main.push(Op::Place { staged: bytes(&staged), path: bytes(dst) });
                }
            }
        }
        Ok(())
    }

    /// Stages the new content of a regular file (from `base`'s data when it is a changed lower
    /// file, else from nothing), with its metadata, to be renamed to `dst`.
    fn stage_file(&mut self, item: &Item, dst: &Path, base: Option<&Path>, plan: &mut Plan) -> Result<()> {
        let m = self.meta(item)?;
        self.first.insert(item.id, dst.to_path_buf());
        let Some(staged) = self.staged() else { return Ok(()) };
        let fail = |e: std::io::Error| Error::io("cannot stage", &staged, &e);
        let f = OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).open(&staged).map_err(fail)?;
        if let Some(base) = base {
            clone_into(base, &f).map_err(|e| Error::io("cannot copy", base, &e))?;
        }
        plan.staged_bytes += write_data(self.client, item.id, &f, &staged, base.is_some())?;
        f.sync_all().map_err(fail)?;
        drop(f);
        set_meta(&staged, &m).map_err(fail)?;
        plan.main.push(Op::Place { staged: bytes(&staged), path: bytes(dst) });
        Ok(())
    }
}

/// Fills `dst` with `src`'s data: a reflink clone where the filesystem can, else a copy.
fn clone_into(src: &Path, dst: &File) -> std::io::Result<()> {
    let s = File::open(src)?;
    if agentfs_platform::os::fs::clone_into(dst, &s).is_ok() {
        return Ok(());
    }
    let mut reader = &s;
    let mut writer = dst;
    std::io::copy(&mut reader, &mut writer)?;
    Ok(())
}
