//! One queue's thread: pinned to the queue's CPU (the kernel queues a request on the CPU its
//! caller runs on), it registers the queue's entries, then serves each request that arrives
//! and commits the reply, which also fetches the next one.
//!
//! A request answered later (LSEEK, which may first need dirty pages written back, and those
//! writes are requests too) keeps its entry while its answer is computed elsewhere; the answer
//! comes back through a channel and the queue's eventfd, and this thread commits it. The thread
//! never waits for anything but its ring.
//!
//! The thread ends when every entry is gone: at unmount (or when the connection is aborted) the
//! kernel completes each entry's command with an error.

use super::abi::{self, Reader};
use super::decode::Header;
use super::dispatch::{self, Call, Reply};
use super::encode;
use crate::fuse::ops::{LseekDone, Ops};
use crate::sys::uring::{Completion, FuseRing, HEADER_SIZE, Waker};
use agentfs_core::Errno;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, mpsc};
use std::thread::ThreadId;

/// What a queue thread is given.
pub struct Spec {
    pub qid: u16,
    /// The CPU to pin to (none if it is not ours to run on).
    pub cpu: Option<usize>,
    pub depth: usize,
    /// The most entries the queue may grow to (see [`Queue::keep_depth`]).
    pub capacity: usize,
    pub payload_size: usize,
}

/// What a queue shares with the thread that started it.
pub struct Shared {
    pub ops: Arc<Ops>,
    pub device: Arc<OwnedFd>,
    /// Requests served through the ring (all queues).
    pub served: Arc<AtomicU64>,
    /// Set to make the queue stop at its next wake-up (registration failed elsewhere).
    pub stop: Arc<AtomicBool>,
}

/// An answer computed on another thread.
struct Answer {
    index: usize,
    unique: u64,
    result: agentfs_core::Result<u64>,
}

struct Queue {
    ring: FuseRing,
    shared: Shared,
    answers: Receiver<Answer>,
    answer_tx: Sender<Answer>,
    waker: Waker,
    me: ThreadId,
    /// Entries whose request waits for an answer from another thread.
    pending: usize,
}

