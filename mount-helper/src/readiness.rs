//! How a background daemon tells the `agentfs mount` that started it whether the mount is up.
//!
//! The daemon's stdout is a pipe to the starter; it writes one line, `ok` or
//! `err CODE MESSAGE`, then points stdout and stderr at /dev/null so nothing it does later can
//! block on, or be killed by, a pipe nobody reads.

use crate::error::{Error, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::time::Duration;

pub enum Readiness {
    /// In the foreground: messages go to stderr.
    Foreground,
    /// In the background: report on stdout, then detach from it.
    Pipe,
}

impl Readiness {
    pub fn is_background(&self) -> bool {
        matches!(self, Readiness::Pipe)
    }

    pub fn ready(&self, mnt: &Path) {
        match self {
            Readiness::Foreground => {
                eprintln!("agentfs: serving {} (Ctrl-C or `agentfs unmount` to stop)", mnt.display())
            }
            Readiness::Pipe => {
                let mut out = std::io::stdout();
                let _ = writeln!(out, "ok");
                let _ = out.flush();
                detach_stdio();
            }
        }
    }

    pub fn failed(&self, e: &Error) {
        if let Readiness::Pipe = self {
            let mut out = std::io::stdout();
            let msg = e.to_string().replace('\n', " ");
            let _ = writeln!(out, "err {} {msg}", e.exit_code());
            let _ = out.flush();
            detach_stdio();
        }
    }
}

/// Points stdout and stderr at /dev/null. (A Windows daemon writes nothing to them once it has
/// reported: its stdout pipe is left as it is.)
fn detach_stdio() {
    #[cfg(unix)]
    if let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&null);
        let _ = rustix::stdio::dup2_stderr(&null);
    }
}

/// Reads the daemon's report from `pipe`, waiting at most `timeout`.
pub fn read_report(pipe: impl Read + Send + 'static, timeout: Duration) -> Result<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let r = BufReader::new(pipe).read_line(&mut line).map(|_| line);
        let _ = tx.send(r);
    });
    let line = match rx.recv_timeout(timeout) {
        Ok(Ok(line)) => line,
        Ok(Err(e)) => {
            return Err(Error::System(format!("cannot read the daemon's report: {e}")));
        }
        Err(_) => {
            return Err(Error::System(format!("the daemon did not report within {}s", timeout.as_secs())));
        }
    };
    parse_report(line.trim_end())
}

/// Whether `line` is a daemon's report (rather than the launcher's pid line).
pub fn is_report(line: &str) -> bool {
    line == "ok" || line.starts_with("err ")
}

pub fn parse_report(line: &str) -> Result<()> {
    if line == "ok" {
        return Ok(());
    }
    if line.is_empty() {
        return Err(Error::System(
            "the daemon exited before the mount was ready; run with --foreground to see why".into(),
        ));
    }
    let rest = line.strip_prefix("err ").unwrap_or(line);
    let (code, msg) = rest.split_once(' ').unwrap_or(("1", rest));
    let msg = msg.to_string();
    Err(match code {
        "3" => Error::Input(msg),
        "4" => Error::Permission(msg),
        "5" => Error::Busy(msg),
        "6" => Error::NotMounted(msg),
        _ => Error::System(msg),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_parse_back_to_their_class() {
        assert!(parse_report("ok").is_ok());
        assert_eq!(parse_report("err 3 SRC x does not exist").unwrap_err().exit_code(), 3);
        assert_eq!(parse_report("err 1 boom").unwrap_err().to_string(), "boom");
        assert!(parse_report("").unwrap_err().to_string().contains("--foreground"));
    }
}
