//! Gives memory back to the system after the daemon let go of much of it: nodes the kernel
//! forgot, files deleted. The allocator keeps freed memory for reuse, so without this the
//! daemon's RSS would stay at its peak for the life of the mount.

use agentfs_core::Engine;
use std::sync::Weak;
use std::time::Duration;

/// How often the engine's use is looked at.
const EVERY: Duration = Duration::from_secs(2);
/// A drop of this many nodes, or of this many bytes of upper data, since the last look is worth
/// a trim.
const NODES_DROPPED: usize = 1000;
const BYTES_DROPPED: u64 = 8 << 20;

/// Watches `engine` until it is gone.
pub fn start(engine: Weak<Engine>) -> std::io::Result<()> {
    std::thread::Builder::new().name("trim".into()).spawn(move || {
        // The most nodes and bytes seen since the last trim.
        let mut peak = (0, 0);
        loop {
            std::thread::sleep(EVERY);
            let Some(e) = engine.upgrade() else { return };
            let now = e.stats();
            drop(e);
            peak = (peak.0.max(now.nodes), peak.1.max(now.used_bytes));
            if peak.0 >= now.nodes + NODES_DROPPED || peak.1 >= now.used_bytes + BYTES_DROPPED {
                tracing::debug!(nodes = now.nodes, bytes = now.used_bytes, "giving freed memory back");
                agentfs_platform::sys::memory::trim();
                peak = (now.nodes, now.used_bytes);
            }
        }
    })?;
    Ok(())
}
