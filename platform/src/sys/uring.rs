//! The io_uring side of FUSE over io_uring (Linux 6.14+): one ring of 128-byte submission
//! entries per queue, the `FUSE_IO_URING_CMD_*` commands on /dev/fuse, and the buffers the
//! kernel copies requests into and replies out of.
//!
//! Kernel side: `fs/fuse/dev_uring.c`. An entry is registered once with a header buffer and a
//! payload buffer (`sqe->addr` points to `struct iovec[2]`, `sqe->len` is 2); its command
//! completes when the kernel has copied a request into those buffers; committing the reply
//! (`COMMIT_AND_FETCH`) hands the entry back for the next request. The kernel writes into the
//! buffers of an entry it holds at any time this thread runs task work, so a [`FuseRing`] gives
//! out an entry's buffers only while the entry is ours (its command completed, no command
//! submitted since), and never frees buffers the kernel may still hold.

use io_uring::{IoUring, cqueue, opcode, squeue, types};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;

/// `FUSE_IO_URING_CMD_REGISTER`: hand an entry (its buffers) to the kernel.
const CMD_REGISTER: u32 = 1;
/// `FUSE_IO_URING_CMD_COMMIT_AND_FETCH`: send the reply in an entry and take the next request.
const CMD_COMMIT_AND_FETCH: u32 = 2;
/// `sizeof(struct fuse_uring_req_header)`: in_out[128], op_in[128], fuse_uring_ent_in_out (32).
pub const HEADER_SIZE: usize = 288;
/// Offset of `sqe->len` in `struct io_uring_sqe` (include/uapi/linux/io_uring.h).
const SQE_LEN_OFFSET: usize = 24;
/// The number of iovecs of a REGISTER (header and payload): the kernel refuses anything else.
const IOV_SEGS: u32 = 2;
/// The user data of the eventfd poll that wakes a queue.
const WAKE_TAG: u64 = u64::MAX;

/// Whether this process can set up a ring of 128-byte entries at all (io_uring may be
/// disabled by `kernel.io_uring_disabled` or a seccomp filter).
pub fn probe() -> io::Result<()> {
    IoUring::<squeue::Entry128, cqueue::Entry>::builder().build(2).map(drop)
}

/// Makes the kernel give up FUSE over io_uring on the connection of `device` after INIT granted
/// it, so that requests, which wait for every queue to be registered, go through /dev/fuse
/// again: a REGISTER for a queue that cannot exist fails, and a failed REGISTER clears the
/// connection's io_uring flag (fs/fuse/dev_uring.c, fuse_uring_cmd).
pub fn refuse(device: Arc<OwnedFd>) -> io::Result<()> {
    let mut ring = FuseRing::new(device, u16::MAX, 1, 1, 8192)?;
    ring.register_all()?;
    let mut out = Vec::new();
    for _ in 0..100 {
        ring.completions(&mut out);
        if let Some(result) = out.iter().find_map(|c| match c {
            Completion::Entry { result, .. } => Some(*result),
            Completion::Wake => None,
        }) {
            return if result < 0 { Ok(()) } else { Err(io::Error::other("the kernel took an impossible queue")) };
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(io::Error::other("the kernel did not answer a registration"))
}

/// Pins the calling thread to `cpu`.
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set)?;
    Ok(())
}

/// What the kernel said about one command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion {
    /// Entry `index` holds a request (result 0), or its command failed (negative errno);
    /// `registering` says whether that command was its REGISTER.
    Entry { index: usize, result: i32, registering: bool },
    /// The wake-up eventfd became readable.
    Wake,
}

/// The last command submitted for an entry, to repeat after -EAGAIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Command {
    Register,
    Commit(u64),
}

/// Who may touch an entry's buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    /// Not submitted yet, or its last command failed: the kernel has no pointer to use.
    Idle,
    /// Submitted: the kernel may write the buffers at any time.
    Kernel,
    /// Its command completed with a request: ours until the next command.
    User,
}

struct Slot {
    header: Box<[u8; HEADER_SIZE]>,
    payload: Box<[u8]>,
    /// Points at `header` and `payload`; the kernel reads it while registering.
    iov: Box<[libc::iovec; 2]>,
    owner: Owner,
    last: Command,
}

