//! The workload benchmark (see `benches/workload.rs`).

#[path = "../../tests/common/loopfs.rs"]
#[allow(dead_code)]
mod loopfs;
#[path = "../common/peers.rs"]
mod peers;
#[path = "../common/report.rs"]
mod report;
#[path = "../common/tree.rs"]
mod tree;

use loopfs::LoopFs;
use peers::Impl;
use report::Samples;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const AGENTFS: &str = env!("CARGO_BIN_EXE_agentfs");

struct Sizes {
    files: usize,
    big_mib: u64,
    untar_files: usize,
}

fn sh(script: &str) -> Result<Duration, String> {
    let t = Instant::now();
    let out = Command::new("bash").args(["-c", script]).output().map_err(|e| e.to_string())?;
    let took = t.elapsed();
    if !out.status.success() {
        return Err(format!("`{script}` failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(took)
}

fn drop_caches() {
    let _ = sh("sync; echo 3 > /proc/sys/vm/drop_caches");
}

/// Counts every entry with lstat, as `ls -lR` or a build tool's up-to-date check does.
fn stat_all(dir: &Path) -> Result<u64, String> {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))? {
            let e = e.map_err(|e| e.to_string())?;
            let md = std::fs::symlink_metadata(e.path()).map_err(|e| e.to_string())?;
            n += 1;
            if md.is_dir() {
                stack.push(e.path());
            }
        }
    }
    Ok(n)
}

/// One pass of every workload over `imp`; the times in [`report::WORKLOADS`] order.
fn run_one(
    imp: &Impl,
    lower: &Path,
    work: &Path,
    tarball: &Path,
    sizes: &Sizes,
) -> Result<Vec<(&'static str, f64)>, String> {
    let mnt = work.join(format!("mnt-{}", imp.name));
    let scratch = work.join(format!("upper-{}", imp.name));
    std::fs::create_dir_all(&mnt).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let m = mnt.display().to_string();
    let mut r = Vec::new();
    let mut step = |name: &'static str, d: Duration| r.push((name, d.as_secs_f64()));
    let result = (|| -> Result<(), String> {
        drop_caches();
        step("mount", sh(&imp.mount_cmd(lower, &mnt, &scratch))?);
        drop_caches();
        step("find cold", sh(&format!("find {m}/tree > /dev/null"))?);
        step("find warm", sh(&format!("find {m}/tree > /dev/null"))?);
        let t = Instant::now();
        let n = stat_all(&mnt.join("tree"))?;
        step("stat all", t.elapsed());
        if n < sizes.files as u64 {
            return Err(format!("saw only {n} entries"));
        }
        step("git status", sh(&format!("git -C {m}/tree status --porcelain > /dev/null"))?);
        // grep finds nothing: every byte of every file is read.
        step("grep -r", sh(&format!("grep -r -q zq_not_anywhere_qz {m}/tree; [ $? -eq 1 ]"))?);
        drop_caches();
        step("read big", sh(&format!("cat {m}/big > /dev/null"))?);
        step("append 1 byte to big", sh(&format!("echo x >> {m}/big"))?);
        step("write new big", sh(&format!("dd if=/dev/zero of={m}/new bs=1M count={} status=none", sizes.big_mib))?);
        step("untar", sh(&format!("mkdir {m}/untar && tar xf {} -C {m}/untar", tarball.display()))?);
        step("rm -rf tree", sh(&format!("rm -rf {m}/tree"))?);
        step("unmount", sh(&imp.unmount_cmd(lower, &mnt, &scratch))?);
        Ok(())
    })();
    if result.is_err() {
        let _ = sh(&imp.cleanup_cmd(lower, &mnt, &scratch));
    }
    result?;
    let total = r.iter().filter(|(k, _)| !["mount", "unmount"].contains(k)).map(|(_, v)| v).sum();
    r.push(("total", total));
    Ok(r)
}

