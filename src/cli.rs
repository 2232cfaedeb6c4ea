//! Command-line syntax.

use agentfs_mount_helper::pin::PinRequest;
use agentfs_mount_helper::size::parse_size;
use agentfs_platform::io_uring_mode::IoUringMode;
use agentfs_platform::mount_options::KernelOptions;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "agentfs",
    version,
    about = "Freeze a directory: show it as a copy-on-write overlay whose writes live in RAM and vanish at unmount",
    after_help = "Exit codes: 0 success, 1 system error, 2 usage, 3 bad input, 4 permission, 5 busy, 6 not mounted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show SRC at MNT as a copy-on-write overlay; returns once MNT serves
    Mount(MountArgs),
    /// Unmount MNT and wait until its daemon has exited (its pin is removed too)
    Unmount(UnmountArgs),
    /// Show a mount: source, pin, daemon, RAM used (all live mounts without MNT)
    Status(StatusArgs),
    /// List the mounts and their state: serving, pinning, detached (not at its mount point), dead
    List(ListArgs),
    /// Clean up after crashed daemons and commits: unmount, delete pins, finish or roll back
    Gc,
    /// Keep the current view of MNT as a read-only snapshot NAME (`snapshot rm NAME` deletes one);
    /// `agentfs mount @NAME MNT2` starts a branch from it
    Snapshot(SnapshotArgs),
    /// List the snapshots
    Snapshots(ListArgs),
    /// Show what MNT changed: added, modified, deleted, renamed, metadata
    Diff(DiffArgs),
    /// Keep what MNT changed: write it back into SRC (crash-safe), or the whole view to --to DIR
    Commit(CommitArgs),
    /// Run CMD in a throwaway frozen view of SRC; nothing it writes there is kept
    Run(RunArgs),
    /// (internal) run the daemon of a mount
    #[command(name = "__serve", hide = true)]
    Serve(ServeArgs),
}

#[cfg(unix)]
impl Command {
    /// Whether the command only reads and prints (then a closed stdout may end it at once).
    pub fn only_prints(&self) -> bool {
        matches!(self, Command::Status(_) | Command::List(_) | Command::Snapshots(_) | Command::Diff(_))
    }
}

/// Options shared by `mount` and the daemon.
#[derive(Args, Debug, Clone)]
pub struct MountOptions {
    /// RAM the upper layer may use (e.g. 512M, 4G); writes past it fail with ENOSPC
    #[arg(long, value_name = "SIZE", default_value = "4G", value_parser = parse_size)]
    pub size: u64,
    /// Let other users (and root) use the mount (non-root needs user_allow_other in /etc/fuse.conf)
    #[arg(long)]
    pub allow_other: bool,
    /// Mount read-only
    #[arg(long, visible_alias = "ro")]
    pub read_only: bool,
    /// Open lower files of 1 MiB and more through FUSE passthrough (root only): they read at
    /// native speed and are cached once, but every open and close costs the daemon a round trip
    /// and the kernel's writeback cache is off. The default serves files from the page cache
    /// and never sees opens.
    #[arg(long)]
    pub passthrough: bool,
    /// An option for the FUSE driver, passed as it is; macOS only (macFUSE's):
    /// `--fuse-option backend=fskit` (or `-o backend=fskit`) serves the mount through macFUSE's
    /// FSKit backend (macOS 15.4+, mounts under /Volumes only)
    #[arg(long = "fuse-option", value_name = "OPT")]
    pub fuse_options: Vec<String>,
    /// Serve requests through FUSE over io_uring (Linux 6.14+, with the fuse module parameter
    /// enable_uring on): auto uses it where the kernel offers it, on fails where it does not
    #[arg(long, value_name = "WHEN", default_value = "auto", value_parser = parse_io_uring)]
    pub io_uring: IoUringMode,
}

#[derive(Args, Debug)]
pub struct MountArgs {
    /// The directory to freeze (never written), or @NAME for a branch of the snapshot NAME
    pub src: PathBuf,
    /// An empty directory to mount on
    pub mnt: PathBuf,
    #[command(flatten)]
    pub options: MountOptions,
    /// What freezes SRC: a btrfs snapshot, a reflink clone, a copy, or nothing (live);
    /// auto takes the fastest the filesystem offers
    #[arg(long, value_name = "KIND", default_value = "auto", value_parser = parse_pin)]
    pub pin: PinRequest,
    /// Stay in the foreground and log to stderr
    #[arg(long, short = 'f')]
    pub foreground: bool,
    /// No progress bar, no notices
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Mount options as mount(8) takes them, applied after the flags: pin=KIND, size=SIZE, ro,
    /// allow_other, passthrough, fsname=NAME, source=DIR, the kernel's nosuid/suid, nodev/dev,
    /// noexec, noatime/relatime/strictatime, nodiratime, sync, dirsync, lazytime, context=...;
    /// `-o remount,ro` changes a live mount at MNT (Linux). On macOS the other options go to
    /// macFUSE
    #[arg(short = 'o', value_name = "OPTIONS")]
    pub options_list: Vec<String>,
}

