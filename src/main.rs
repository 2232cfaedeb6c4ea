//! The `agentfs` command.

fn main() {
    println!(
        "agentfs {}: the mount commands arrive with the FUSE frontend",
        env!("CARGO_PKG_VERSION")
    );
}
