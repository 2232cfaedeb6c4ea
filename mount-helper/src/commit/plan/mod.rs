//! Turning a mount's changes into the operations of a commit into SRC.
//!
//! Everything that can be checked is checked here, before the commit point, against SRC as it is
//! now (the commit holds SRC's lock): that SRC still holds, at every place a change touches, the
//! pinned object or what the last commit of this mount left there (by content), or already what
//! the mount shows; that every directory on the way is a directory beneath SRC, reached without
//! a symlink, on the staging directory's filesystem, and not one of agentfs's own. New content is
//! staged meanwhile. Anything else is a conflict, named by its path in the mount, and nothing is
//! written.
//!
//! Paths: the changes name places in the mount (`P`); `dest_now(P)` is where that place is in SRC
//! now (moves of directories above it not done yet), and the operations act on `P` itself, since
//! they run in order: further names of files that stay where they are; reverts of what an
//! earlier commit left and the mount no longer changes; objects moved away (deepest first); the
//! changes in the mount's order (directories before what they hold); last the metadata of
//! directories (deepest first).

mod items;
mod paths;
mod stale;

use super::check::{Found, Trees};
use super::journal::{Op, bytes};
use super::stage::{Staged, Stager};
use crate::changeset::{ChangeSet, What};
use crate::confined::{Dir, Identity};
use crate::control::client::Client;
use crate::error::{Error, Result};
use crate::quote;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// What a commit will do.
#[derive(Default)]
pub struct Plan {
    pub ops: Vec<Op>,
    /// One line per change, for --dry-run and the report.
    pub lines: Vec<String>,
    pub staged_bytes: u64,
    /// Places whose state the base records after the commit, with the pinned object each
    /// started as.
    pub record: BTreeMap<PathBuf, Option<PathBuf>>,
    /// Base entries that no longer matter (SRC is as pinned there).
    pub forget: Vec<PathBuf>,
}

/// What the planner reads and where it stages.
pub struct Inputs<'a> {
    pub client: &'a mut Client,
    pub set: &'a ChangeSet,
    pub trees: Trees<'a>,
    /// None: a dry run (nothing is staged).
    pub staging: Option<&'a Dir>,
    /// The mount point, to name paths as the user sees them.
    pub mnt: &'a Path,
    /// agentfs's own directories, by identity.
    pub owned: HashSet<Identity>,
}

/// How a moved object gets to its new place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Way {
    /// The object itself is renamed (it keeps its inode; a directory keeps its content).
    Detach,
    /// Another name of an object that stays where it was.
    Link,
    /// New content, staged from the pinned file.
    Stage,
}

pub struct Planner<'a> {
    inp: Inputs<'a>,
    stager: Option<Stager<'a>>,
    /// Mount paths of moved directories -> where in the pin they came from.
    moved_dirs: HashMap<PathBuf, PathBuf>,
    created_dirs: HashSet<PathBuf>,
    /// Mount paths listed as removed (their lower object leaves), and those lower objects.
    removed_paths: HashSet<PathBuf>,
    removed_origins: HashSet<PathBuf>,
    /// Items already as the mount shows them in SRC, by mount path.
    done: HashSet<PathBuf>,
    /// How each moved item goes, by mount path.
    ways: HashMap<PathBuf, Way>,
    /// Places moved objects are renamed to -> where they are in SRC now.
    relocated: BTreeMap<PathBuf, PathBuf>,
    /// Pinned objects renamed away by this commit (their removal needs nothing more).
    detached_origins: HashSet<PathBuf>,
    /// Directories this commit creates.
    new_dirs: HashSet<PathBuf>,
    /// Places emptied before anything is put there.
    cleared: HashSet<PathBuf>,
    /// Places whose whole tree is moved aside or replaced (what is below goes with them).
    covered: HashSet<PathBuf>,
    /// Node id -> its staged content (further names link to it).
    first: HashMap<u64, Staged>,
    /// Directories of SRC checked as places to write, by where they are now.
    checked: HashMap<PathBuf, std::result::Result<(), String>>,
    dev: u64,
    stale_ops: Vec<Op>,
    /// Further names of objects that stay where they are, made first (before anything moves).
    link_ops: Vec<Op>,
    detach_ops: Vec<(usize, Op)>,
    main: Vec<Op>,
    dir_meta: Vec<(PathBuf, Op)>,
    plan: Plan,
}

