//! `--io-uring`: the choice of transport a user makes, and whether this machine can honour
//! `on`. Portable (the CLI parses it on every OS); the transport itself is in `fuse`.

/// The module parameter that lets the kernel offer FUSE over io_uring.
pub const ENABLE_URING: &str = "/sys/module/fuse/parameters/enable_uring";

/// `--io-uring`: whether to use FUSE over io_uring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IoUringMode {
    /// When the kernel offers it; the classic transport otherwise.
    #[default]
    Auto,
    /// Always; a mount fails where the kernel does not offer it.
    On,
    /// Never.
    Off,
}

impl IoUringMode {
    pub fn name(self) -> &'static str {
        match self {
            IoUringMode::Auto => "auto",
            IoUringMode::On => "on",
            IoUringMode::Off => "off",
        }
    }
}

impl std::str::FromStr for IoUringMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(IoUringMode::Auto),
            "on" => Ok(IoUringMode::On),
            "off" => Ok(IoUringMode::Off),
            other => Err(format!("unknown io_uring mode {other:?}; use auto, on or off")),
        }
    }
}

/// Why this kernel will not offer FUSE over io_uring to a new mount, if it will not (a mount
/// with `on` checks this before anything is made).
pub fn io_uring_unavailable() -> Option<String> {
    if !cfg!(target_os = "linux") {
        return Some("FUSE over io_uring exists on Linux only".into());
    }
    match std::fs::read_to_string(ENABLE_URING) {
        Err(_) => Some(format!(
            "this kernel has no FUSE over io_uring ({ENABLE_URING} is missing; it needs Linux 6.14+ built with CONFIG_FUSE_IO_URING)"
        )),
        Ok(v) if v.trim() != "Y" && v.trim() != "1" => Some(format!(
            "FUSE over io_uring is off in this kernel ({ENABLE_URING} is {}); turn it on as root with `echo 1 > {ENABLE_URING}`",
            v.trim()
        )),
        Ok(_) => probe_error().map(|e| format!("io_uring cannot be used by this process ({e})")),
    }
}

#[cfg(target_os = "linux")]
fn probe_error() -> Option<String> {
    crate::sys::uring::probe().err().map(|e| e.to_string())
}

#[cfg(not(target_os = "linux"))]
fn probe_error() -> Option<String> {
    None
}
