//! Committing a mount's changes back into SRC.

use super::apply::Places;
use super::base::Base;
use super::check::{Trees, find, left_of};
use super::journal::{Journal, Phase, Target};
use super::plan::{Inputs, Plan, Planner};
use super::run::{self, Outcome};
use super::{Report, faults, lock, recover};
use crate::changeset::ChangeSet;
use crate::confined::{Dir, Identity, cause};
use crate::control::client::Client;
use crate::error::{Error, Result};
use crate::owned::STAGING_DIR_NAME;
use crate::pin::PinKind;
use crate::pin::location;
use crate::registry::MountRecord;
use crate::target;
use std::ffi::OsStr;
use std::path::Path;

fn open(what: &str, p: &Path) -> Result<Dir> {
    Dir::open_root(p).map_err(|e| {
        Error::System(format!(
            "cannot open {what} {} without following a symlink: {}; a commit only writes through plain directories",
            p.display(),
            cause(&e)
        ))
    })
}

/// What the commit works on, opened once.
struct Ground {
    src: Dir,
    pin: Dir,
    base: Base,
}

pub fn commit_back(mnt: &Path, rec: &MountRecord, dry_run: bool) -> Result<Report> {
    let src_path = rec.source_path();
    let src = open("SRC", &src_path)?;
    let _lock = lock::exclusive(&src)?;
    let notes: Vec<String> = recover::into(&src).into_iter().map(|r| r.line).collect();
    target::flush(mnt)?;
    let mut client = Client::connect(&rec.id, mnt)?;
    client.freeze()?;
    let set = ChangeSet::from_wire(client.changes()?)?;
    let g = Ground { pin: open("the pin", &rec.pin.lower_root())?, base: Base::load(&rec.id), src };
    let same_inodes = rec.pin.kind == PinKind::Snapshot;
    let trees = Trees { src: &g.src, pin: &g.pin, base: &g.base, same_inodes };
    if dry_run {
        let inp =
            Inputs { client: &mut client, set: &set, trees, staging: None, mnt, owned: crate::owned::registered() };
        let plan = Planner::new(inp)?.build()?;
        client.thaw()?;
        return Ok(Report { lines: plan.lines, target: src_path, notes, ..Report::default() });
    }
    let place = location::place_for_rename(&src_path, STAGING_DIR_NAME).ok_or_else(|| {
        Error::Permission(format!(
            "there is no place to stage the commit on the filesystem of {}: make a writable directory \
             `{STAGING_DIR_NAME}` on it",
            src_path.display()
        ))
    })?;
    let root_id = g.src.stat_self().map(|st| Identity::of(&st)).map_err(|e| Error::io("cannot read", &src_path, &e))?;
    let t = Target { root: &src_path, root_id, staging_parent: &place.dir, mount: mnt };
    let mut j = Journal::begin(super::new_id(), &t)?;
    let (staging_parent, staging) = match super::staging::make(&place.dir, OsStr::new(&j.id)) {
        Ok(x) => x,
        Err(e) => {
            let _ = j.finish();
            return Err(e);
        }
    };
    let staged = stage(&mut j, &mut client, &set, trees, staging, mnt);
    let (plan, staging) = match staged {
        Ok(x) => x,
        Err(e) => {
            run::clean_up(&j, &g.src, &staging_parent);
            return Err(e);
        }
    };
    client.thaw()?;
    drop(client);
    let mut report = apply(j, &g, staging, &staging_parent, &plan)?;
    report.notes.splice(0..0, notes);
    let mut base = g.base.clone();
    record(&mut base, &g.src, &plan);
    base.save(&rec.id)?;
    report.lines = plan.lines;
    report.staged_bytes = plan.staged_bytes;
    report.target = src_path;
    Ok(report)
}

/// Checks everything and stages every new object; then the commit point.
fn stage(
    j: &mut Journal,
    client: &mut Client,
    set: &ChangeSet,
    trees: Trees<'_>,
    staging: Dir,
    mnt: &Path,
) -> Result<(Plan, Dir)> {
    let owned = crate::owned::registered();
    let plan = Planner::new(Inputs { client, set, trees, staging: Some(&staging), mnt, owned })?.build()?;
    staging.syncfs().map_err(|e| Error::io("cannot sync", &staging.path(), &e))?;
    j.ops = plan.ops.clone();
    j.phase = Phase::Applying;
    // The commit point: from here on the commit is finished or rolled back, by us or by recovery.
    j.save()?;
    Ok((plan, staging))
}

/// Runs the operations; rolls back if one fails.
fn apply(mut j: Journal, g: &Ground, staging: Dir, staging_parent: &Dir, plan: &Plan) -> Result<Report> {
    faults::hold_at_commit_point();
    let root = g.src.reopen().map_err(|e| Error::io("cannot open", &g.src.path(), &e))?;
    let places = Places::new(root, staging, &j.ops);
    let target = j.target_path();
    match run::forward(&mut j, &places) {
        Outcome::Finished => {
            let notes = run::clean_up(&j, &g.src, staging_parent).into_iter().collect();
            Ok(Report { ops: plan.ops.len(), notes, ..Report::default() })
        }
        Outcome::RolledBack(why) => {
            let left = run::clean_up(&j, &g.src, staging_parent).map(|w| format!(" ({w})")).unwrap_or_default();
            Err(Error::System(format!(
                "the commit into {} stopped: {why}; everything it had done was undone, so SRC is as it was before \
                 the commit{left}. Fix that and commit again",
                target.display()
            )))
        }
        Outcome::Stuck(why) => Err(Error::System(format!(
            "the commit into {} stopped and could not be undone: {why}. What it moved aside is kept in {}; \
             `agentfs gc` will try once more to roll it back, and else set it aside",
            target.display(),
            j.staging_path().display()
        ))),
    }
}

/// Records in the base what SRC now holds at every place the commit looked at.
fn record(base: &mut Base, src: &Dir, plan: &Plan) {
    for k in &plan.forget {
        base.forget(k);
    }
    for (rel, origin) in &plan.record {
        match find(src, rel).and_then(|f| left_of(f.as_ref(), origin.as_deref())) {
            Ok(left) => base.set(rel, left),
            Err(e) => {
                tracing::warn!(path = %rel.display(), %e, "cannot record what the commit left");
                base.forget(rel);
            }
        }
    }
}
