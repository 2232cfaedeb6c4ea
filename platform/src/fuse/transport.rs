//! Which transport carries a mount's requests: fuser's classic /dev/fuse session alone, or FUSE
//! over io_uring beside it; and why.

use super::ops::Ops;
pub use crate::io_uring_mode::{ENABLE_URING, IoUringMode, io_uring_unavailable};
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The transport a mount got.
pub struct Transport {
    #[cfg(target_os = "linux")]
    rings: Option<super::uring::Rings>,
    reason: String,
}

impl Transport {
    fn classic(reason: String) -> Transport {
        Transport {
            #[cfg(target_os = "linux")]
            rings: None,
            reason,
        }
    }

    /// `"io_uring"` or `"classic"`.
    pub fn name(&self) -> &'static str {
        if self.is_io_uring() { "io_uring" } else { "classic" }
    }

    pub fn is_io_uring(&self) -> bool {
        #[cfg(target_os = "linux")]
        {
            self.rings.is_some()
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    }

    /// Why this transport, in a few words.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Requests served through the ring so far.
    pub fn ring_requests(&self) -> u64 {
        #[cfg(target_os = "linux")]
        {
            self.rings.as_ref().map_or(0, |r| r.served())
        }
        #[cfg(not(target_os = "linux"))]
        {
            0
        }
    }

    /// Waits for the transport's own threads after the session ended.
    pub fn join(self) {
        #[cfg(target_os = "linux")]
        if let Some(r) = self.rings {
            let served = r.served();
            r.join();
            tracing::info!(served, "io_uring queues ended");
        }
    }
}

/// After INIT: starts the io_uring queues if the kernel granted io_uring, or says why not.
/// With `on`, not getting io_uring is an error.
pub(super) fn start(ops: &Arc<Ops>) -> io::Result<Transport> {
    let mode = ops.opts().io_uring;
    let transport = if mode == IoUringMode::Off {
        Transport::classic("--io-uring off".into())
    } else if ops.granted.io_uring.load(Ordering::Acquire) {
        start_rings(ops, mode)
    } else {
        Transport::classic(not_granted(ops))
    };
    if mode == IoUringMode::On && !transport.is_io_uring() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("--io-uring on: {}, or mount with --io-uring auto", transport.reason),
        ));
    }
    Ok(transport)
}

#[cfg(target_os = "linux")]
fn start_rings(ops: &Arc<Ops>, mode: IoUringMode) -> Transport {
    match super::uring::start(ops) {
        Ok(rings) => Transport {
            reason: format!("{} queues, one per CPU (--io-uring {})", rings.queues(), mode.name()),
            rings: Some(rings),
        },
        Err(e) => {
            tracing::warn!(%e, "FUSE over io_uring was granted but its queues could not be set up");
            Transport::classic(format!("the io_uring queues could not be set up ({e})"))
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn start_rings(_ops: &Arc<Ops>, _mode: IoUringMode) -> Transport {
    Transport::classic("FUSE over io_uring exists on Linux only".into())
}

/// Why the kernel did not grant io_uring.
fn not_granted(ops: &Ops) -> String {
    if let Some(why) = ops.granted.io_uring_unusable.get() {
        return format!("io_uring cannot be used by this process ({why})");
    }
    if ops.granted.io_uring_offered.load(Ordering::Acquire) {
        return "the kernel offered FUSE over io_uring but did not grant it".into();
    }
    io_uring_unavailable().unwrap_or_else(|| "the kernel did not offer FUSE over io_uring".into())
}
