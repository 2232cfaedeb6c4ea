//! Timing `agentfs` commands for the pin and branching benchmarks.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const AGENTFS: &str = env!("CARGO_BIN_EXE_agentfs");

/// Runs `agentfs args` with the given environment (its runtime and state directories); returns
/// how long it took, and panics with its stderr if it failed.
pub fn agentfs(env: &[(&str, &Path)], args: &[&str]) -> Duration {
    let t = Instant::now();
    let out = Command::new(AGENTFS).args(args).envs(env.iter().copied()).output().expect("run agentfs");
    let took = t.elapsed();
    assert!(out.status.success(), "agentfs {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    took
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
