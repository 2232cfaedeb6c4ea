//! A progress line for pins that take more than about a second, on a terminal only.

use agentfs_platform::clone_tree::Progress;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Shows progress until dropped.
pub struct Reporter {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

pub fn start(progress: Arc<Progress>, quiet: bool, what: String) -> Reporter {
    let done = Arc::new(AtomicBool::new(false));
    let thread = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(1) {
                if done.load(Ordering::Acquire) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            while !done.load(Ordering::Acquire) {
                let files = progress.files.load(Ordering::Relaxed);
                let bytes = progress.bytes.load(Ordering::Relaxed);
                bar.set_message(format!("{what}: {files} files, {}", indicatif::HumanBytes(bytes)));
                bar.tick();
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        })
    });
    Reporter { done, thread }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
