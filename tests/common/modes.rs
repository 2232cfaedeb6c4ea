//! The I/O modes a user can get, as one parameter of the test fixture.
//!
//! Which mode `agentfs mount` picks depends on the filesystem under SRC (`auto` takes a pin
//! where it can, `live` where it cannot), so a test that mounts with the defaults tests
//! whatever this machine's `/tmp` happens to give. Mount tests are therefore written once as a
//! function of a [`Mode`] and instantiated for every mode with [`per_mode!`]: the test
//! `semantics::renames::pinned` is `renames` in the pinned mode.

/// One way the daemon can serve a mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A pin (here a copy, as a btrfs snapshot or reflink clone gives on btrfs/XFS): OPEN is not
    /// answered, so the kernel opens and closes files itself and sends requests without a file
    /// handle; writeback cache; caches that never expire. The default on btrfs and XFS.
    Pinned,
    /// A pin with `--passthrough`: OPEN answered, large lower files read by the kernel through a
    /// backing file, upper files opened for writing lent to the kernel (read and written
    /// through a backing file in a private tmpfs), no writeback cache.
    Passthrough,
    /// No pin (`--pin live`): OPEN answered, one-second caches, no writeback cache. The default
    /// where nothing can pin (ext4, tmpfs).
    Live,
    /// Pinned, with requests through FUSE over io_uring (`--io-uring on`): one queue per CPU.
    /// The other modes ask for the classic transport (`--io-uring off`), so that both are
    /// tested whatever the kernel offers.
    Uring,
}

impl Mode {
    pub const ALL: [Mode; 4] = [Mode::Pinned, Mode::Passthrough, Mode::Live, Mode::Uring];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Pinned => "pinned",
            Mode::Passthrough => "passthrough",
            Mode::Live => "live",
            Mode::Uring => "uring",
        }
    }

    /// The `agentfs mount` options that select this mode.
    pub fn mount_args(self) -> &'static [&'static str] {
        match self {
            Mode::Pinned => &["--pin", "copy", "--io-uring", "off"],
            Mode::Passthrough => &["--pin", "copy", "--passthrough", "--io-uring", "off"],
            Mode::Live => &["--pin", "live", "--io-uring", "off"],
            Mode::Uring => &["--pin", "copy", "--io-uring", "on"],
        }
    }

    /// The same as `-o` options of `mount -t fuse.agentfs`.
    pub fn mount_options(self) -> &'static str {
        match self {
            Mode::Pinned => "pin=copy,io_uring=off",
            Mode::Passthrough => "pin=copy,passthrough,io_uring=off",
            Mode::Live => "pin=live,io_uring=off",
            Mode::Uring => "pin=copy,io_uring=on",
        }
    }

    /// Whether SRC is pinned (a commit back into SRC is possible).
    pub fn pinned(self) -> bool {
        self != Mode::Live
    }

    /// Whether the kernel opens files without asking the daemon.
    pub fn no_open(self) -> bool {
        matches!(self, Mode::Pinned | Mode::Uring)
    }

    /// The transport `agentfs status` reports for this mode.
    pub fn transport(self) -> &'static str {
        if self == Mode::Uring { "io_uring" } else { "classic" }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Instantiates test functions `fn NAME(mode: Mode)` once per mode: `NAME::pinned`,
/// `NAME::passthrough`, `NAME::live`, `NAME::uring` (skipped where the kernel does not offer
/// FUSE over io_uring, unless CI=true, see [`crate::common::uring_available`]).
#[macro_export]
macro_rules! per_mode {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn pinned() {
                    super::$name($crate::common::Mode::Pinned)
                }
                #[test]
                fn passthrough() {
                    super::$name($crate::common::Mode::Passthrough)
                }
                #[test]
                fn live() {
                    super::$name($crate::common::Mode::Live)
                }
                #[test]
                fn uring() {
                    if $crate::common::uring_available() {
                        super::$name($crate::common::Mode::Uring)
                    }
                }
            }
        )*
    };
}
