//! Recovering commits whose process died: finished or rolled back under the lock of their
//! target. A journal that cannot be recovered is reported and set aside, and recovery goes on
//! with the others: one bad journal never blocks `gc` or a later commit.

use super::apply::Places;
use super::journal::{self, Journal, Phase, path};
use super::lock;
use super::run::{self, Outcome};
use crate::confined::{Dir, Identity, cause};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// What recovery did with one journal.
#[derive(Debug)]
pub struct Recovered {
    pub line: String,
    /// False if it needs a person's attention.
    pub ok: bool,
}

fn ok(line: String) -> Recovered {
    Recovered { line, ok: true }
}

/// Every commit whose process died (for `agentfs gc`).
pub fn all() -> Vec<Recovered> {
    let (journals, damaged) = journal::all();
    let mut out: Vec<Recovered> = damaged.into_iter().map(|line| Recovered { line, ok: false }).collect();
    out.extend(journals.into_iter().filter(|j| !j.owner_alive()).map(|j| one(j, None)));
    out
}

/// The commits into the directory `root`, whose lock the caller holds (before a commit).
pub fn into(root: &Dir) -> Vec<Recovered> {
    let Ok(id) = root.stat_self().map(|st| Identity::of(&st)) else { return Vec::new() };
    let (journals, damaged) = journal::all();
    let mut out: Vec<Recovered> = damaged.into_iter().map(|line| Recovered { line, ok: false }).collect();
    let mine = journals.into_iter().filter(|j| !j.owner_alive() && j.target_id == id);
    out.extend(mine.map(|j| one(j, Some(root))));
    out
}

/// Sets a journal aside for good, with what a person needs to know.
fn stuck(j: &Journal, why: &str) -> Recovered {
    let aside = j.set_aside();
    Recovered {
        line: format!(
            "the commit into {} could be neither finished nor rolled back ({why}); its journal is set aside as {} \
             and will not be tried again; what it had moved aside is kept in {}; the places involved: {}. Check \
             them and put SRC right by hand",
            j.target_path().display(),
            aside.display(),
            j.staging_path().display(),
            run::places(j)
        ),
        ok: false,
    }
}

fn one(mut j: Journal, held: Option<&Dir>) -> Recovered {
    let target = j.target_path();
    let root = match held.map_or_else(|| Dir::open_root(&target), Dir::reopen) {
        Ok(r) => r,
        Err(e) => return stuck(&j, &format!("cannot open {}: {}", target.display(), cause(&e))),
    };
    if root.stat_self().map(|st| Identity::of(&st)).ok() != Some(j.target_id) {
        return stuck(&j, &format!("{} is no longer the directory it was writing into", target.display()));
    }
    let _lock = match held {
        Some(_) => None,
        None => match lock::try_exclusive(&root, lock::RECOVERY_WAIT) {
            Ok(Some(l)) => Some(l),
            Ok(None) => return ok(format!("left the commit into {} to the commit running there", target.display())),
            Err(e) => return Recovered { line: e.to_string(), ok: false },
        },
    };
    let staging_parent = match Dir::open_root(&path(&j.staging_parent)) {
        Ok(d) => d,
        Err(_) if matches!(j.phase, Phase::Staging | Phase::Done) => return finish_unstarted(&j),
        Err(e) => return stuck(&j, &format!("its staging directory cannot be opened: {}", cause(&e))),
    };
    if matches!(j.phase, Phase::Staging | Phase::Done) {
        if let Some(w) = run::clean_up(&j, &root, &staging_parent) {
            return Recovered { line: w, ok: false };
        }
        let what =
            if j.phase == Phase::Done { "cleaned up after a commit" } else { "rolled back an unfinished commit" };
        return ok(format!("{what} into {} (nothing more to write)", target.display()));
    }
    let staging = match staging_parent.open_dir(std::path::Path::new(OsStr::from_bytes(&j.staging_name))) {
        Ok(d) => d,
        Err(e) => return stuck(&j, &format!("its staging directory cannot be opened: {}", cause(&e))),
    };
    let places = Places::new(root, staging, &j.ops);
    let outcome = if j.phase == Phase::Applying { run::forward(&mut j, &places) } else { run::back(&j, &places) };
    let line = match outcome {
        Outcome::Finished => format!("finished an interrupted commit into {}", target.display()),
        Outcome::RolledBack(why) => format!("rolled back an interrupted commit into {} ({why})", target.display()),
        Outcome::Stuck(why) => return stuck(&j, &why),
    };
    match run::clean_up(&j, &places.root, &staging_parent) {
        Some(w) => Recovered { line: format!("{line}; {w}"), ok: false },
        None => ok(line),
    }
}

/// A journal of a commit that died before staging anything.
fn finish_unstarted(j: &Journal) -> Recovered {
    match j.finish() {
        Ok(()) => ok(format!(
            "rolled back an unfinished commit into {} (nothing had been written)",
            j.target_path().display()
        )),
        Err(e) => Recovered { line: e.to_string(), ok: false },
    }
}
