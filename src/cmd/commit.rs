//! `agentfs commit MNT [--to DIR] [--dry-run]`.

use super::human_bytes;
use crate::cli::CommitArgs;
use agentfs_mount_helper::Result;
use agentfs_mount_helper::commit::commit;

pub fn run(a: CommitArgs) -> Result<()> {
    let r = commit(&a.mnt, a.to.as_deref(), a.dry_run)?;
    // What was recovered first (commits of dead processes into the same SRC), and warnings.
    for n in &r.notes {
        eprintln!("agentfs: {}", crate::quote::message(n));
    }
    if a.dry_run {
        for l in &r.lines {
            crate::say!("would {}", crate::quote::message(l));
        }
        crate::say!("dry run: nothing was written to {} ({} changes)", crate::quote::text(&r.target), r.lines.len());
        return Ok(());
    }
    crate::say!(
        "committed {} changes to {} ({} of new data) in {} ms",
        r.lines.len(),
        crate::quote::text(&r.target),
        human_bytes(r.staged_bytes),
        r.millis
    );
    Ok(())
}
