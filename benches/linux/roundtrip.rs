//! The round-trip benchmark's Linux body (see benches/roundtrip.rs).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const AGENTFS: &str = env!("CARGO_BIN_EXE_agentfs");
const ENABLE_URING: &str = "/sys/module/fuse/parameters/enable_uring";

struct Opts {
    rounds: usize,
    calls: usize,
}

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)?.parse().ok());
    let quick = args.iter().any(|a| a == "--quick");
    Opts {
        rounds: value("--rounds").unwrap_or(if quick { 1 } else { 5 }),
        calls: value("--calls").unwrap_or(if quick { 2_000 } else { 20_000 }),
    }
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A mount of one transport.
struct Mount {
    mnt: PathBuf,
    runtime: PathBuf,
    pid: u32,
}

impl Mount {
    fn new(dir: &Path, transport: &str) -> Result<Mount, String> {
        let (src, mnt, runtime) = (dir.join("src"), dir.join(format!("mnt-{transport}")), dir.join("run"));
        std::fs::create_dir_all(&mnt).map_err(|e| e.to_string())?;
        let io_uring = if transport == "io_uring" { "on" } else { "off" };
        run(Command::new(AGENTFS)
            .args(["mount", "--quiet", "--pin", "copy", "--io-uring", io_uring])
            .args([&src, &mnt])
            .env("AGENTFS_RUNTIME_DIR", &runtime))?;
        let status =
            run(Command::new(AGENTFS).args(["status", "--json"]).arg(&mnt).env("AGENTFS_RUNTIME_DIR", &runtime))?;
        let pid = status
            .split("\"pid\":")
            .nth(1)
            .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("no pid in {status}"))?;
        if !status.contains(&format!("\"transport\":\"{transport}\"")) {
            return Err(format!("asked for {transport}, got {status}"));
        }
        Ok(Mount { mnt, runtime, pid })
    }

    /// Moves every thread of the daemon to `cpu` (None: back to every CPU).
    fn place_daemon(&self, cpu: Option<usize>) -> Result<(), String> {
        let list = cpu.map_or_else(|| format!("0-{}", cpus() - 1), |c| c.to_string());
        run(Command::new("taskset").args(["-a", "-p", "-c", &list, &self.pid.to_string()])).map(drop)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = run(Command::new(AGENTFS).arg("unmount").arg(&self.mnt).env("AGENTFS_RUNTIME_DIR", &self.runtime));
    }
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn pin(cpu: usize) {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    let _ = rustix::thread::sched_setaffinity(None, &set);
}

/// `calls` GETXATTRs of a missing name from a thread on `cpu`; seconds taken.
fn getxattrs(file: &Path, cpu: usize, calls: usize) -> f64 {
    let file = file.to_path_buf();
    std::thread::spawn(move || {
        pin(cpu);
        let mut buf = [0u8; 64];
        for _ in 0..calls / 10 {
            let _ = rustix::fs::getxattr(&file, "user.missing", &mut buf);
        }
        let t = Instant::now();
        for _ in 0..calls {
            let _ = rustix::fs::getxattr(&file, "user.missing", &mut buf);
        }
        t.elapsed().as_secs_f64()
    })
    .join()
    .unwrap_or(f64::NAN)
}