/// The body of a queue thread: sets the queue up, reports how that went through `ready`,
/// then serves until the queue ends.
pub fn run(spec: &Spec, shared: Shared, ready: &mpsc::SyncSender<io::Result<Waker>>) {
    if let Some(cpu) = spec.cpu {
        if let Err(e) = crate::sys::uring::pin_to_cpu(cpu) {
            tracing::debug!(qid = spec.qid, cpu, %e, "queue thread not pinned");
        }
    }
    let mut early = Vec::new();
    let ring = match setup(spec, &shared, &mut early) {
        Ok(r) => r,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let (answer_tx, answers) = channel();
    let waker = ring.waker();
    let mut q =
        Queue { ring, shared, answers, answer_tx, waker: waker.clone(), me: std::thread::current().id(), pending: 0 };
    if ready.send(Ok(waker)).is_err() {
        return;
    }
    q.serve(spec, early);
}

/// Makes the ring and registers its entries. A REGISTER the kernel refuses fails at once
/// (its completion is posted during the submission); completions that are requests already
/// are left in `early`.
fn setup(spec: &Spec, shared: &Shared, early: &mut Vec<Completion>) -> io::Result<FuseRing> {
    injected_fault(spec.qid)?;
    let mut ring = FuseRing::new(Arc::clone(&shared.device), spec.qid, spec.depth, spec.capacity, spec.payload_size)?;
    ring.register_all()?;
    ring.completions(early);
    for c in early.iter() {
        if let Completion::Entry { result, .. } = *c {
            if result < 0 && result != -libc::EAGAIN && result != -libc::EINTR {
                return Err(io::Error::from_raw_os_error(-result));
            }
        }
    }
    Ok(ring)
}

impl Queue {
    fn serve(&mut self, spec: &Spec, early: Vec<Completion>) {
        let qid = spec.qid;
        let mut done = early;
        loop {
            for c in &done {
                match *c {
                    Completion::Wake => {
                        self.ring.drain_wake();
                        if self.shared.stop.load(Ordering::Acquire) {
                            return;
                        }
                        if let Err(e) = self.ring.arm_wake() {
                            tracing::warn!(qid, %e, "the queue can no longer be woken");
                        }
                    }
                    Completion::Entry { index, result: 0, .. } => {
                        if !self.request(index) {
                            self.pending += 1;
                            // An answer given at once (no writeback to wait for) is in already.
                            self.deliver_answers();
                            self.keep_depth(spec);
                        }
                    }
                    Completion::Entry { index, result, registering } => self.failed(qid, index, result, registering),
                }
            }
            self.deliver_answers();
            if self.ring.in_kernel() == 0 && self.ring.in_user() == 0 {
                tracing::debug!(qid, "io_uring queue ended");
                return;
            }
            done.clear();
            if let Err(e) = self.ring.submit_and_wait() {
                if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN | libc::ENOMEM)) {
                    tracing::warn!(qid, %e, "io_uring_enter failed; trying again");
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                }
                tracing::error!(qid, %e, "the io_uring queue failed; its requests wait for unmount");
                return;
            }
            self.ring.completions(&mut done);
        }
    }

    /// While requests wait for answers from elsewhere, their entries are not available: one
    /// is added for each, up to the capacity, so the queue always has `depth` entries for new
    /// requests. Those may be the very writes a waiting LSEEK needs (writeback runs on the
    /// thread that flushes, and its requests go to that thread's CPU's queue).
    fn keep_depth(&mut self, spec: &Spec) {
        if self.ring.depth().saturating_sub(self.pending) >= spec.depth {
            return;
        }
        match self.ring.add_entry() {
            Ok(true) => tracing::debug!(qid = spec.qid, entries = self.ring.depth(), "io_uring queue grew"),
            Ok(false) => tracing::warn!(qid = spec.qid, "every entry of an io_uring queue waits for an answer"),
            Err(e) => tracing::warn!(qid = spec.qid, %e, "could not add an io_uring entry"),
        }
    }

    /// Serves the request that arrived in entry `index`; returns whether it was answered
    /// (false: its answer comes later).
    fn request(&mut self, index: usize) -> bool {
        let Queue { ring, shared, answer_tx, waker, me, .. } = self;
        let Some((header, payload)) = ring.buffers(index) else { return true };
        let Some((h, commit_id, payload_sz)) = read_header(header) else { return true };
        let later = || -> LseekDone {
            let (tx, waker, me) = (answer_tx.clone(), waker.clone(), *me);
            Box::new(move |result| {
                let _ = tx.send(Answer { index, unique: h.unique, result });
                if std::thread::current().id() != me {
                    waker.wake();
                }
            })
        };
        let call = Call { ops: &shared.ops, header: h, later: &later };
        let op_in: [u8; abi::RING_OP_IN] = op_in(header);
        let reply = dispatch::serve(&call, &op_in, payload, payload_sz);
        shared.served.fetch_add(1, Ordering::Relaxed);
        match reply {
            Reply::Done { error, payload } => {
                self.commit(index, h.unique, commit_id, error, payload);
                true
            }
            Reply::Pending => false,
        }
    }

    fn commit(&mut self, index: usize, unique: u64, commit_id: u64, error: i32, payload: usize) {
        let Some((header, _)) = self.ring.buffers(index) else { return };
        encode::finish(header, unique, error, payload);
        if let Err(e) = self.ring.commit(index, commit_id) {
            tracing::error!(index, %e, "a reply could not be committed");
        }
    }

    /// Commits the answers computed on other threads.
    fn deliver_answers(&mut self) {
        while let Ok(a) = self.answers.try_recv() {
            self.pending = self.pending.saturating_sub(1);
            let Some((_, payload)) = self.ring.buffers(a.index) else { continue };
            if let Reply::Done { error, payload } = dispatch::lseek_reply(a.result, payload) {
                // The commit id of a request is its unique.
                self.commit(a.index, a.unique, a.unique, error, payload);
            }
        }
    }

    /// A command of entry `index` failed with `result`.
    fn failed(&mut self, qid: u16, index: usize, result: i32, registering: bool) {
        let e = -result;
        let r = if e == libc::EAGAIN || e == libc::EINTR {
            self.ring.retry(index)
        } else if [libc::ENOTCONN, libc::ECONNABORTED, libc::ECANCELED, libc::ENODEV].contains(&e) {
            // The connection is going away: this entry is done.
            Ok(())
        } else if registering {
            tracing::error!(qid, index, errno = Errno::from_linux(e).name(), "a ring entry could not be registered");
            Ok(())
        } else {
            tracing::warn!(qid, index, errno = Errno::from_linux(e).name(), "a reply was refused; registering again");
            self.ring.reregister(index)
        };
        if let Err(e) = r {
            tracing::error!(qid, index, %e, "a ring entry is lost");
        }
    }
}

/// Tests make queue `AGENTFS_FAULT_URING_QID` fail to set up, as it would without memory,
/// after the others registered: the kernel must then be made to serve /dev/fuse again.
fn injected_fault(qid: u16) -> io::Result<()> {
    match std::env::var("AGENTFS_FAULT_URING_QID").ok().and_then(|v| v.parse::<u16>().ok()) {
        Some(q) if q == qid => Err(io::Error::other(format!("fault injected into queue {qid}"))),
        _ => Ok(()),
    }
}

/// The request's header, commit id and payload size, from an entry's header buffer.
fn read_header(header: &[u8; HEADER_SIZE]) -> Option<(Header, u64, usize)> {
    let h = Header::read(&header[..abi::IN_HEADER])?;
    let mut ent = Reader::new(&header[abi::RING_IN_OUT + abi::RING_OP_IN..]);
    let _flags = ent.u64()?;
    let commit_id = ent.u64()?;
    let payload_sz = ent.u32()? as usize;
    Some((h, commit_id, payload_sz))
}

fn op_in(header: &[u8; HEADER_SIZE]) -> [u8; abi::RING_OP_IN] {
    let mut a = [0u8; abi::RING_OP_IN];
    a.copy_from_slice(&header[abi::RING_IN_OUT..abi::RING_IN_OUT + abi::RING_OP_IN]);
    a
}
