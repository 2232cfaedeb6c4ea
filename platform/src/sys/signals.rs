//! Waiting for termination signals on a dedicated thread (sigwait), instead of async handlers.

use std::io;
use std::mem::MaybeUninit;

/// The signals that end a daemon cleanly.
pub const TERMINATION: [i32; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// A set of blocked signals to wait for.
pub struct SignalSet(libc::sigset_t);

/// Blocks `signals` in the calling thread (and in threads it spawns afterwards), so that they
/// are only delivered to [`SignalSet::wait`]. Call it before spawning any thread.
pub fn block(signals: &[i32]) -> io::Result<SignalSet> {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set it is given; the pointer is valid for writes.
    if unsafe { libc::sigemptyset(set.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sigemptyset returned 0, so the set is initialised.
    let mut set = unsafe { set.assume_init() };
    for s in signals {
        // SAFETY: `set` is an initialised sigset_t; an invalid signal number is reported as -1.
        if unsafe { libc::sigaddset(&mut set, *s) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: both pointers are valid (the old set is not asked for); pthread_sigmask only
    // changes this thread's mask.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(SignalSet(set))
}

impl SignalSet {
    /// Waits until one of the signals arrives; returns its number.
    pub fn wait(&self) -> io::Result<i32> {
        let mut sig = 0;
        // SAFETY: the set is initialised and `sig` is a valid place for the result.
        let rc = unsafe { libc::sigwait(&self.0, &mut sig) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(sig)
    }
}

// SAFETY: a sigset_t is plain data; waiting on it from another thread is what sigwait is for.
unsafe impl Send for SignalSet {}