/// Requests per second with one caller per CPU at once.
fn parallel(file: &Path, calls: usize) -> f64 {
    let t = Instant::now();
    let threads: Vec<_> = (0..cpus())
        .map(|cpu| {
            let file = file.to_path_buf();
            std::thread::spawn(move || getxattrs(&file, cpu, calls))
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    (cpus() * calls) as f64 / t.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The placements, each measured in every round for every transport.
#[derive(Clone, Copy)]
enum Placement {
    /// Caller on CPU 0, daemon threads where they are.
    Free,
    /// Caller and daemon on CPU 0.
    Same,
    /// Caller on CPU 1, daemon on CPU 0.
    Cross,
    /// One caller per CPU at once: requests per second.
    Parallel,
}

impl Placement {
    fn name(self) -> &'static str {
        match self {
            Placement::Free => "free µs",
            Placement::Same => "same CPU µs",
            Placement::Cross => "cross CPU µs",
            Placement::Parallel => "parallel req/s",
        }
    }

    fn all() -> Vec<Placement> {
        let mut v = vec![Placement::Free, Placement::Parallel, Placement::Same];
        if cpus() > 1 {
            v.push(Placement::Cross);
        }
        v
    }
}

/// One measurement of `m` in placement `p`.
fn measure(m: &Mount, p: Placement, calls: usize) -> Result<f64, String> {
    let file = m.mnt.join("file");
    let us = |cpu: usize| getxattrs(&file, cpu, calls) * 1e6 / calls as f64;
    Ok(match p {
        Placement::Free => us(0),
        Placement::Parallel => parallel(&file, calls),
        Placement::Same | Placement::Cross => {
            m.place_daemon(Some(0))?;
            let v = us(if matches!(p, Placement::Same) { 0 } else { 1 });
            m.place_daemon(None)?;
            v
        }
    })
}

/// Turns the module parameter on; the returned value puts the old one back.
fn enable_uring() -> Option<String> {
    let old = std::fs::read_to_string(ENABLE_URING).ok()?.trim().to_string();
    std::fs::write(ENABLE_URING, "1").ok()?;
    Some(old)
}

/// Every round measures every placement of every transport in turn, so drift on the machine
/// spreads over all of them; each cell is the median over the rounds.
fn rounds(mounts: &[(&'static str, Mount)], o: &Opts) -> Vec<(&'static str, Vec<(&'static str, f64)>)> {
    let placements = Placement::all();
    let mut samples = vec![vec![Vec::new(); placements.len()]; mounts.len()];
    for _ in 0..o.rounds {
        for (pi, p) in placements.iter().enumerate() {
            for (mi, (name, m)) in mounts.iter().enumerate() {
                match measure(m, *p, o.calls) {
                    Ok(v) => samples[mi][pi].push(v),
                    Err(e) => eprintln!("roundtrip: {name}: {e}"),
                }
            }
        }
    }
    mounts
        .iter()
        .zip(samples)
        .map(|((name, _), s)| {
            let cells = placements.iter().zip(s).filter(|(_, v)| !v.is_empty()).map(|(p, v)| (p.name(), median(v)));
            (*name, cells.collect())
        })
        .collect()
}

pub fn main() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("roundtrip: run as root (sudo cargo bench --bench roundtrip)");
        return;
    }
    let o = opts();
    let old = enable_uring();
    let dir = tempfile::Builder::new().prefix("agentfs-roundtrip").tempdir().expect("temporary directory");
    std::fs::create_dir(dir.path().join("src")).expect("src");
    std::fs::write(dir.path().join("src/file"), b"x").expect("file");
    let mut mounts = Vec::new();
    for transport in ["classic", "io_uring"] {
        match Mount::new(dir.path(), transport) {
            Ok(m) => mounts.push((transport, m)),
            Err(e) => eprintln!("roundtrip: {transport}: {e}"),
        }
    }
    let rows = rounds(&mounts, &o);
    drop(mounts);
    if let Some(old) = old {
        let _ = std::fs::write(ENABLE_URING, if old == "Y" { "1" } else { "0" });
    }
    report(&rows, &o);
}

fn report(rows: &[(&str, Vec<(&'static str, f64)>)], o: &Opts) {
    let Some((_, first)) = rows.first() else { return };
    let cols: Vec<&str> = first.iter().map(|(k, _)| *k).collect();
    let mut md =
        format!("GETXATTR round trips ({} calls, median of {} rounds, {} CPUs)\n\n", o.calls, o.rounds, cpus());
    md += &format!("| transport | {} |\n|---|{}\n", cols.join(" | "), "---:|".repeat(cols.len()));
    let mut json = Vec::new();
    for (t, r) in rows {
        let cells: Vec<String> =
            r.iter().map(|(k, v)| if k.ends_with("req/s") { format!("{v:.0}") } else { format!("{v:.2}") }).collect();
        md += &format!("| {t} | {} |\n", cells.join(" | "));
        let fields: Vec<String> = r.iter().map(|(k, v)| format!("\"{k}\": {v:.3}")).collect();
        json.push(format!("{{\"transport\": \"{t}\", {}}}", fields.join(", ")));
    }
    print!("{md}");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(out.join("roundtrip.md"), &md);
    let _ = std::fs::write(out.join("roundtrip.json"), format!("[{}]\n", json.join(",\n ")));
}
