//! `agentfs gc`.

use crate::quote;
use agentfs_mount_helper::{Error, Result, gc};

pub fn run() -> Result<()> {
    let mut failed = Vec::new();
    let commits = leftovers(&mut failed);
    for line in &commits {
        crate::say!("{}", quote::message(line));
    }
    let recovered = gc::collect();
    if recovered.is_empty() && commits.is_empty() && failed.is_empty() {
        crate::say!("nothing to clean up");
        return Ok(());
    }
    for r in recovered {
        let mut what = Vec::new();
        if r.unmounted {
            what.push("unmounted".to_string());
        }
        if let Some(p) = &r.pin {
            what.push(format!("removed the pin {}", quote::text(p)));
        }
        if what.is_empty() {
            what.push("dropped its record".into());
        }
        crate::say!("{}: {}", quote::text(&r.mountpoint), what.join(", "));
        failed.extend(r.errors);
    }
    match failed.len() {
        0 => Ok(()),
        n => Err(Error::System(format!("{n} thing(s) could not be cleaned up, each named above; the rest was"))),
    }
}

/// Interrupted commits and half-made snapshots (Linux and macOS): a line for each one cleaned
/// up; what failed goes to `failed`.
#[cfg(unix)]
fn leftovers(failed: &mut Vec<String>) -> Vec<String> {
    let mut commits = Vec::new();
    for r in agentfs_mount_helper::commit::recover() {
        if r.ok {
            commits.push(r.line);
        } else {
            eprintln!("agentfs: {}", quote::message(&r.line));
            failed.push(r.line);
        }
    }
    commits.extend(agentfs_mount_helper::snapshot::collect());
    commits
}

/// Windows has neither commits nor snapshots.
#[cfg(not(unix))]
fn leftovers(_failed: &mut Vec<String>) -> Vec<String> {
    Vec::new()
}
