//! Process limits.

use rustix::process::{Resource, getrlimit, setrlimit};

/// Raises the soft limit of open files to the hard limit; returns the new soft limit.
///
/// The daemon keeps a file descriptor per open lower file and per memfd-backed upper file.
pub fn raise_nofile() -> u64 {
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current != lim.maximum {
        lim.current = lim.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, lim) {
            tracing::warn!(%e, "could not raise the open-file limit");
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}
