//! POSIX calls whose Linux form does not exist elsewhere, each with its macOS counterpart next
//! to it, behind one function per job. Callers never name an OS; what an OS cannot do is an
//! `io::ErrorKind::Unsupported` error with a sentence saying so.

pub mod fs;
pub mod peer;
pub mod process;
pub mod subvolume;
