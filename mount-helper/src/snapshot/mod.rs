//! Snapshots of mounts: `agentfs snapshot`, `snapshots`, `snapshot rm`, and the trees that
//! `agentfs mount @NAME` branches from.

pub mod create;
pub mod record;
pub mod remove;
pub mod seal;

pub use create::create;
pub use remove::remove;

/// Removes what `agentfs snapshot` processes that died left half made; returns one line each.
pub fn collect() -> Vec<String> {
    let mut done = Vec::new();
    for s in record::list().unwrap_or_default() {
        if s.complete() || crate::process::alive(s.maker.0, s.maker.1) {
            continue;
        }
        let container = s.container_path();
        match create::remove_holder(&container, s.holder, true) {
            Ok(()) => {
                let _ = record::remove(&s.name);
                if let Some(p) = container.parent() {
                    let _ = std::fs::remove_dir(p);
                }
                done.push(format!("removed the unfinished snapshot {} ({})", s.name, container.display()));
            }
            Err(e) => done.push(format!("cannot remove the unfinished snapshot {}: {e}", s.name)),
        }
    }
    done
}
