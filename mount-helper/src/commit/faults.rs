//! Test-only hooks into a commit, compiled into debug builds only (the tests run those): they
//! let a test make an operation after the commit point fail, or hold the commit at its commit
//! point while the test breaks something for real (fills the disk, makes a directory immutable,
//! swaps a directory for a symlink).
//!
//! - `AGENTFS_TEST_FAIL_OP=N`: the N-th operation (from 0) fails when applied;
//! - `AGENTFS_TEST_FAIL_UNDO=N`: undoing the N-th operation fails (so the commit can be neither
//!   finished nor rolled back);
//! - `AGENTFS_TEST_HOLD=FILE`: at the commit point, create FILE and wait until it is removed.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn number(var: &str) -> Option<usize> {
    if !cfg!(debug_assertions) {
        return None;
    }
    std::env::var(var).ok()?.parse().ok()
}

fn injected(what: &str, n: usize) -> io::Error {
    io::Error::other(format!("failure injected by the test into {what} {n}"))
}

/// Fails if the test asked operation `n` to fail.
pub fn apply(n: usize) -> io::Result<()> {
    if number("AGENTFS_TEST_FAIL_OP") == Some(n) { Err(injected("operation", n)) } else { Ok(()) }
}

/// Fails if the test asked the undoing of operation `n` to fail.
pub fn undo(n: usize) -> io::Result<()> {
    if number("AGENTFS_TEST_FAIL_UNDO") == Some(n) { Err(injected("the undoing of operation", n)) } else { Ok(()) }
}

/// Waits at the commit point while the test's hold file exists.
pub fn hold_at_commit_point() {
    if !cfg!(debug_assertions) {
        return;
    }
    let Some(file) = std::env::var_os("AGENTFS_TEST_HOLD").map(PathBuf::from) else { return };
    if std::fs::write(&file, b"at the commit point\n").is_err() {
        return;
    }
    let end = Instant::now() + Duration::from_secs(120);
    while file.exists() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
}