/// Generates the lower tree, its git repository and the big file under `lower`, and the tarball
/// of the untar workload in `work`; returns the tarball.
fn generate(lower: &Path, work: &Path, sizes: &Sizes) -> Result<PathBuf, String> {
    let t = Instant::now();
    let bytes = tree::generate(&lower.join("tree"), sizes.files, 7);
    sh(&format!(
        "cd {} && git init -q && git add -A && git -c user.name=b -c user.email=b@b commit -qm tree",
        lower.join("tree").display()
    ))?;
    sh(&format!("head -c {}M /dev/urandom > {}", sizes.big_mib, lower.join("big").display()))?;
    std::fs::create_dir_all(work).map_err(|e| e.to_string())?;
    let staging = work.join("staging");
    tree::generate(&staging.join("pkg"), sizes.untar_files, 11);
    let tarball = work.join("pkg.tar");
    sh(&format!("tar cf {} -C {} pkg && rm -rf {}", tarball.display(), staging.display(), staging.display()))?;
    sh("sync")?;
    eprintln!(
        "lower tree: {} files, {} MiB, a git repository over it, a {} MiB file; untar of {} files (made in {:.0} s)",
        sizes.files,
        bytes >> 20,
        sizes.big_mib,
        sizes.untar_files,
        t.elapsed().as_secs_f64()
    );
    Ok(tarball)
}

fn arg_value<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

pub fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only: Option<Vec<&str>> = arg_value(&args, "--only").map(|s| s.split(',').collect());
    let rounds: usize = arg_value(&args, "--rounds").and_then(|r| r.parse().ok()).unwrap_or(if quick { 1 } else { 3 });
    if !rustix::process::geteuid().is_root() {
        eprintln!("the workload benchmark needs root (loop images, mounts, dropping caches); run scripts/bench");
        std::process::exit(1);
    }
    let sizes = if quick {
        Sizes { files: 2_000, big_mib: 64, untar_files: 500 }
    } else {
        Sizes { files: 50_000, big_mib: 1024, untar_files: 10_000 }
    };
    let find = |env: &str, default: &str| -> Option<PathBuf> {
        let p = std::env::var(env).map(PathBuf::from).unwrap_or_else(|_| PathBuf::from(default));
        p.exists().then_some(p)
    };
    let fo2 = find(
        "FUSE_OVERLAYFS_2",
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/peers/fuse-overlayfs-2/bin/fuse-overlayfs"),
    );
    let fo1 = find("FUSE_OVERLAYFS_1", "/usr/bin/fuse-overlayfs");
    let imps: Vec<Impl> = peers::available(Path::new(AGENTFS), fo2, fo1)
        .into_iter()
        .filter(|i| only.as_ref().is_none_or(|o| o.contains(&i.name)))
        .collect();

    let Some(fs) = LoopFs::new("btrfs", if quick { 1024 } else { 8192 }) else {
        std::process::exit(1);
    };
    let lower = fs.root.join("lower");
    fs.subvolume(&lower);
    let work = fs.root.join("work");
    let tarball = match generate(&lower, &work, &sizes) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot generate the lower tree: {e}");
            std::process::exit(1);
        }
    };

    let mut samples = Samples::default();
    let mut failed = false;
    for round in 1..=rounds {
        for imp in &imps {
            eprintln!("round {round}/{rounds}: {} ...", imp.name);
            match run_one(imp, &lower, &work, &tarball, &sizes) {
                Ok(r) => samples.add(imp.name, &r),
                Err(e) => {
                    eprintln!("{}: {e}", imp.name);
                    failed = true;
                }
            }
        }
    }
    print!("{}", samples.table());
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench"));
    match samples.save(&dir, rounds, &sizes_note(&sizes)) {
        Ok(()) => eprintln!("saved {}/workload.{{json,csv,md}}", dir.display()),
        Err(e) => eprintln!("cannot save the results in {}: {e}", dir.display()),
    }
    if failed {
        std::process::exit(1);
    }
}

fn sizes_note(s: &Sizes) -> String {
    format!("{} files in the lower tree, a {} MiB big file, untar of {} files", s.files, s.big_mib, s.untar_files)
}
