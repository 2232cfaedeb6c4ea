//! `agentfs commit MNT [--to DIR] [--dry-run]`.

use super::human_bytes;
use crate::cli::CommitArgs;
use agentfs_mount_helper::Result;
use agentfs_mount_helper::commit::commit;

pub fn run(a: CommitArgs) -> Result<()> {
    let r = commit(&a.mnt, a.to.as_deref(), a.dry_run)?;
    // What was recovered first (commits of dead processes into the same SRC), and warnings.
    for n in &r.notes {
        eprintln!("agentfs: {n}");
    }
    if a.dry_run {
        for l in &r.lines {
            println!("would {l}");
        }
        println!("dry run: nothing was written to {} ({} changes)", r.target.display(), r.lines.len());
        return Ok(());
    }
    println!(
        "committed {} changes to {} ({} of new data) in {} ms",
        r.lines.len(),
        r.target.display(),
        human_bytes(r.staged_bytes),
        r.millis
    );
    Ok(())
}
