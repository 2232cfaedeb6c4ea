//! The pins benchmark (see `benches/pins.rs`).

#[path = "../../tests/common/loopfs.rs"]
#[allow(dead_code)]
mod loopfs;
#[path = "../common/timed.rs"]
mod timed;
#[path = "../common/tree.rs"]
mod tree;

use loopfs::LoopFs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use timed::median;

const RUNS: usize = 3;

fn agentfs(runtime: &Path, args: &[&str]) -> Duration {
    timed::agentfs(&[("AGENTFS_RUNTIME_DIR", runtime)], args)
}

struct Row {
    fs: &'static str,
    kind: &'static str,
    files: usize,
    mount: Duration,
    unmount: Duration,
}

fn measure(fs: &'static str, kind: &'static str, src: &Path, files: usize, runtime: &Path) -> Row {
    let mnt = tempfile::tempdir().unwrap();
    let m = mnt.path().to_str().unwrap();
    let s = src.to_str().unwrap();
    let (mut mounts, mut unmounts) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        // Start each run with cold-ish metadata caches, as a first mount of the day would.
        let _ = Command::new("sh").arg("-c").arg("sync; echo 2 > /proc/sys/vm/drop_caches").status();
        mounts.push(agentfs(runtime, &["mount", "--quiet", "--pin", kind, s, m]));
        unmounts.push(agentfs(runtime, &["unmount", m]));
    }
    Row { fs, kind, files, mount: median(mounts), unmount: median(unmounts) }
}

pub fn main() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("the pin benchmark needs root (loop images, mounts)");
        std::process::exit(1);
    }
    let runtime = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    for files in [5_000usize, 50_000] {
        let b = LoopFs::new("btrfs", 4096).expect("btrfs");
        b.subvolume(&b.root.join("vol"));
        let x = LoopFs::new("xfs", 4096).expect("xfs");
        let e = LoopFs::new("ext4", 4096).expect("ext4");
        let mut bytes = 0;
        for root in [&b.root.join("vol/tree"), &x.root.join("tree"), &e.root.join("tree")] {
            bytes = tree::generate(root, files, 42);
        }
        let _ = Command::new("sync").status();
        eprintln!("tree: {files} files, {} MiB", bytes >> 20);
        rows.push(measure("btrfs", "snapshot", &b.root.join("vol/tree"), files, runtime.path()));
        rows.push(measure("btrfs", "reflink", &b.root.join("vol/tree"), files, runtime.path()));
        rows.push(measure("xfs", "reflink", &x.root.join("tree"), files, runtime.path()));
        rows.push(measure("ext4", "copy", &e.root.join("tree"), files, runtime.path()));
        rows.push(measure("ext4", "live", &e.root.join("tree"), files, runtime.path()));
    }
    println!("{:<6} {:<9} {:>7} {:>11} {:>13} {:>11}", "fs", "pin", "files", "mount ms", "unmount ms", "files/s");
    let mut json = Vec::new();
    for r in &rows {
        let rate = r.files as f64 / r.mount.as_secs_f64();
        println!(
            "{:<6} {:<9} {:>7} {:>11.1} {:>13.1} {:>11.0}",
            r.fs,
            r.kind,
            r.files,
            r.mount.as_secs_f64() * 1e3,
            r.unmount.as_secs_f64() * 1e3,
            rate
        );
        json.push(format!(
            "{{\"fs\":\"{}\",\"pin\":\"{}\",\"files\":{},\"mount_ms\":{:.1},\"unmount_ms\":{:.1}}}",
            r.fs,
            r.kind,
            r.files,
            r.mount.as_secs_f64() * 1e3,
            r.unmount.as_secs_f64() * 1e3
        ));
    }
    let _ = std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-pins.json"),
        format!("[{}]\n", json.join(",")),
    );
}
