//! The scale benchmark (see `benches/scale.rs`).

#[path = "../../tests/common/loopfs.rs"]
#[allow(dead_code)]
mod loopfs;
#[path = "../common/timed.rs"]
#[allow(dead_code)]
mod timed;

use loopfs::LoopFs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Wide,
    Deep,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Wide => "wide",
            Shape::Deep => "deep",
        }
    }

    /// The directory of file number `i`.
    fn dir_of(self, i: usize) -> PathBuf {
        match self {
            Shape::Wide => PathBuf::from(format!("d{}", i / 1000)),
            Shape::Deep => {
                let chain = i / 50;
                let mut p = PathBuf::from(format!("c{}", chain / 12));
                for level in 0..chain % 12 {
                    p.push(format!("l{level}"));
                }
                p
            }
        }
    }
}

/// Writes `files` small files (0-200 bytes) in `shape` under `root`.
fn generate(root: &Path, files: usize, shape: Shape) {
    let content = [b'x'; 200];
    let mut made_dir = PathBuf::new();
    for i in 0..files {
        let dir = root.join(shape.dir_of(i));
        if dir != made_dir {
            std::fs::create_dir_all(&dir).unwrap();
            made_dir = dir.clone();
        }
        std::fs::write(dir.join(format!("f{i}")), &content[..i % 200]).unwrap();
    }
}

/// Every file under `root` (iteratively).
fn walk(root: &Path, mut each: impl FnMut(&Path)) {
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else {
                each(&p);
            }
        }
    }
}

fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn find(root: &Path) -> Duration {
    timed(|| {
        let out = Command::new("find").arg(root).arg("-type").arg("f").output().unwrap();
        assert!(out.status.success());
    })
}

fn stat_all(root: &Path) -> Duration {
    timed(|| {
        walk(root, |p| {
            let _ = std::fs::symlink_metadata(p).unwrap().ino();
        })
    })
}