impl Slot {
    fn new(payload_size: usize) -> Slot {
        let mut header = Box::new([0u8; HEADER_SIZE]);
        // Zeroed pages come from the allocator untouched: a large payload costs memory only
        // where the kernel writes.
        let mut payload = vec![0u8; payload_size].into_boxed_slice();
        let iov = Box::new([
            libc::iovec { iov_base: header.as_mut_ptr().cast(), iov_len: HEADER_SIZE },
            libc::iovec { iov_base: payload.as_mut_ptr().cast(), iov_len: payload.len() },
        ]);
        Slot { header, payload, iov, owner: Owner::Idle, last: Command::Register }
    }
}

/// Wakes the thread of a ring from any thread.
#[derive(Clone)]
pub struct Waker(Arc<OwnedFd>);

impl Waker {
    pub fn wake(&self) {
        // Fails only if the counter would overflow, when a wake-up is pending anyway.
        let _ = rustix::io::write(&*self.0, &1u64.to_ne_bytes());
    }
}

/// One FUSE queue's ring and its entries. Not `Send`: it lives and dies on the thread that
/// made it, which is the thread the kernel runs this ring's task work on.
pub struct FuseRing {
    ring: IoUring<squeue::Entry128, cqueue::Entry>,
    device: Arc<OwnedFd>,
    qid: u16,
    slots: Vec<Slot>,
    wake: Arc<OwnedFd>,
    /// Whether a poll of `wake` is submitted (its completion is still to come).
    wake_armed: bool,
    /// The most entries this ring takes (its queues are sized for them).
    capacity: usize,
    payload_size: usize,
}

impl FuseRing {
    /// A ring for queue `qid` of the FUSE connection `device`, with `depth` entries whose
    /// payload buffers hold `payload_size` bytes, and room for `capacity` entries in all.
    pub fn new(
        device: Arc<OwnedFd>,
        qid: u16,
        depth: usize,
        capacity: usize,
        payload_size: usize,
    ) -> io::Result<FuseRing> {
        let sqes = u32::try_from(capacity.max(depth) + 1).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let ring = IoUring::<squeue::Entry128, cqueue::Entry>::builder().setup_cqsize(sqes * 2).build(sqes)?;
        let flags = rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK;
        let wake = rustix::event::eventfd(0, flags)?;
        let slots = (0..depth).map(|_| Slot::new(payload_size)).collect();
        Ok(FuseRing { ring, device, qid, slots, wake: Arc::new(wake), wake_armed: false, capacity, payload_size })
    }

    /// Adds an entry and queues its REGISTER, if there is room; returns whether it did.
    pub fn add_entry(&mut self) -> io::Result<bool> {
        if self.slots.len() >= self.capacity {
            return Ok(false);
        }
        self.slots.push(Slot::new(self.payload_size));
        self.push_command(self.slots.len() - 1, Command::Register)?;
        Ok(true)
    }

    pub fn depth(&self) -> usize {
        self.slots.len()
    }

    pub fn waker(&self) -> Waker {
        Waker(Arc::clone(&self.wake))
    }

    /// Queues the REGISTER of every entry and the wake-up poll, and submits them.
    pub fn register_all(&mut self) -> io::Result<()> {
        for index in 0..self.slots.len() {
            self.push_command(index, Command::Register)?;
        }
        self.arm_wake()?;
        self.submit()
    }

    /// The entry command for `index`: an IORING_OP_URING_CMD on /dev/fuse whose 80-byte
    /// command area holds `struct fuse_uring_cmd_req { u64 flags; u64 commit_id; u16 qid; }`.
    fn sqe(&self, index: usize, command: Command) -> squeue::Entry128 {
        let (op, commit_id) = match command {
            Command::Register => (CMD_REGISTER, 0),
            Command::Commit(id) => (CMD_COMMIT_AND_FETCH, id),
        };
        let mut cmd = [0u8; 80];
        cmd[8..16].copy_from_slice(&commit_id.to_le_bytes());
        cmd[16..18].copy_from_slice(&self.qid.to_le_bytes());
        let mut b = opcode::UringCmd80::new(types::Fd(self.device.as_raw_fd()), op).cmd(cmd);
        if command == Command::Register {
            b = b.addr(Some(self.slots[index].iov.as_ptr() as u64));
        }
        let mut sqe = b.build().user_data(index as u64);
        if command == Command::Register {
            set_len(&mut sqe, IOV_SEGS);
        }
        sqe
    }

    fn push_command(&mut self, index: usize, command: Command) -> io::Result<()> {
        let sqe = self.sqe(index, command);
        self.push(&sqe)?;
        let slot = &mut self.slots[index];
        slot.owner = Owner::Kernel;
        slot.last = command;
        Ok(())
    }

