//! Process limits.

/// Raises the soft limit of open files to the hard limit; returns the new soft limit.
///
/// The daemon keeps a file descriptor per open lower file and per memfd-backed upper file.
#[cfg(unix)]
pub fn raise_nofile() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current != lim.maximum {
        lim.current = lim.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, lim) {
            tracing::warn!(%e, "could not raise the open-file limit");
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Windows has no per-process limit of open handles to raise.
#[cfg(windows)]
pub fn raise_nofile() -> u64 {
    u64::MAX
}
