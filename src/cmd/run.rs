//! `agentfs run SRC [--at PATH] -- CMD ARGS...`.

use super::mount::agentfs_exe;
use crate::cli::RunArgs;
use agentfs_mount_helper::Result;
use agentfs_mount_helper::run::{RunRequest, run as run_command};

pub fn run(a: RunArgs) -> Result<()> {
    let req = RunRequest {
        src: a.src,
        at: a.at,
        pin: a.pin,
        budget_bytes: a.size,
        passthrough: a.passthrough,
        io_uring: a.io_uring,
        cmd: a.cmd,
        quiet: a.quiet,
    };
    let code = run_command(&req, &agentfs_exe()?)?;
    std::process::exit(code);
}
