//! The daemon's log: bounded in size and in repetition. It lives in the runtime directory,
//! which is a tmpfs (RAM), for as long as the mount does, so it must not grow with the
//! workload: a warning that fires once per request would otherwise fill memory.
//!
//! - The file is capped: past [`CAP`] bytes it is renamed to `NAME.old` (replacing an older
//!   one) and a new file is started, so at most twice the cap is kept.
//! - Each place in the code logs at most [`BURST`] messages per [`WINDOW`]; the next one after
//!   a pause says how many were left out.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
#[cfg(unix)]
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tracing::callsite::Identifier;
use tracing_subscriber::layer::{Context, Filter};

/// Largest size of the log file before it is rotated.
pub const CAP: u64 = 1 << 20;
/// Messages one place may log per window.
const BURST: u32 = 20;
const WINDOW: Duration = Duration::from_secs(60);

/// The older half of a rotated log (removed with the log).
pub fn old_path(log: &Path) -> PathBuf {
    let mut p = log.as_os_str().to_owned();
    p.push(".old");
    PathBuf::from(p)
}

/// Removes a log and its older half.
pub fn remove(log: &Path) {
    let _ = std::fs::remove_file(log);
    let _ = std::fs::remove_file(old_path(log));
}

/// A log file that rotates itself at [`CAP`] bytes.
pub struct CappedFile {
    path: PathBuf,
    file: File,
    written: u64,
}

fn open_log(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)
}

impl CappedFile {
    pub fn open(path: &Path) -> io::Result<CappedFile> {
        let file = open_log(path)?;
        let written = file.metadata()?.len();
        Ok(CappedFile { path: path.to_path_buf(), file, written })
    }

    fn rotate(&mut self) -> io::Result<()> {
        std::fs::rename(&self.path, old_path(&self.path))?;
        self.file = open_log(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

impl Write for CappedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written + buf.len() as u64 > CAP && self.written > 0 {
            self.rotate()?;
        }
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Lets each callsite log [`BURST`] events per [`WINDOW`].
#[derive(Default)]
pub struct RateLimit {
    seen: Mutex<HashMap<Identifier, (Instant, u32)>>,
}

impl RateLimit {
    /// Whether an event of `callsite` may be logged now.
    fn allow(&self, callsite: Identifier) -> bool {
        let now = Instant::now();
        let (allowed, left_out) = {
            let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let (start, count) = seen.entry(callsite).or_insert((now, 0));
            let mut left_out = 0;
            if now.duration_since(*start) > WINDOW {
                left_out = count.saturating_sub(BURST);
                *start = now;
                *count = 0;
            }
            *count += 1;
            (*count <= BURST, left_out)
        };
        if left_out > 0 {
            tracing::info!(left_out, "messages repeated from one place were left out of this log");
        }
        allowed
    }
}

impl<S> Filter<S> for RateLimit {
    fn enabled(&self, meta: &tracing::Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        !meta.is_event() || self.allow(meta.callsite())
    }

    /// Asked again for every event: the answer changes with time.
    fn callsite_enabled(&self, _meta: &'static tracing::Metadata<'static>) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_rotates_at_its_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.log");
        let mut f = CappedFile::open(&path).unwrap();
        let line = vec![b'x'; 1000];
        for _ in 0..3 * (CAP as usize / 1000) {
            f.write_all(&line).unwrap();
        }
        let size = |p: &Path| std::fs::metadata(p).unwrap().len();
        assert!(size(&path) <= CAP && size(&old_path(&path)) <= CAP);
    }
}
