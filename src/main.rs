//! The `agentfs` command.

mod cli;
mod cmd;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Mount(a) => cmd::mount::run(a),
        cli::Command::Unmount(a) => cmd::unmount::run(a),
        cli::Command::Serve(a) => cmd::serve::run(a),
    };
    if let Err(e) = result {
        eprintln!("agentfs: error: {e}");
        std::process::exit(e.exit_code());
    }
}
