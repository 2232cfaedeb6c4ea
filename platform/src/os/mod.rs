//! OS calls whose Linux form does not exist elsewhere, each with its macOS (and, where Windows
//! needs it, Windows) counterpart next to it, behind one function per job. Callers never name
//! an OS; what an OS cannot do is an `io::ErrorKind::Unsupported` error with a sentence saying
//! so.

#[cfg(unix)]
pub mod fs;
#[cfg(unix)]
pub mod peer;
pub mod process;
#[cfg(unix)]
pub mod subvolume;
