//! Running a journal to its end: forward (rolling back if a step fails), or back; then making
//! it durable and cleaning up. Used by a commit and by recovery alike.

use super::apply::{self, Places};
use super::journal::{Journal, Phase};
use crate::confined::{Dir, cause};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// How a journal ended.
#[derive(Debug)]
pub enum Outcome {
    Finished,
    /// Rolled back to the state before the commit, for this reason.
    RolledBack(String),
    /// Could be neither finished nor rolled back: why.
    Stuck(String),
}

/// Applies every operation (those done already are skipped); if one fails, rolls back.
pub fn forward(j: &mut Journal, p: &Places) -> Outcome {
    for (n, op) in j.ops.iter().enumerate() {
        if let Err(e) = apply::forward(p, n, op) {
            j.why = format!("{} could not be written: {}", j.shown(&op.at()).display(), cause(&e));
            j.failed_at = u32::try_from(n).unwrap_or(u32::MAX);
            j.phase = Phase::RollingBack;
            if let Err(e) = j.save() {
                tracing::warn!(%e, "cannot record the roll-back in the journal");
            }
            return back(j, p);
        }
    }
    Outcome::Finished
}

/// Undoes every operation up to the one that failed, last first (those not done are skipped).
pub fn back(j: &Journal, p: &Places) -> Outcome {
    let ran = (j.failed_at as usize).saturating_add(1).min(j.ops.len());
    for (n, op) in j.ops[..ran].iter().enumerate().rev() {
        if let Err(e) = undo_patiently(p, n, op) {
            return Outcome::Stuck(format!(
                "{}; then {} could not be put back: {}",
                if j.why.is_empty() { "it was being rolled back" } else { &j.why },
                j.shown(&op.at()).display(),
                cause(&e)
            ));
        }
    }
    Outcome::RolledBack(j.why.clone())
}

/// Undoes one operation; what stood in the way may be a writer in the middle of a change of
/// its own, so a few more tries follow, a moment apart.
fn undo_patiently(p: &Places, n: usize, op: &super::journal::Op) -> std::io::Result<()> {
    let mut last = apply::undo(p, n, op);
    for _ in 0..UNDO_TRIES {
        if last.is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        last = apply::undo(p, n, op);
    }
    last
}

/// More tries of an undo that failed.
const UNDO_TRIES: usize = 5;

/// After a journal ended (finished or rolled back): makes the target durable, removes the
/// staging directory (and the directory holding it, if empty), and the journal. Returns a
/// warning if something could not be removed.
pub fn clean_up(j: &Journal, root: &Dir, staging_parent: &Dir) -> Option<String> {
    if let Err(e) = root.syncfs() {
        tracing::warn!(%e, "cannot sync the target of a commit");
    }
    // From here on the commit is over; a crash leaves recovery only the staging to remove.
    if j.phase != Phase::Done {
        let done = Journal { phase: Phase::Done, ..j.clone() };
        if let Err(e) = done.save() {
            tracing::warn!(%e, "cannot record the end of the commit in its journal");
        }
    }
    let name = OsStr::from_bytes(&j.staging_name);
    let mut warning = None;
    if let Err(e) = staging_parent.remove_tree(name) {
        warning = Some(format!(
            "cannot remove the staging directory {}: {}; remove it by hand",
            j.staging_path().display(),
            cause(&e)
        ));
    }
    if let Err(e) = j.finish() {
        warning = Some(e.to_string());
    }
    remove_if_empty(staging_parent);
    warning
}

/// Removes the directory holding staging directories if nothing is left in it.
pub fn remove_if_empty(staging_parent: &Dir) {
    let (Some(parent), Some(name)) = (
        staging_parent.path().parent().map(Path::to_path_buf),
        staging_parent.path().file_name().map(|n| n.to_os_string()),
    ) else {
        return;
    };
    if let Ok(up) = Dir::open_root(&parent) {
        let _ = up.rmdir(&name);
    }
}

/// A list of the places a journal touches, for a message (at most 20).
pub fn places(j: &Journal) -> String {
    let mut v: Vec<String> = j.ops.iter().map(|op| j.shown(&op.at()).display().to_string()).collect();
    v.dedup();
    let more = v.len().saturating_sub(20);
    v.truncate(20);
    let mut s = v.join(", ");
    if more > 0 {
        s.push_str(&format!(" and {more} more"));
    }
    s
}
