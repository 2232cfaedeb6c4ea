//! The workload benchmark: the same lower tree, mounted by each implementation in turn, the same
//! workloads, in one run. Prints the median seconds of each workload and its ratio to kernel
//! overlayfs; writes target/bench/workload.{json,csv,md}.
//!
//!     scripts/bench                 (installs the peers, builds, runs this as root)
//!     sudo cargo bench --bench workload -- [--quick] [--rounds N] [--only agentfs,overlayfs]
//!
//! The lower tree (generated, always the same): ~50k files in directories of varied fan-out
//! with a realistic size mix, a git repository over it, and one 1 GiB file, in a btrfs
//! subvolume on a loop image. Upper layers are on tmpfs; native runs on a writable snapshot of
//! the tree so its writes do not change the tree the others see. Each round runs every
//! implementation once, in turn, so drift on the machine spreads over all of them.
//!
//! It measures Linux filesystems
//! (loop devices, btrfs, kernel overlayfs and fuse-overlayfs): elsewhere it only says so.

#[cfg(target_os = "linux")]
#[path = "linux/workload.rs"]
mod bench;

fn main() {
    #[cfg(target_os = "linux")]
    bench::main();
    #[cfg(not(target_os = "linux"))]
    eprintln!("the workload benchmark measures Linux filesystems; run it on Linux");
}
