//! `agentfs commit MNT [--to DIR] [--dry-run]`: keep what a mount changed.
//!
//! Into SRC: the changes are read with the mount frozen; every new file is prepared in a
//! staging directory on SRC's filesystem and synced; the journal then records the plan (the
//! commit point) and the operations run, each safe to repeat. `agentfs gc`, and the start of the
//! next commit, finish a journal whose commit died after that point, and roll back one that
//! died before it. SRC never holds half a commit.
//!
//! With `--to DIR`: the whole view is built as a new tree beside DIR and renamed to DIR.

pub mod base;
pub mod journal;
pub mod ops;
pub mod plan;

use crate::changeset::ChangeSet;
use crate::control::client::Client;
use crate::error::{Error, Result};
use crate::materialize::Tree;
use crate::pin::PinKind;
use crate::pin::location::{self, probe_reflink};
use crate::target;
use agentfs_platform::tree_copy::{self, DataMode};
use journal::{Journal, Op, Phase, bytes, path};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The name of the directories commits stage new content in.
pub const STAGING_DIR_NAME: &str = ".agentfs-staging";

#[derive(Debug, Default)]
pub struct Report {
    /// One line per change.
    pub lines: Vec<String>,
    pub ops: usize,
    pub staged_bytes: u64,
    pub millis: u64,
    pub target: PathBuf,
}

fn new_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:x}-{}", nanos, std::process::id())
}

pub fn commit(mnt: &Path, to: Option<&Path>, dry_run: bool) -> Result<Report> {
    recover()?;
    let (mnt, rec) = target::mounted(mnt)?;
    let started = Instant::now();
    let src = rec.source_path();
    if to.is_none() && rec.pin.kind == PinKind::Branch {
        return Err(Error::Input(format!(
            "{} is a branch of the snapshot {}, which is read-only; commit it elsewhere with --to DIR",
            mnt.display(),
            src.display()
        )));
    }
    if to.is_none() && rec.pin.kind == PinKind::Live {
        return Err(Error::Input(format!(
            "{} shows {} live (no pin): its lower layer is SRC itself, so writing into SRC would change the ground \
             under the mount; mount with a pin (--pin copy, reflink or snapshot) to commit, or commit with --to DIR",
            mnt.display(),
            src.display()
        )));
    }
    target::flush(&mnt)?;
    let mut client = Client::connect(&rec.id, &mnt)?;
    client.freeze()?;
    let set = ChangeSet::from_wire(client.changes()?)?;
    let lower = rec.pin.lower_root();
    let mut report = match to {
        Some(dir) => commit_tree(&mut client, &set, &lower, &rec.pin.hidden_names(), dir, dry_run)?,
        None => commit_back(&mut client, &set, &src, &lower, &rec.id, dry_run)?,
    };
    report.millis = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// Writes the mount's changes back into SRC.
fn commit_back(
    client: &mut Client,
    set: &ChangeSet,
    src: &Path,
    lower: &Path,
    mount_id: &str,
    dry_run: bool,
) -> Result<Report> {
    let mut base = base::Base::load(mount_id);
    if dry_run {
        let plan = plan::Planner::new(client, set, src, lower, &base, None).build()?;
        client.thaw()?;
        return Ok(Report { lines: plan.lines, target: src.to_path_buf(), ..Report::default() });
    }
    let place = location::place_for_rename(src, STAGING_DIR_NAME).ok_or_else(|| {
        Error::Permission(format!(
            "there is no place to stage the commit on the filesystem of {}: make a writable directory `{STAGING_DIR_NAME}` on it",
            src.display()
        ))
    })?;
    let id = new_id();
    let staging = place.dir.join(&id);
    let mut j = Journal::begin(id, src, &staging, false)?;
    let plan = or_roll_back(&j, || {
        std::fs::create_dir(&staging).map_err(|e| Error::io("cannot create", &staging, &e))?;
        let plan = plan::Planner::new(client, set, src, lower, &base, Some(&staging)).build()?;
        sync(&staging)?;
        Ok(plan)
    })?;
    client.thaw()?;
    let (lines, staged_bytes) = (plan.lines.clone(), plan.staged_bytes);
    j.ops = plan.into_ops();
    j.phase = Phase::Applying;
    // The commit point: from here on the commit is finished, by us or by recovery.
    j.save()?;
    finish(&j)?;
    // What this commit left is the ground of the next one (paths back as pinned drop out).
    base.paths.retain(|k, _| {
        let rel = Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(k));
        !matches!((base::summary(&src.join(rel)), base::summary(&lower.join(rel))), (Ok(a), Ok(b)) if a == b)
    });
    for item in &set.items {
        for rel in std::iter::once(&item.path).chain(match &item.what {
            crate::changeset::What::Moved { from, .. } => Some(from),
            _ => None,
        }) {
            if let Ok(s) = base::summary(&src.join(rel)) {
                base.paths.insert(rel.as_os_str().as_encoded_bytes().to_vec(), s);
            }
        }
    }
    base.save(mount_id)?;
    Ok(Report { lines, ops: j.ops.len(), staged_bytes, millis: 0, target: src.to_path_buf() })
}

