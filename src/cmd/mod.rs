//! One module per command.

pub mod commit;
pub mod diff;
pub mod fstab;
pub mod gc;
pub mod mount;
pub mod run;
pub mod serve;
pub mod snapshot;
pub mod status;
pub mod unmount;

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
