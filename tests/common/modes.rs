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
    /// backing file, no writeback cache.
    Passthrough,
    /// No pin (`--pin live`): OPEN answered, one-second caches, no writeback cache. The default
    /// where nothing can pin (ext4, tmpfs).
    Live,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Pinned, Mode::Passthrough, Mode::Live];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Pinned => "pinned",
            Mode::Passthrough => "passthrough",
            Mode::Live => "live",
        }
    }

    /// The `agentfs mount` options that select this mode.
    pub fn mount_args(self) -> &'static [&'static str] {
        match self {
            Mode::Pinned => &["--pin", "copy"],
            Mode::Passthrough => &["--pin", "copy", "--passthrough"],
            Mode::Live => &["--pin", "live"],
        }
    }

    /// The same as `-o` options of `mount -t fuse.agentfs`.
    pub fn mount_options(self) -> &'static str {
        match self {
            Mode::Pinned => "pin=copy",
            Mode::Passthrough => "pin=copy,passthrough",
            Mode::Live => "pin=live",
        }
    }

    /// Whether SRC is pinned (a commit back into SRC is possible).
    pub fn pinned(self) -> bool {
        self != Mode::Live
    }

    /// Whether the kernel opens files without asking the daemon.
    pub fn no_open(self) -> bool {
        self == Mode::Pinned
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Instantiates test functions `fn NAME(mode: Mode)` once per mode: `NAME::pinned`,
/// `NAME::passthrough`, `NAME::live`.
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
            }
        )*
    };
}
