//! One module per command.

#[cfg(unix)]
pub mod commit;
#[cfg(unix)]
pub mod diff;
pub mod fstab;
pub mod gc;
pub mod mount;
pub mod run;
pub mod serve;
#[cfg(unix)]
pub mod snapshot;
pub mod status;
pub mod unmount;

/// The commands that write trees through POSIX directory descriptors (diff reads through the
/// same machinery) do not exist on Windows: one sentence says so.
#[cfg(windows)]
pub fn not_on_windows(command: &str) -> agentfs_mount_helper::Result<()> {
    Err(agentfs_mount_helper::Error::Usage(format!(
        "agentfs {command} is not available on Windows yet (diff, snapshots, branches and commit need the POSIX \
         file APIs agentfs uses on Linux and macOS); mount, unmount, run --at, status, list and gc are"
    )))
}

/// Bytes for people: 1.5 KiB, 3.0 GiB.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{b} B") } else { format!("{v:.1} {}", UNITS[u]) }
}
