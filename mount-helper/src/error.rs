//! Errors a user sees: one sentence naming the path and the fix, and an exit code per class.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: a path that does not exist, is not a directory, is not empty...
    #[error("{0}")]
    Input(String),
    /// The caller may not do this.
    #[error("{0}")]
    Permission(String),
    /// The mount is in use.
    #[error("{0}")]
    Busy(String),
    /// No such mount.
    #[error("{0}")]
    NotMounted(String),
    /// The system refused (mount failed, the daemon died...).
    #[error("{0}")]
    System(String),
    /// The command line does not say what to do.
    #[error("{0}")]
    Usage(String),
    /// SRC changed since the mount's pin where the mount changed it too.
    #[error("{0}")]
    Conflict(String),
}

impl Error {
    /// The process exit code of this class of error (2 is clap's usage error).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::System(_) => 1,
            Error::Input(_) => 3,
            Error::Permission(_) => 4,
            Error::Busy(_) => 5,
            Error::NotMounted(_) => 6,
            Error::Usage(_) => 2,
            Error::Conflict(_) => 7,
        }
    }

    /// A system error about `path`, with the OS's reason.
    pub fn io(what: &str, path: &Path, e: &std::io::Error) -> Error {
        Error::System(format!("{what} {}: {e}", path.display()))
    }
}

pub type Result<T> = std::result::Result<T, Error>;
