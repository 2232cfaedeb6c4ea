//! `agentfs gc`.

use crate::quote;
use agentfs_mount_helper::{Error, Result, gc};

pub fn run() -> Result<()> {
    let mut commits = agentfs_mount_helper::commit::recover()?;
    commits.extend(agentfs_mount_helper::snapshot::collect());
    for line in &commits {
        println!("{line}");
    }
    let recovered = gc::collect();
    if recovered.is_empty() && commits.is_empty() {
        println!("nothing to clean up");
        return Ok(());
    }
    let mut failed = Vec::new();
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
        println!("{}: {}", quote::text(&r.mountpoint), what.join(", "));
        failed.extend(r.errors);
    }
    if failed.is_empty() { Ok(()) } else { Err(Error::System(failed.join("; "))) }
}
