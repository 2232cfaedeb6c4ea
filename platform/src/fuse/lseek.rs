//! SEEK_DATA / SEEK_HOLE under the writeback cache.
//!
//! The kernel sends FUSE_LSEEK without writing back dirty pages, so while a file has writable
//! handles, data the application wrote may not have reached the daemon yet and a naive answer
//! would call it a hole. Those lseeks are answered by this worker: it first asks the kernel to
//! invalidate the file's pages (which writes dirty ones back, served by the request threads,
//! which stay free), then answers from complete data.

use super::ops::LseekDone;
use agentfs_core::{Engine, FileRef, Whence};
use fuser::{INodeNo, Notifier};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, OnceLock};

pub struct Job {
    pub file: FileRef,
    pub offset: u64,
    pub whence: Whence,
    pub done: LseekDone,
}

/// The worker's inbox; the worker ends when this is dropped.
pub struct LseekWorker {
    tx: Sender<Job>,
}

impl LseekWorker {
    pub fn start(engine: Arc<Engine>, notifier: Arc<OnceLock<Notifier>>) -> std::io::Result<LseekWorker> {
        let (tx, rx) = channel();
        std::thread::Builder::new().name("lseek-flush".into()).spawn(move || run(&engine, &notifier, &rx))?;
        Ok(LseekWorker { tx })
    }

    /// Queues a job; if the worker is gone, answers at once from what the engine has.
    pub fn submit(&self, job: Job, engine: &Engine) {
        if let Err(std::sync::mpsc::SendError(job)) = self.tx.send(job) {
            answer(engine, job);
        }
    }
}

fn run(engine: &Engine, notifier: &OnceLock<Notifier>, rx: &Receiver<Job>) {
    while let Ok(job) = rx.recv() {
        if let Some(n) = notifier.get() {
            if let Err(e) = n.inval_inode(INodeNo(job.file.ino), 0, 0) {
                tracing::debug!(ino = job.file.ino, %e, "could not flush dirty pages before lseek");
            }
        }
        answer(engine, job);
    }
}

pub fn answer(engine: &Engine, job: Job) {
    (job.done)(engine.lseek(job.file, job.offset, job.whence));
}