impl<'a> Planner<'a> {
    pub fn new(inp: Inputs<'a>) -> Result<Planner<'a>> {
        let on = inp.staging.unwrap_or(inp.trees.src);
        #[allow(clippy::unnecessary_cast)]
        let dev = on.stat_self().map_err(|e| Error::io("cannot read", &on.path(), &e))?.st_dev as u64;
        let mut moved_dirs = HashMap::new();
        let mut created_dirs = HashSet::new();
        let mut removed_paths = HashSet::new();
        for i in &inp.set.items {
            match &i.what {
                What::Moved { from, .. } if i.kind == agentfs_core::FileKind::Directory => {
                    moved_dirs.insert(i.path.clone(), from.clone());
                }
                What::Created if i.kind == agentfs_core::FileKind::Directory => {
                    created_dirs.insert(i.path.clone());
                }
                What::Removed => {
                    removed_paths.insert(i.path.clone());
                }
                _ => {}
            }
        }
        Ok(Planner {
            stager: inp.staging.map(Stager::new),
            inp,
            moved_dirs,
            created_dirs,
            removed_paths,
            removed_origins: HashSet::new(),
            done: HashSet::new(),
            ways: HashMap::new(),
            relocated: BTreeMap::new(),
            detached_origins: HashSet::new(),
            new_dirs: HashSet::new(),
            cleared: HashSet::new(),
            covered: HashSet::new(),
            first: HashMap::new(),
            checked: HashMap::new(),
            dev,
            stale_ops: Vec::new(),
            link_ops: Vec::new(),
            detach_ops: Vec::new(),
            main: Vec::new(),
            dir_meta: Vec::new(),
            plan: Plan::default(),
        })
    }

    /// Checks every change and stages what it needs; the operations, in order.
    pub fn build(mut self) -> Result<Plan> {
        let set = self.inp.set;
        self.removed_origins = self.removed_paths.iter().filter_map(|r| self.origin_below(r)).collect();
        for item in &set.items {
            self.decide(item)?;
        }
        for item in &set.items {
            let rel = quote::text(&item.path);
            let line = match &item.what {
                What::Removed => self.removed(item)?.then(|| format!("remove {rel}")),
                What::Created => self.created(item)?.then(|| format!("create {rel}")),
                What::Moved { from, .. } => self.moved(item)?.then(|| format!("move {} to {rel}", quote::text(from))),
                What::Modified { data, .. } => self
                    .modified(item)?
                    .then(|| if *data { format!("write {rel}") } else { format!("set metadata of {rel}") }),
            };
            self.plan.lines.extend(line);
            let origin = self.origin_of(item);
            self.plan.record.insert(item.path.clone(), origin);
        }
        self.revert_stale()?;
        Ok(self.finish())
    }

    fn finish(mut self) -> Plan {
        self.detach_ops.sort_by_key(|(depth, _)| std::cmp::Reverse(*depth));
        self.dir_meta.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        let mut ops = std::mem::take(&mut self.link_ops);
        ops.append(&mut self.stale_ops);
        ops.extend(self.detach_ops.drain(..).map(|(_, op)| op));
        ops.append(&mut self.main);
        ops.extend(self.dir_meta.drain(..).map(|(_, op)| op));
        self.plan.ops = ops;
        for src in self.relocated.values() {
            self.plan.record.entry(src.clone()).or_insert(None);
        }
        self.plan.staged_bytes = self.stager.as_ref().map_or(0, |s| s.bytes);
        self.plan
    }

    /// Where the user sees `rel`.
    fn shown(&self, rel: &Path) -> PathBuf {
        self.inp.mnt.join(rel)
    }

    fn conflict(&self, rel: &Path, why: &str) -> Error {
        Error::Conflict(format!(
            "{}: {why}; nothing was written. Look at SRC there, then commit again, or commit elsewhere with --to DIR",
            quote::text(self.shown(rel))
        ))
    }

    fn changed_conflict(&self, rel: &Path) -> Error {
        self.conflict(rel, "SRC changed there since the mount was pinned, and the mount changed it too")
    }

    fn find(&self, now: Option<&Path>) -> Result<Option<Found>> {
        let Some(now) = now else { return Ok(None) };
        super::check::find_strict(self.inp.trees.src, now).map_err(|e| self.io_conflict(now, &e))
    }

    /// Like `find`, where a non-directory on the way means nothing is there.
    fn find_lenient(&self, now: &Path) -> Result<Option<Found>> {
        super::check::find(self.inp.trees.src, now).map_err(|e| self.io_conflict(now, &e))
    }

    /// An error met reading SRC at `now`: a symlink or another mount on the way is a conflict.
    fn io_conflict(&self, now: &Path, e: &std::io::Error) -> Error {
        match crate::confined::errno(e) {
            Some(libc::ELOOP) | Some(libc::EXDEV) | Some(libc::ENOTDIR) => {
                // Name the directory on the way that is not a plain one.
                let why = now
                    .ancestors()
                    .skip(1)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .find_map(|a| self.check_one(a).err())
                    .unwrap_or_else(|| "a symlink, a file or another filesystem is on the way in SRC".into());
                self.conflict(now, &why)
            }
            _ => Error::System(format!(
                "cannot read {} in SRC: {}",
                self.shown(now).display(),
                crate::confined::cause(e)
            )),
        }
    }

    fn put(&mut self, staged: &Staged, at: &Path, old: Option<Identity>) {
        self.main.push(Op::Put { staged: bytes(Path::new(&staged.name)), new: staged.id, at: bytes(at), old });
    }
}