    fn push(&mut self, sqe: &squeue::Entry128) -> io::Result<()> {
        if self.ring.submission().is_full() {
            self.submit()?;
        }
        // SAFETY: every pointer in an entry command (the iovec array, and through it the header
        // and payload buffers) points into a slot of `self`, which keeps them allocated until
        // the kernel is done with them: `Drop` leaks the buffers of any entry still submitted.
        // The poll of the eventfd carries no pointer; the fd lives in `self.wake`.
        unsafe { self.ring.submission().push(sqe) }.map_err(|_| io::Error::other("the submission queue is full"))
    }

    /// Queues a poll of the wake-up eventfd.
    pub fn arm_wake(&mut self) -> io::Result<()> {
        if self.wake_armed {
            return Ok(());
        }
        let poll = opcode::PollAdd::new(types::Fd(self.wake.as_raw_fd()), libc::POLLIN as u32).build();
        self.push(&squeue::Entry128::from(poll.user_data(WAKE_TAG)))?;
        self.wake_armed = true;
        Ok(())
    }

    /// Empties the wake-up eventfd (after its poll completed).
    pub fn drain_wake(&self) {
        let mut buf = [0u8; 8];
        let _ = rustix::io::read(self.wake.as_fd(), &mut buf);
    }

    /// Submits what is queued.
    pub fn submit(&mut self) -> io::Result<()> {
        loop {
            match self.ring.submit() {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Submits what is queued and waits for at least one completion.
    pub fn submit_and_wait(&mut self) -> io::Result<()> {
        loop {
            match self.ring.submit_and_wait(1) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes the completions that arrived (appended to `out`).
    pub fn completions(&mut self, out: &mut Vec<Completion>) {
        let FuseRing { ring, slots, wake_armed, .. } = self;
        for c in ring.completion() {
            let (tag, result) = (c.user_data(), c.result());
            if tag == WAKE_TAG {
                *wake_armed = false;
                out.push(Completion::Wake);
                continue;
            }
            let Some((index, slot)) = usize::try_from(tag).ok().and_then(|i| Some((i, slots.get_mut(i)?))) else {
                continue;
            };
            slot.owner = if result == 0 { Owner::User } else { Owner::Idle };
            out.push(Completion::Entry { index, result, registering: slot.last == Command::Register });
        }
    }

    /// The header and payload buffers of entry `index`, if it is ours.
    pub fn buffers(&mut self, index: usize) -> Option<(&mut [u8; HEADER_SIZE], &mut [u8])> {
        let slot = self.slots.get_mut(index).filter(|s| s.owner == Owner::User)?;
        Some((&mut slot.header, &mut slot.payload))
    }

    /// Queues the reply now in entry `index` (COMMIT_AND_FETCH with the request's `commit_id`).
    pub fn commit(&mut self, index: usize, commit_id: u64) -> io::Result<()> {
        if self.slots.get(index).map(|s| s.owner) != Some(Owner::User) {
            return Err(io::Error::other(format!("entry {index} is not ours to commit")));
        }
        self.push_command(index, Command::Commit(commit_id))
    }

    /// Queues again the last command of entry `index` (after -EAGAIN or -EINTR).
    pub fn retry(&mut self, index: usize) -> io::Result<()> {
        let Some(slot) = self.slots.get(index).filter(|s| s.owner == Owner::Idle) else {
            return Err(io::Error::other(format!("entry {index} has no failed command")));
        };
        let last = slot.last;
        self.push_command(index, last)
    }

    /// Registers entry `index` again (after its commit failed: the kernel dropped it).
    pub fn reregister(&mut self, index: usize) -> io::Result<()> {
        if self.slots.get(index).map(|s| s.owner) != Some(Owner::Idle) {
            return Err(io::Error::other(format!("entry {index} has no failed command")));
        }
        self.push_command(index, Command::Register)
    }

    /// Entries the kernel holds (submitted, not completed).
    pub fn in_kernel(&self) -> usize {
        self.slots.iter().filter(|s| s.owner == Owner::Kernel).count()
    }

    /// Entries whose request is being answered.
    pub fn in_user(&self) -> usize {
        self.slots.iter().filter(|s| s.owner == Owner::User).count()
    }
}

impl Drop for FuseRing {
    fn drop(&mut self) {
        // Closing the ring cancels its commands asynchronously; the kernel could still copy a
        // request into the buffers of an entry it holds. Those buffers are never freed.
        for slot in std::mem::take(&mut self.slots) {
            if slot.owner == Owner::Kernel {
                std::mem::forget(slot);
            }
        }
    }
}

/// Sets `sqe->len`, which `UringCmd80` leaves zero; the kernel wants the iovec count there.
fn set_len(sqe: &mut squeue::Entry128, len: u32) {
    let base: *mut squeue::Entry128 = sqe;
    // SAFETY: `Entry128` is `#[repr(C)]` and starts with the 64-byte `struct io_uring_sqe`
    // (also `#[repr(C)]`, the kernel's layout, asserted by the crate's tests), whose `len`
    // field is the u32 at byte 24 (include/uapi/linux/io_uring.h). The write is in bounds of
    // the 128-byte value `sqe` borrows exclusively; `write_unaligned` needs no alignment.
    unsafe { base.cast::<u8>().add(SQE_LEN_OFFSET).cast::<u32>().write_unaligned(len) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 128 bytes of an entry.
    fn bytes(sqe: &squeue::Entry128) -> [u8; 128] {
        assert_eq!(std::mem::size_of::<squeue::Entry128>(), 128);
        // SAFETY: `Entry128` is a 128-byte `#[repr(C)]` plain-data value with no padding (two
        // 64-byte halves of integers); reading it as bytes reads initialised memory.
        unsafe { std::ptr::read_unaligned((sqe as *const squeue::Entry128).cast::<[u8; 128]>()) }
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    fn u64_at(b: &[u8], at: usize) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(a)
    }

    #[test]
    fn a_register_command_is_laid_out_as_the_kernel_reads_it() {
        let dev =
            Arc::new(rustix::fs::open("/dev/null", rustix::fs::OFlags::RDONLY, rustix::fs::Mode::empty()).unwrap());
        let Ok(ring) = FuseRing::new(Arc::clone(&dev), 3, 2, 2, 8192) else {
            eprintln!("skipping: io_uring is not available here");
            return;
        };
        let reg = bytes(&ring.sqe(1, Command::Register));
        assert_eq!(reg[0], 46, "IORING_OP_URING_CMD");
        assert_eq!(u32_at(&reg, 4) as i32, dev.as_raw_fd());
        assert_eq!(u32_at(&reg, 8), CMD_REGISTER, "cmd_op");
        assert_eq!(u64_at(&reg, 16), ring.slots[1].iov.as_ptr() as u64, "addr: the iovec array");
        assert_eq!(u32_at(&reg, 24), 2, "len: two iovecs");
        assert_eq!(u64_at(&reg, 32), 1, "user_data: the entry");
        // The command area starts at byte 48: flags, commit_id, qid.
        assert_eq!(u64_at(&reg, 48), 0);
        assert_eq!(u64_at(&reg, 56), 0);
        assert_eq!(u16::from_le_bytes([reg[64], reg[65]]), 3);
        assert!(reg[66..].iter().all(|&b| b == 0));
        let iov = &ring.slots[1].iov;
        assert_eq!((iov[0].iov_len, iov[1].iov_len), (HEADER_SIZE, 8192));

        let commit = bytes(&ring.sqe(0, Command::Commit(0xfeed)));
        assert_eq!(u32_at(&commit, 8), CMD_COMMIT_AND_FETCH);
        assert_eq!((u64_at(&commit, 16), u32_at(&commit, 24)), (0, 0), "a commit carries no buffers");
        assert_eq!(u64_at(&commit, 56), 0xfeed, "commit_id");
        assert_eq!(u16::from_le_bytes([commit[64], commit[65]]), 3);
    }

    #[test]
    fn buffers_are_given_out_only_while_an_entry_is_ours() {
        let dev =
            Arc::new(rustix::fs::open("/dev/null", rustix::fs::OFlags::RDONLY, rustix::fs::Mode::empty()).unwrap());
        let Ok(mut ring) = FuseRing::new(dev, 0, 1, 2, 8192) else {
            eprintln!("skipping: io_uring is not available here");
            return;
        };
        assert!(ring.buffers(0).is_none());
        assert!(ring.commit(0, 1).is_err());
        assert!(ring.buffers(7).is_none());
        assert_eq!(ring.depth(), 1);
        // Registering on something that is not /dev/fuse fails in the kernel, not here.
        assert!(ring.add_entry().unwrap());
        assert!(!ring.add_entry().unwrap(), "no room beyond the capacity");
        assert_eq!(ring.depth(), 2);
    }
}
