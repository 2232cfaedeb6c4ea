//! `agentfs gc`.

use agentfs_mount_helper::{Error, Result, gc};

pub fn run() -> Result<()> {
    // Interrupted commits and half-made snapshots (Linux and macOS).
    #[cfg(unix)]
    let commits = {
        let mut c = agentfs_mount_helper::commit::recover()?;
        c.extend(agentfs_mount_helper::snapshot::collect());
        c
    };
    #[cfg(windows)]
    let commits: Vec<String> = Vec::new();
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
            what.push(format!("removed the pin {}", p.display()));
        }
        if what.is_empty() {
            what.push("dropped its record".into());
        }
        println!("{}: {}", r.mountpoint.display(), what.join(", "));
        failed.extend(r.errors);
    }
    if failed.is_empty() { Ok(()) } else { Err(Error::System(failed.join("; "))) }
}
