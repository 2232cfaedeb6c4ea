//! One commit per SRC at a time: an exclusive `flock` on SRC's own directory, so the lock is
//! keyed by SRC's device and inode whatever path names it, is shared by every user and process
//! (commits and `gc`'s recovery alike), leaves no file behind, and is released by the kernel
//! when its holder exits or dies.

use crate::confined::Dir;
use crate::error::{Error, Result};
use rustix::fs::FlockOperation;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

/// How long a commit waits for another commit into the same SRC.
pub const COMMIT_WAIT: Duration = Duration::from_secs(300);
/// How long `gc` waits before leaving a journal to the commit that holds its SRC.
pub const RECOVERY_WAIT: Duration = Duration::from_secs(10);

/// The lock of one SRC, held while this lives.
pub struct Lock {
    _fd: OwnedFd,
}

/// Takes the lock of the directory `dir`, waiting up to `wait`; `Ok(None)` if it stayed taken.
pub fn try_exclusive(dir: &Dir, wait: Duration) -> Result<Option<Lock>> {
    // A descriptor of our own: flock belongs to the open file description.
    let fd = dir.reopen().map_err(|e| Error::io("cannot open", &dir.path(), &e))?.into_fd();
    let end = Instant::now() + wait;
    loop {
        match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(Some(Lock { _fd: fd })),
            Err(rustix::io::Errno::WOULDBLOCK) | Err(rustix::io::Errno::INTR) if Instant::now() < end => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
            Err(e) => return Err(Error::io("cannot lock", &dir.path(), &e.into())),
        }
    }
}

/// Takes the commit lock of SRC (the root `src`), waiting for a commit that holds it.
pub fn exclusive(src: &Dir) -> Result<Lock> {
    try_exclusive(src, COMMIT_WAIT)?.ok_or_else(|| {
        Error::Busy(format!(
            "another commit into {} has held it for {} s; wait for it to end (or for whatever holds a lock on \
             that directory to let go) and commit again",
            src.path().display(),
            COMMIT_WAIT.as_secs()
        ))
    })
}
