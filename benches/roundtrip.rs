//! The price of one FUSE round trip: GETXATTR of a name that does not exist (the daemon looks
//! it up and answers ENODATA; the kernel caches nothing of it), in a loop, over the classic
//! /dev/fuse transport and over FUSE over io_uring, with the caller and the daemon on the same
//! CPU and on different CPUs; then requests per second with one caller per CPU.
//!
//!     sudo cargo bench --bench roundtrip -- [--quick] [--rounds N] [--calls N]
//!
//! Needs root and /dev/fuse; turns the fuse module parameter enable_uring on for the run (and
//! back). Prints a table; writes target/bench/roundtrip.{json,md}. The placements:
//! - free: the caller pinned to CPU 0, the daemon's threads where they are (the io_uring queue
//!   threads are pinned to their CPUs, so the caller's queue runs on the caller's CPU);
//! - same CPU: every daemon thread moved to CPU 0 (taskset), the caller on CPU 0;
//! - cross CPU: every daemon thread on CPU 0, the caller on CPU 1.
//!
//! It measures the Linux FUSE transports: elsewhere it only says so.

#[cfg(target_os = "linux")]
#[path = "linux/roundtrip.rs"]
mod bench;

fn main() {
    #[cfg(target_os = "linux")]
    bench::main();
    #[cfg(not(target_os = "linux"))]
    eprintln!("the round-trip benchmark measures the Linux FUSE transports; run it on Linux");
}
