//! Waiting for termination signals on a dedicated thread (sigwait), instead of async handlers.

use std::io;
use std::mem::MaybeUninit;

/// The signals that end a daemon cleanly.
pub const TERMINATION: [i32; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];
/// The signals `agentfs run` passes on to its command.
pub const FORWARDED: [i32; 6] =
    [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2];

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

#[cfg(target_os = "linux")]
impl SignalSet {
    /// Waits until one of the signals arrives; returns its number and whether the kernel sent
    /// it (a terminal's ^C, which reaches the whole foreground process group) rather than a
    /// process (kill).
    pub fn wait_info(&self) -> io::Result<(i32, bool)> {
        let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
        loop {
            // SAFETY: the set is initialised; `info` is valid for writes of a siginfo_t.
            let sig = unsafe { libc::sigwaitinfo(&self.0, info.as_mut_ptr()) };
            if sig >= 0 {
                // SAFETY: sigwaitinfo filled `info` (it was zeroed before, too).
                let code = unsafe { info.assume_init_ref() }.si_code;
                return Ok((sig, code == libc::SI_KERNEL));
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

#[cfg(target_os = "macos")]
impl SignalSet {
    /// Waits until one of the signals arrives; returns its number and whether it should count
    /// as sent to the whole foreground process group. macOS has no `sigwaitinfo`, so the sender
    /// cannot be told: SIGINT and SIGQUIT, which a terminal sends to the whole group, count as
    /// such (a `kill -INT` of `agentfs run` alone is then not passed on); the others as sent by
    /// a process.
    pub fn wait_info(&self) -> io::Result<(i32, bool)> {
        let sig = self.wait()?;
        Ok((sig, sig == libc::SIGINT || sig == libc::SIGQUIT))
    }
}

// SAFETY: a sigset_t is plain data; waiting on it from another thread is what sigwait is for.
unsafe impl Send for SignalSet {}

/// Lets a closed pipe on stdout end the process quietly, as it ends `ls | head`: Rust ignores
/// SIGPIPE, so a print to a closed pipe would otherwise panic. Only for commands that print and
/// exit; never in a process that serves a mount (a client that goes away must not end it).
pub fn die_on_broken_pipe() {
    // SAFETY: signal() with SIG_DFL installs no handler code; it changes only this process's
    // disposition of SIGPIPE, which nothing else in a printing command relies on.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
