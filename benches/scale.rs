//! Scale benchmark: how agentfs grows with the size of the tree and of the change set.
//!
//! For generated trees of 10k, 100k and 1M files in two shapes (wide: 1,000 files per
//! directory; deep: directories 12 levels down, 50 files each), on a btrfs loop image with a
//! snapshot pin: mount, `find`, `stat` of every file, the daemon's RSS after each and after
//! dropping the kernel's caches; then 1% of the files changed through the mount and `diff`,
//! `snapshot`, `commit --to` and `commit` timed. Kernel overlayfs runs `find` and `stat` on the
//! same tree in the same run. Prints a table with per-file and per-change figures.
//!
//!     sudo cargo bench --bench scale [-- --sizes 10000,100000,1000000] [-- --quick]
//!
//! It measures a Linux filesystem (a btrfs loop image): elsewhere it only says so.

#[cfg(target_os = "linux")]
#[path = "linux/scale.rs"]
mod bench;

fn main() {
    #[cfg(target_os = "linux")]
    bench::main();
    #[cfg(not(target_os = "linux"))]
    eprintln!("the scale benchmark measures a Linux filesystem; run it on Linux");
}
