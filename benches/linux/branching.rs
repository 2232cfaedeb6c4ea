//! The branching benchmark (see `benches/branching.rs`).

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
const CHANGED: usize = 100;

struct Env<'a> {
    runtime: &'a Path,
    state: &'a Path,
}

impl Env<'_> {
    fn agentfs(&self, args: &[&str]) -> Duration {
        timed::agentfs(&[("AGENTFS_RUNTIME_DIR", self.runtime), ("AGENTFS_STATE_DIR", self.state)], args)
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// Appends a line to the first `CHANGED` files under `root`, through the mount.
fn change(root: &Path) {
    let mut n = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d).unwrap().flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
            } else if n < CHANGED {
                let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
                std::io::Write::write_all(&mut f, b"// changed\n").unwrap();
                n += 1;
            }
        }
    }
}

struct Row {
    fs: &'static str,
    pin: &'static str,
    diff: Duration,
    snapshot: Duration,
    branch_mount: Duration,
    branch_unmount: Duration,
    commit: Duration,
}

fn measure(fs: &'static str, pin: &'static str, src: &Path, env: &Env<'_>) -> Row {
    let mnt = tempfile::tempdir().unwrap();
    let branch = tempfile::tempdir().unwrap();
    let (m, b, s) = (mnt.path().to_str().unwrap(), branch.path().to_str().unwrap(), src.to_str().unwrap());
    let mut r: [Vec<Duration>; 5] = Default::default();
    for run in 0..RUNS {
        env.agentfs(&["mount", "--quiet", "--pin", pin, s, m]);
        change(mnt.path());
        r[0].push(env.agentfs(&["diff", "--stat", m]));
        let name = format!("bench-{fs}-{run}");
        r[1].push(env.agentfs(&["snapshot", m, &name]));
        r[2].push(env.agentfs(&["mount", "--quiet", &format!("@{name}"), b]));
        r[3].push(env.agentfs(&["unmount", b]));
        env.agentfs(&["snapshot", "rm", &name]);
        r[4].push(env.agentfs(&["commit", m]));
        env.agentfs(&["unmount", m]);
    }
    let [diff, snapshot, branch_mount, branch_unmount, commit] = r.map(median);
    Row { fs, pin, diff, snapshot, branch_mount, branch_unmount, commit }
}

pub fn main() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("the branching benchmark needs root (loop images, mounts)");
        std::process::exit(1);
    }
    // --only btrfs,xfs: measure those filesystems only.
    let args: Vec<String> = std::env::args().collect();
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').map(String::from).collect());
    let only: Option<Vec<&str>> = only.as_ref().map(|o| o.iter().map(String::as_str).collect());
    let runtime = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let env = Env { runtime: runtime.path(), state: state.path() };
    let files = 50_000;
    let b = LoopFs::new("btrfs", 4096).expect("btrfs");
    b.subvolume(&b.root.join("vol"));
    let x = LoopFs::new("xfs", 4096).expect("xfs");
    // ext4 holds the tree, a copy pin and a copied snapshot.
    let e = LoopFs::new("ext4", 8192).expect("ext4");
    for root in [&b.root.join("vol/tree"), &x.root.join("tree"), &e.root.join("tree")] {
        tree::generate(root, files, 42);
    }
    let _ = Command::new("sync").status();
    eprintln!("tree: {files} files; {CHANGED} of them changed through the mount");
    println!("| filesystem | pin | diff | snapshot | branch mount | branch unmount | commit |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (fs, pin, src) in [
        ("btrfs", "snapshot", b.root.join("vol/tree")),
        ("xfs", "reflink", x.root.join("tree")),
        ("ext4", "copy", e.root.join("tree")),
    ] {
        if only.as_ref().is_some_and(|o| !o.contains(&fs)) {
            continue;
        }
        let r = measure(fs, pin, &src, &env);
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.fs,
            r.pin,
            ms(r.diff),
            ms(r.snapshot),
            ms(r.branch_mount),
            ms(r.branch_unmount),
            ms(r.commit)
        );
    }
}
