//! `agentfs run`: a command in a throwaway frozen view; its exit code, its working directory,
//! signals passed on, and nothing left afterwards, also when `run` itself is killed.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

per_mode!(
    at_a_path_the_command_sees_the_view_and_its_exit_code_is_kept,
    without_at_src_itself_is_frozen_for_the_command_and_nobody_else,
    signals_reach_the_command_and_its_death_by_signal_is_the_exit_code,
    when_run_is_killed_the_daemon_unmounts_and_leaves_nothing,
);

fn tree(src: &Path) {
    sh(src, "mkdir -p sub && printf 'original\\n' > file && printf 'deep\\n' > sub/deep");
}

/// Mount records, and control sockets (a mount serves once its socket is there).
fn records(f: &Fixture) -> usize {
    count(f, "rec")
}

fn count(f: &Fixture, ext: &str) -> usize {
    let entries = fs::read_dir(f.runtime.join("mounts")).map(|r| r.flatten().collect::<Vec<_>>()).unwrap_or_default();
    entries.iter().filter(|e| e.path().extension().is_some_and(|x| x == ext)).count()
}

/// `agentfs run` in the fixture's I/O mode (if it has one), then `args`.
fn run(f: &Fixture, cwd: &Path, args: &[&str]) -> std::process::Output {
    let mode: &[&str] = f.mode.map_or(&[], Mode::mount_args);
    agentfs_cmd(&f.runtime).arg("run").args(mode).args(args).current_dir(cwd).output().unwrap()
}

fn at_a_path_the_command_sees_the_view_and_its_exit_code_is_kept(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(mode, tree);
    let at = f.dir.path().join("view");
    let src = f.src.to_str().unwrap();
    let out = run(
        &f,
        f.dir.path(),
        &[
            src,
            "--at",
            at.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            "pwd; cat file; echo changed > file; echo new > new; exit 3",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{}\noriginal\n", at.display()));
    assert_eq!(fs::read_to_string(f.src.join("file")).unwrap(), "original\n");
    assert!(!f.src.join("new").exists());
    assert!(!at.exists(), "the mount point run made is gone");
    assert_eq!(records(&f), 0);
    // Started inside SRC, the command starts at the same place in the view.
    let out = run(&f, &f.src.join("sub"), &[src, "--at", at.to_str().unwrap(), "--", "sh", "-c", "pwd; cat deep"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{}\ndeep\n", at.join("sub").display()));
}

fn without_at_src_itself_is_frozen_for_the_command_and_nobody_else(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(mode, tree);
    let src = f.src.to_str().unwrap();
    let script = format!(
        "cat {src}/file; echo changed > {src}/file; cat {src}/file; cat file; grep -c agentfs /proc/self/mountinfo"
    );
    let out = run(&f, &f.src, &[src, "--", "sh", "-c", &script]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect();
    assert_eq!(lines[..3], ["original", "changed", "changed"], "SRC's own path shows the view");
    assert!(lines[3].parse::<u32>().unwrap() >= 1, "the command's namespace has the mount");
    assert_eq!(fs::read_to_string(f.src.join("file")).unwrap(), "original\n");
    let host = String::from_utf8_lossy(&fs::read("/proc/self/mountinfo").unwrap()).into_owned();
    assert!(!host.lines().any(|l| l.contains(src) && l.contains("agentfs")), "the mount never shows outside");
    assert_eq!(records(&f), 0);
}

fn signals_reach_the_command_and_its_death_by_signal_is_the_exit_code(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(mode, tree);
    let at = f.dir.path().join("view");
    let mut child = agentfs_cmd(&f.runtime)
        .arg("run")
        .args(mode.mount_args())
        .args([f.src.to_str().unwrap(), "--at", at.to_str().unwrap(), "--", "sh", "-c"])
        .arg("trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut first).unwrap();
    assert_eq!(first, "ready\n");
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42), "{status:?}");
    assert_eq!(records(&f), 0);
    // A command killed by a signal: 128 + its number.
    let out = run(
        &f,
        f.dir.path(),
        &[f.src.to_str().unwrap(), "--at", at.to_str().unwrap(), "--", "sh", "-c", "kill -KILL $$"],
    );
    assert_eq!(out.status.code(), Some(128 + 9));
    assert!(out.status.signal().is_none());
}

fn when_run_is_killed_the_daemon_unmounts_and_leaves_nothing(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(mode, tree);
    let at = f.dir.path().join("view");
    let mut child = agentfs_cmd(&f.runtime)
        .arg("run")
        .args(mode.mount_args())
        .args([f.src.to_str().unwrap(), "--at", at.to_str().unwrap(), "--", "sleep", "30"])
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(20), || count(&f, "sock") == 1), "mounted");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(wait_until(Duration::from_secs(20), || records(&f) == 0), "the daemon cleaned up after run died");
    let table = String::from_utf8_lossy(&fs::read("/proc/self/mountinfo").unwrap()).into_owned();
    assert!(!table.contains(at.to_str().unwrap()), "unmounted");
}

#[test]
fn bad_input_is_one_clear_sentence() {
    if !fuse_available() {
        return;
    }
    let f = Fixture::new(tree);
    let out = run(&f, f.dir.path(), &["/does/not/exist", "--", "true"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/does/not/exist") && err.lines().count() == 1, "{err}");
    let out = run(
        &f,
        f.dir.path(),
        &[f.src.to_str().unwrap(), "--at", f.dir.path().join("v").to_str().unwrap(), "--", "/no/such/program"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(records(&f), 0);
}

/// `run` on a btrfs subvolume (snapshot pin) and on XFS (reflink pin): the command writes
/// through its view, SRC keeps nothing, and the pin goes with the run.
fn on_a_real_pin(kind: &str, pin: &str) {
    if !fuse_available() {
        return;
    }
    let Some(lfs) = common::loopfs::LoopFs::new(kind, 512) else { return };
    let parent = lfs.root.join("home");
    fs::create_dir(&parent).unwrap();
    if kind == "btrfs" {
        lfs.subvolume(&parent.join("vol"));
    }
    let f = Fixture::with_src(&parent.join("vol/src"), tree);
    let src = f.src.to_str().unwrap();
    let script = format!("echo changed > {src}/file && cat {src}/file && rm {src}/sub/deep && ls {src}/sub | wc -l");
    let out = run(&f, &f.src, &[src, "--pin", pin, "--", "sh", "-c", &script]);
    assert!(out.status.success(), "{kind}: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "changed\n0\n");
    assert_eq!(fs::read_to_string(f.src.join("file")).unwrap(), "original\n");
    assert!(f.src.join("sub/deep").exists());
    assert_eq!(records(&f), 0);
    let pins = lfs.root.join(".agentfs-pins");
    assert!(!pins.exists() || fs::read_dir(&pins).unwrap().count() == 0, "{kind}: the pin is gone");
}

#[test]
fn run_on_btrfs_with_a_snapshot_pin() {
    on_a_real_pin("btrfs", "snapshot");
}

#[test]
fn run_on_xfs_with_a_reflink_pin() {
    on_a_real_pin("xfs", "reflink");
}
