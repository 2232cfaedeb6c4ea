//! Branching benchmark: on a 50k-file tree with 100 files changed through the mount, the time of
//! `agentfs diff`, `agentfs snapshot`, a branch (`agentfs mount @NAME`, and its unmount) and
//! `agentfs commit`, per filesystem and pin kind, median of 3 runs.
//!
//!     sudo cargo bench --bench branching [-- --only btrfs,xfs,ext4]
//!
//! It measures Linux filesystems
//! (loop devices with btrfs, XFS and ext4 images): elsewhere it only says so.

#[cfg(target_os = "linux")]
#[path = "linux/branching.rs"]
mod bench;

fn main() {
    #[cfg(target_os = "linux")]
    bench::main();
    #[cfg(not(target_os = "linux"))]
    eprintln!("the branching benchmark measures Linux filesystems; run it on Linux");
}
