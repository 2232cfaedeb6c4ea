//! Pin benchmark: time of `agentfs mount` (pin included) and `agentfs unmount` (pin removal
//! included) for each pin kind on its filesystem, for a 5k- and a 50k-file tree, in one run.
//!
//!     sudo cargo bench --bench pins        (root: loop images and mounts)
//!
//! Prints a table and writes target/bench-pins.json.
//!
//! It measures Linux filesystems
//! (loop devices with btrfs, XFS and ext4 images): elsewhere it only says so.

#[cfg(target_os = "linux")]
#[path = "linux/pins.rs"]
mod bench;

fn main() {
    #[cfg(target_os = "linux")]
    bench::main();
    #[cfg(not(target_os = "linux"))]
    eprintln!("the pins benchmark measures Linux filesystems; run it on Linux");
}
