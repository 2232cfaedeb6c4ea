//! FUSE over io_uring (Linux 6.14+): the kernel hands requests to the daemon through one
//! io_uring queue per CPU instead of read(2)/write(2) on /dev/fuse, and a reply and the fetch
//! of the next request are one submission.
//!
//! INIT goes over /dev/fuse (fuser's session does it) and asks for `FUSE_OVER_IO_URING`; once
//! the kernel granted it, every request waits until each possible CPU's queue has an entry
//! registered, so [`start`] registers all of them before the mount is used, or makes the
//! kernel give up io_uring for the connection. FORGET, BATCH_FORGET, INTERRUPT and
//! notifications stay on /dev/fuse, where fuser's threads keep serving; both call the same
//! operations.
//!
//! Files: `abi` (struct layouts), `decode` (requests), `encode` (replies), `dispatch` (one
//! request: decode, operate, encode), `queue` (one queue's thread). All `unsafe` (the ring,
//! the commands with buffer pointers) is in `crate::sys::uring`.

pub(crate) mod abi;
mod decode;
mod dispatch;
mod encode;
mod queue;
#[cfg(test)]
mod tests;

use super::ops::Ops;
use crate::sys::uring::{self as ring, Waker};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Entries per queue: a queue's thread serves one request at a time, the others are filled
/// by the kernel meanwhile (and an LSEEK waiting for writeback holds one).
const DEPTH: usize = 8;
/// The most entries a queue grows to while requests wait for answers from elsewhere.
const CAPACITY: usize = 64;
/// How long [`Rings::join`] waits for the queue threads after the session ended.
const JOIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The running queues of a mount.
pub struct Rings {
    threads: Vec<JoinHandle<()>>,
    ended: mpsc::Receiver<()>,
    served: Arc<AtomicU64>,
}

impl Rings {
    /// Requests served through the ring so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    pub fn queues(&self) -> usize {
        self.threads.len()
    }

    /// Waits for the queue threads, which end when the kernel ends the connection (after
    /// unmount); gives up after a few seconds, leaving them to the process's exit.
    pub fn join(self) {
        let deadline = Instant::now() + JOIN_TIMEOUT;
        for _ in 0..self.threads.len() {
            match self.ended.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(()) => {}
                Err(RecvTimeoutError::Timeout) => {
                    tracing::warn!("io_uring queue threads still run after the session ended");
                    return;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// The number of queues the kernel makes: one per possible CPU (`num_possible_cpus()`), from
/// a list like `0-3,8-11`.
fn possible_cpus(list: &str) -> Option<usize> {
    let mut n = 0usize;
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let (lo, hi): (usize, usize) = (lo.parse().ok()?, hi.parse().ok()?);
        n = n.checked_add(hi.checked_sub(lo)? + 1)?;
    }
    (n > 0).then_some(n)
}

fn queue_count() -> io::Result<usize> {
    let list = std::fs::read_to_string("/sys/devices/system/cpu/possible")?;
    possible_cpus(&list).ok_or_else(|| io::Error::other(format!("cannot read the possible CPUs from {list:?}")))
}

/// Starts one pinned thread per queue and registers every queue's entries; on failure, the
/// kernel is made to serve the connection through /dev/fuse again.
pub fn start(ops: &Arc<Ops>) -> io::Result<Rings> {
    let device = ops.device.get().cloned().ok_or_else(|| io::Error::other("the session has no device"))?;
    let started = spawn_queues(ops, &device);
    if started.is_err() {
        if let Err(e) = ring::refuse(Arc::clone(&device)) {
            tracing::error!(%e, "the kernel could not be made to give up io_uring; requests may hang until unmount");
        }
    }
    started
}

fn spawn_queues(ops: &Arc<Ops>, device: &Arc<std::os::fd::OwnedFd>) -> io::Result<Rings> {
    let queues = queue_count()?;
    let qids = u16::try_from(queues).map_err(|_| io::Error::other("too many CPUs for FUSE queues"))?;
    let payload_size = ops.granted.ring_payload_size();
    let (ready_tx, ready) = mpsc::sync_channel(queues);
    let (ended_tx, ended) = mpsc::channel();
    let served = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::with_capacity(queues);
    for qid in 0..qids {
        let spec = queue::Spec { qid, cpu: Some(usize::from(qid)), depth: DEPTH, capacity: CAPACITY, payload_size };
        let shared = queue::Shared {
            ops: Arc::clone(ops),
            device: Arc::clone(device),
            served: Arc::clone(&served),
            stop: Arc::clone(&stop),
        };
        let (ready_tx, ended_tx) = (ready_tx.clone(), ended_tx.clone());
        let t = std::thread::Builder::new().name(format!("uring-q{qid}")).spawn(move || {
            queue::run(&spec, shared, &ready_tx);
            let _ = ended_tx.send(());
        });
        match t {
            Ok(t) => threads.push(t),
            Err(e) => {
                stop_all(&stop, &[]);
                return Err(e);
            }
        }
    }
    drop(ready_tx);
    let mut wakers = Vec::with_capacity(queues);
    let mut first_error = None;
    for _ in 0..queues {
        match ready.recv() {
            Ok(Ok(w)) => wakers.push(w),
            Ok(Err(e)) => first_error = first_error.or(Some(e)),
            Err(_) => first_error = first_error.or_else(|| Some(io::Error::other("a queue thread died"))),
        }
    }
    if let Some(e) = first_error {
        stop_all(&stop, &wakers);
        return Err(e);
    }
    tracing::info!(queues, depth = DEPTH, payload_size, "FUSE over io_uring: every queue registered");
    Ok(Rings { threads, ended, served })
}

/// Makes the queues that started stop (their registered entries are never used: the ring is
/// not complete).
fn stop_all(stop: &AtomicBool, wakers: &[Waker]) {
    stop.store(true, Ordering::Release);
    for w in wakers {
        w.wake();
    }
}

#[cfg(test)]
mod cpu_tests {
    use super::possible_cpus;

    #[test]
    fn the_queue_count_is_the_number_of_possible_cpus() {
        assert_eq!(possible_cpus("0-1\n"), Some(2));
        assert_eq!(possible_cpus("0"), Some(1));
        assert_eq!(possible_cpus("0-3,8-11"), Some(8));
        assert_eq!(possible_cpus(""), None);
        assert_eq!(possible_cpus("3-1"), None);
        assert_eq!(possible_cpus("x"), None);
    }
}
