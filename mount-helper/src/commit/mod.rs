//! `agentfs commit MNT [--to DIR] [--dry-run]`: keep what a mount changed.
//!
//! Into SRC, under SRC's lock: the changes are read with the mount frozen and checked against
//! SRC as it is (by content); every new object is staged in a staging directory on SRC's
//! filesystem and synced; the journal then records the operations (the commit point), and they
//! run, each a rename or exchange that keeps what it replaces in the staging directory. If one
//! fails, the done ones are undone, last first, and SRC is as before. `agentfs gc`, and the next
//! commit into the same SRC, finish or roll back a commit whose process died. Every access to
//! SRC, the pin and the staging directory goes through confined directory handles.
//!
//! With `--to DIR`: the whole view is built as a new tree in a staging directory beside DIR and
//! renamed to DIR.

pub mod apply;
mod back;
pub mod base;
pub mod check;
pub mod faults;
pub mod journal;
pub mod lock;
pub mod plan;
pub mod recover;
pub mod run;
pub mod shown;
pub mod stage;
mod staging;
mod to;

use crate::error::{Error, Result};
use crate::pin::PinKind;
use crate::target;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use crate::owned::STAGING_DIR_NAME;
pub use to::can_clone;

#[derive(Debug, Default)]
pub struct Report {
    /// One line per change.
    pub lines: Vec<String>,
    pub ops: usize,
    pub staged_bytes: u64,
    pub millis: u64,
    pub target: PathBuf,
    /// What was recovered first (commits of dead processes into the same SRC), and warnings.
    pub notes: Vec<String>,
}

fn new_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:x}-{}", nanos, std::process::id())
}

pub fn commit(mnt: &Path, to: Option<&Path>, dry_run: bool) -> Result<Report> {
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
    let mut report = match to {
        Some(dir) => to::commit_to(&mnt, &rec, dir, dry_run)?,
        None => back::commit_back(&mnt, &rec, dry_run)?,
    };
    report.millis = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// Finishes or rolls back the commits whose process died (`agentfs gc`).
pub fn recover() -> Vec<recover::Recovered> {
    recover::all()
}