/// Writes the whole view as a new tree at `dir` (which must not exist, or be empty).
fn commit_tree(
    client: &mut Client,
    set: &ChangeSet,
    lower: &Path,
    hidden: &[std::ffi::OsString],
    dir: &Path,
    dry_run: bool,
) -> Result<Report> {
    let parent = match dir.parent() {
        Some(p) if p.as_os_str().is_empty() => PathBuf::from("."),
        Some(p) => p.to_path_buf(),
        None => return Err(Error::Input(format!("{} cannot be the target; give a new directory", dir.display()))),
    };
    let parent = std::fs::canonicalize(&parent)
        .map_err(|e| Error::Input(format!("the parent of {} cannot be used ({e}); create it first", dir.display())))?;
    let name =
        dir.file_name().ok_or_else(|| Error::Input(format!("{} has no name; give a new directory", dir.display())))?;
    let dir = parent.join(name);
    let existing = match std::fs::symlink_metadata(&dir) {
        Ok(md) if md.is_dir() && std::fs::read_dir(&dir).is_ok_and(|mut r| r.next().is_none()) => Some(md),
        Ok(_) => {
            return Err(Error::Input(format!(
                "{} exists and is not an empty directory; give a new or empty directory to --to",
                dir.display()
            )));
        }
        Err(_) => None,
    };
    let lines: Vec<String> = set.items.iter().map(|i| format!("{:?} {}", i.what, i.path.display())).collect();
    if dry_run {
        client.thaw()?;
        return Ok(Report { lines, target: dir, ..Report::default() });
    }
    let id = new_id();
    let staging = parent.join(format!(".{}.agentfs-{id}", name.to_string_lossy()));
    let mut j = Journal::begin(id, &dir, &staging, true)?;
    let written = or_roll_back(&j, || {
        let mode = if probe_reflink(&parent).is_ok() { DataMode::Reflink } else { DataMode::Copy };
        let opts = tree_copy::Options {
            mode,
            skip_top: hidden.to_vec(),
            threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 8),
            progress: Arc::new(tree_copy::Progress::default()),
        };
        tree_copy::copy_tree(lower, &staging, &opts)
            .map_err(|e| Error::io("cannot copy the lower layer to", &staging, &e))?;
        let w = Tree { client, lower, root: &staging, data_mode: mode }.apply(set)?;
        sync(&staging)?;
        Ok(w)
    })?;
    client.thaw()?;
    if let Some(md) = existing {
        use std::os::unix::fs::MetadataExt;
        let who = journal::Identity { dev: md.dev(), ino: md.ino() };
        j.ops.push(Op::Remove { path: bytes(&dir), who });
    }
    j.ops.push(Op::Place { staged: bytes(&staging), path: bytes(&dir) });
    j.phase = Phase::Applying;
    j.save()?;
    finish(&j)?;
    Ok(Report { lines, ops: j.ops.len(), staged_bytes: written.bytes, millis: 0, target: dir })
}

fn sync(dir: &Path) -> Result<()> {
    let f = std::fs::File::open(dir).map_err(|e| Error::io("cannot open", dir, &e))?;
    agentfs_platform::os::fs::sync_filesystem(&f).map_err(|e| Error::io("cannot sync", dir, &e))
}

/// Runs every operation of an applying journal (again), then cleans up.
fn finish(j: &Journal) -> Result<()> {
    for op in &j.ops {
        ops::apply(op).map_err(|e| {
            Error::System(format!(
                "the commit into {} stopped: {e}; fix that and run `agentfs gc` to finish it",
                path(&j.target).display()
            ))
        })?;
    }
    let touched = j.ops.iter().filter_map(|op| match op {
        Op::Place { path: p, .. } | Op::Link { path: p, .. } | Op::Remove { path: p, .. } | Op::Mkdir { path: p } => {
            Some(path(p))
        }
        _ => None,
    });
    let touched: Vec<PathBuf> = touched.collect();
    ops::sync_dirs(touched.iter().map(PathBuf::as_path));
    let staging = path(&j.staging);
    if !j.whole_tree {
        let _ = crate::pin::remove::remove_tree(&staging);
        if let Some(p) = staging.parent() {
            let _ = std::fs::remove_dir(p);
        }
    }
    j.finish()
}

/// Runs the staging `work` of journal `j`, rolling the commit back if it fails.
fn or_roll_back<T>(j: &Journal, work: impl FnOnce() -> Result<T>) -> Result<T> {
    work().inspect_err(|_| roll_back(j))
}

/// Forgets a commit that never reached its commit point: SRC was not touched.
fn roll_back(j: &Journal) {
    let staging = path(&j.staging);
    let _ = crate::pin::remove::remove_tree(&staging);
    if !j.whole_tree {
        if let Some(p) = staging.parent() {
            let _ = std::fs::remove_dir(p);
        }
    }
    let _ = j.finish();
}

/// Finishes or rolls back the commits whose process died; returns what was done, one line each.
pub fn recover() -> Result<Vec<String>> {
    let mut done = Vec::new();
    for j in journal::all() {
        if j.owner_alive() {
            continue;
        }
        let target = path(&j.target);
        match j.phase {
            Phase::Staging => {
                roll_back(&j);
                done.push(format!("rolled back an unfinished commit into {}", target.display()));
            }
            Phase::Applying => {
                finish(&j)?;
                done.push(format!("finished an interrupted commit into {}", target.display()));
            }
        }
    }
    Ok(done)
}
