//! The `agentfs` command. Called as `mount.fuse.agentfs`, it is the helper of mount(8).

mod cli;
mod cmd;
mod quote;

use clap::Parser;

/// Prints a line to stdout; a closed stdout does not stop the command (it may be half-way
/// through changing something; the commands that only print end quietly instead).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
pub(crate) use say;

/// Prints a line to stdout for a command whose output is what it was asked for: a write that
/// fails (a full disk) is the command's error.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*).map_err(|e| {
            agentfs_mount_helper::Error::System(format!("cannot write the output: {e}"))
        })
    }};
}
pub(crate) use out;

fn main() {
    // Copying a pin or a deep tree keeps a directory fd open per level and per queued directory.
    agentfs_platform::limits::raise_nofile();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let invoked_as = args.first().and_then(|a| std::path::Path::new(a).file_name()).map(|n| n.to_os_string());
    let result = if invoked_as.as_deref() == Some(std::ffi::OsStr::new("mount.fuse.agentfs")) {
        cmd::fstab::run(args)
    } else {
        let command = cli::Cli::parse_from(args).command;
        #[cfg(unix)]
        if command.only_prints() {
            agentfs_platform::sys::signals::die_on_broken_pipe();
        }
        match command {
            cli::Command::Mount(a) => cmd::mount::run(a),
            cli::Command::Unmount(a) => cmd::unmount::run(a),
            cli::Command::Status(a) => cmd::status::status(a),
            cli::Command::List(a) => cmd::status::list(a),
            cli::Command::Gc => cmd::gc::run(),
            #[cfg(unix)]
            cli::Command::Snapshot(a) => cmd::snapshot::run(a),
            #[cfg(unix)]
            cli::Command::Snapshots(a) => cmd::snapshot::list(a),
            #[cfg(unix)]
            cli::Command::Diff(a) => cmd::diff::run(a),
            #[cfg(unix)]
            cli::Command::Commit(a) => cmd::commit::run(a),
            #[cfg(windows)]
            cli::Command::Snapshot(_) => cmd::not_on_windows("snapshot"),
            #[cfg(windows)]
            cli::Command::Snapshots(_) => cmd::not_on_windows("snapshots"),
            #[cfg(windows)]
            cli::Command::Diff(_) => cmd::not_on_windows("diff"),
            #[cfg(windows)]
            cli::Command::Commit(_) => cmd::not_on_windows("commit"),
            cli::Command::Run(a) => cmd::run::run(a),
            cli::Command::Serve(a) => cmd::serve::run(a),
        }
    };
    if let Err(e) = result {
        // Messages name paths of SRC, which anyone who can write there names: no terminal
        // controls get through.
        eprintln!("agentfs: error: {}", quote::message(&e.to_string()));
        std::process::exit(e.exit_code());
    }
}