fn drop_caches() {
    let _ = Command::new("sh").args(["-c", "sync; echo 3 > /proc/sys/vm/drop_caches"]).status();
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

struct Row {
    files: usize,
    shape: Shape,
    t: [Duration; 8],
    rss: [f64; 4],
    overlay: [Duration; 2],
}

/// Mount, walk, change 1%, diff, snapshot, commit --to, commit: one row.
fn measure(fs: &LoopFs, files: usize, shape: Shape, env: &[(&str, &Path)]) -> Row {
    // SRC is a subvolume of its own, as btrfs users keep big trees: the pin, a snapshot and
    // `commit --to` are then each one subvolume snapshot.
    let src = fs.root.join(format!("vol/{}-{files}", shape.name()));
    fs.subvolume(&src);
    generate(&src, files, shape);
    drop_caches();
    let mnt = tempfile::tempdir().unwrap();
    let (s, m) = (src.to_str().unwrap(), mnt.path().to_str().unwrap());
    let mount = timed::agentfs(env, &["mount", "--quiet", "--pin", "snapshot", s, m]);
    let pid = daemon_pid(mnt.path());
    let rss0 = rss_mib(pid);
    let find_t = find(mnt.path());
    let stat_t = stat_all(mnt.path());
    let rss1 = rss_mib(pid);
    drop_caches();
    std::thread::sleep(Duration::from_secs(4));
    let rss2 = rss_mib(pid);
    let changed = change_one_percent(mnt.path(), files, shape);
    let rss3 = rss_mib(pid);
    let diff = timed::agentfs(env, &["diff", "--stat", m]);
    let name = format!("scale-{}-{files}", shape.name());
    let snapshot = timed::agentfs(env, &["snapshot", m, &name]);
    timed::agentfs(env, &["snapshot", "rm", &name]);
    let to = fs.root.join(format!("vol/export-{}-{files}", shape.name()));
    let commit_to = timed::agentfs(env, &["commit", m, "--to", to.to_str().unwrap()]);
    let commit = timed::agentfs(env, &["commit", m]);
    timed::agentfs(env, &["unmount", m]);
    let _ = Command::new("rm").arg("-rf").arg(&to).status();
    let overlay = overlay_walk(&src);
    eprintln!("{} {files}: {changed} files changed", shape.name());
    Row {
        files,
        shape,
        t: [mount, find_t, stat_t, diff, snapshot, commit_to, commit, Duration::ZERO],
        rss: [rss0, rss1, rss2, rss3],
        overlay,
    }
}

fn daemon_pid(mnt: &Path) -> u32 {
    let out = Command::new("pgrep").arg("-f").arg(format!("__serve.*{}", mnt.display())).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().next().and_then(|l| l.trim().parse().ok()).unwrap_or(0)
}

/// Appends to every hundredth file through the mount; returns how many.
fn change_one_percent(mnt: &Path, files: usize, shape: Shape) -> usize {
    let mut n = 0;
    for i in (0..files).step_by(100) {
        let p = mnt.join(shape.dir_of(i)).join(format!("f{i}"));
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        std::io::Write::write_all(&mut f, b"changed\n").unwrap();
        n += 1;
    }
    n
}

/// `find` and `stat` of the same tree through kernel overlayfs (upper on tmpfs), cold.
fn overlay_walk(src: &Path) -> [Duration; 2] {
    let t = tempfile::tempdir().unwrap();
    let (up, work, mnt) = (t.path().join("u"), t.path().join("w"), t.path().join("m"));
    let ok = Command::new("mount").args(["-t", "tmpfs", "tmpfs"]).arg(t.path()).status().is_ok_and(|s| s.success());
    for d in [&up, &work, &mnt] {
        std::fs::create_dir_all(d).unwrap();
    }
    let opts = format!("lowerdir={},upperdir={},workdir={}", src.display(), up.display(), work.display());
    let mounted = Command::new("mount").args(["-t", "overlay", "overlay", "-o", &opts]).arg(&mnt).status();
    let mut r = [Duration::ZERO; 2];
    if ok && mounted.is_ok_and(|s| s.success()) {
        drop_caches();
        r = [find(&mnt), stat_all(&mnt)];
        let _ = Command::new("umount").arg(&mnt).status();
    }
    let _ = Command::new("umount").arg(t.path()).status();
    r
}

fn print(rows: &[Row]) {
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    let per = |d: Duration, n: usize| format!("{:.1} µs", d.as_secs_f64() * 1e6 / n as f64);
    println!(
        "| files | shape | mount | find (overlayfs) | stat all (overlayfs) | RSS: start / walked / after drop_caches / 1% changed | diff | snapshot | commit --to | commit |"
    );
    println!("|---:|---|---:|---:|---:|---|---:|---:|---:|---:|");
    for r in rows {
        let changes = r.files / 100;
        println!(
            "| {} | {} | {} | {} ({}) | {}, {}/file ({}) | {:.0} / {:.0} / {:.0} / {:.0} MiB ({:.0} B/file walked) | {} ({}/change) | {} | {} | {} ({}/change) |",
            r.files,
            r.shape.name(),
            ms(r.t[0]),
            ms(r.t[1]),
            ms(r.overlay[0]),
            ms(r.t[2]),
            per(r.t[2], r.files),
            ms(r.overlay[1]),
            r.rss[0],
            r.rss[1],
            r.rss[2],
            r.rss[3],
            (r.rss[1] - r.rss[0]) * 1048576.0 / r.files as f64,
            ms(r.t[3]),
            per(r.t[3], changes),
            ms(r.t[4]),
            ms(r.t[5]),
            ms(r.t[6]),
            per(r.t[6], changes),
        );
    }
}

pub fn main() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("the scale benchmark needs root (loop images, mounts, drop_caches)");
        std::process::exit(1);
    }
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let sizes: Vec<usize> = args
        .iter()
        .position(|a| a == "--sizes")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| if quick { vec![10_000] } else { vec![10_000, 100_000, 1_000_000] });
    let largest = sizes.iter().copied().max().unwrap_or(10_000) as u64;
    // btrfs needs room for two copies of the metadata, the commit --to export and the changes.
    let fs = LoopFs::new("btrfs", (2048 + largest / 150).max(2048)).expect("btrfs");
    fs.subvolume(&fs.root.join("vol"));
    let runtime = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let env = [("AGENTFS_RUNTIME_DIR", runtime.path()), ("AGENTFS_STATE_DIR", state.path())];
    let mut rows = Vec::new();
    for &files in &sizes {
        for shape in [Shape::Wide, Shape::Deep] {
            if quick && shape == Shape::Deep {
                continue;
            }
            rows.push(measure(&fs, files, shape, &env));
        }
    }
    print(&rows);
}