fn parse_owner(s: &str) -> Result<(u32, u64), String> {
    let (pid, start) = s.split_once(':').ok_or("expected PID:START")?;
    Ok((pid.parse().map_err(|_| "bad pid")?, start.parse().map_err(|_| "bad start time")?))
}

fn parse_kernel_options(s: &str) -> Result<KernelOptions, String> {
    KernelOptions::parse(s).map_err(|word| format!("{word:?} is not a kernel mount option"))
}

fn parse_pin(s: &str) -> Result<PinRequest, String> {
    s.parse()
}

fn parse_io_uring(s: &str) -> Result<IoUringMode, String> {
    s.parse()
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The mount point (all live mounts if left out)
    pub mnt: Option<PathBuf>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub action: Option<SnapshotAction>,
    /// The mount to snapshot
    #[arg(required = true)]
    pub mnt: Option<PathBuf>,
    /// The snapshot's name: letters, digits, '.', '_', '-' (at most 64)
    #[arg(required = true)]
    pub name: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum SnapshotAction {
    /// Delete the snapshot NAME (refused while a mount branches from it)
    Rm { name: String },
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The mount point
    pub mnt: PathBuf,
    /// Print a JSON array of {"path", "change", "type", ...}
    #[arg(long)]
    pub json: bool,
    /// Print counts and sizes only (with --json: counts and the list)
    #[arg(long)]
    pub stat: bool,
}

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// The mount point
    pub mnt: PathBuf,
    /// Write the whole current view as a new tree at DIR (new, or an empty directory) instead
    #[arg(long, value_name = "DIR")]
    pub to: Option<PathBuf>,
    /// Check for conflicts and print what would be done; write nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The directory to freeze
    pub src: PathBuf,
    /// Mount the view at PATH (created if missing) instead of over SRC in a private namespace
    #[arg(long, value_name = "PATH")]
    pub at: Option<PathBuf>,
    /// What freezes SRC (as for mount)
    #[arg(long, value_name = "KIND", default_value = "auto", value_parser = parse_pin)]
    pub pin: PinRequest,
    /// RAM the command's writes may use
    #[arg(long, value_name = "SIZE", default_value = "4G", value_parser = parse_size)]
    pub size: u64,
    /// Open large lower files through FUSE passthrough (root only; as for mount)
    #[arg(long)]
    pub passthrough: bool,
    /// FUSE over io_uring: auto, on or off (as for mount)
    #[arg(long, value_name = "WHEN", default_value = "auto", value_parser = parse_io_uring)]
    pub io_uring: IoUringMode,
    /// No notices
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// The command and its arguments, after --
    #[arg(last = true, required = true, value_name = "CMD")]
    pub cmd: Vec<std::ffi::OsString>,
}

#[derive(Args, Debug)]
pub struct UnmountArgs {
    /// The mount point
    pub mnt: PathBuf,
    /// Detach now even if files are open; the daemon exits when they are closed
    #[arg(long, short = 'l')]
    pub lazy: bool,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Start the daemon in a new process, print its pid, and return
    #[arg(long)]
    pub detach: bool,
    #[command(flatten)]
    pub options: MountOptions,
    /// The pin to serve (as `agentfs mount` made it)
    #[arg(long, value_name = "HEX")]
    pub pin_record: String,
    /// The mount's record id
    #[arg(long)]
    pub id: String,
    /// Unmount when this process (PID:START_TIME) exits
    #[arg(long, value_name = "PID:START", value_parser = parse_owner)]
    pub exit_with: Option<(u32, u64)>,
    /// The kernel's generic mount options (nosuid, noexec, noatime, ...), comma-separated
    #[arg(long, value_name = "LIST", default_value = "", value_parser = parse_kernel_options)]
    pub kernel_options: KernelOptions,
    /// The source the mount table shows
    #[arg(long, value_name = "NAME")]
    pub fsname: Option<String>,
    pub src: PathBuf,
    pub mnt: PathBuf,
}
