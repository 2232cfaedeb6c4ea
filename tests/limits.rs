//! No input and no size breaks it: names with any bytes (in SRC, in the mount, in the mount
//! point's own path), trees 5,000 levels deep, a log that stays small whatever the workload.
//! (Memory bounds are in memory.rs.)
#![cfg(unix)]

mod common;

use common::*;
use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

per_mode!(
    names_with_any_bytes_go_through_every_command,
    a_tree_5000_levels_deep_is_walked_diffed_and_kept,
    a_hundred_thousand_opens_leave_the_log_small,
    three_hundred_thousand_changes_are_diffed_snapshotted_and_committed,
);

/// Names made of every byte but NUL and '/', one byte each after a prefix, plus a newline,
/// invalid UTF-8, quotes and a 255-byte name.
fn odd_names() -> Vec<OsString> {
    let mut names: Vec<OsString> =
        (1u8..=255).filter(|b| *b != b'/').map(|b| OsString::from_vec(vec![b'n', b])).collect();
    names.push(OsString::from_vec(b"line\nbreak".to_vec()));
    names.push(OsString::from_vec(b"bad\xff\xfeutf8".to_vec()));
    names.push(OsString::from("quote\"back\\slash"));
    names.push(OsString::from_vec(vec![b'L'; 255]));
    names
}

/// The exact path of a JSON object's `key`: `key_bytes` if present, else the string.
fn json_path(v: &serde_json::Value, key: &str) -> OsString {
    match v.get(format!("{key}_bytes")) {
        Some(b) => OsString::from_vec(b.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u8).collect()),
        None => OsString::from(v[key].as_str().unwrap()),
    }
}

fn names_with_any_bytes_go_through_every_command(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let names = odd_names();
    let f = Fixture::in_mode(mode, |src| {
        for n in &names {
            fs::write(src.join(n), n.as_bytes()).unwrap();
        }
    });
    // A mount point whose own path is not UTF-8, with a newline in it.
    let mnt = f.dir.path().join(OsStr::from_bytes(b"mnt\xff\nodd"));
    fs::create_dir(&mnt).unwrap();
    let mut args: Vec<&OsStr> = vec![os("mount")];
    args.extend(mode.mount_args().iter().map(os));
    args.extend([f.src.as_os_str(), mnt.as_os_str()]);
    let out = f.run(&args);
    assert!(out.status.success(), "mount: {}", String::from_utf8_lossy(&out.stderr));
    // The mount shows every name, and changes to every name.
    let listed: BTreeSet<OsString> = fs::read_dir(&mnt).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(listed, names.iter().cloned().collect());
    for n in &names {
        assert_eq!(fs::read(mnt.join(n)).unwrap(), n.as_bytes());
        let mut new = n.clone();
        new.push("+new");
        if new.len() <= 255 {
            fs::write(mnt.join(&new), b"x").unwrap();
        }
    }
    // list and status find it by its path.
    let out = f.run(&[os("list"), os("--json")]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(list.as_array().unwrap().iter().any(|m| json_path(m, "mountpoint") == mnt.as_os_str()), "{list}");
    let out = f.run(&[os("status"), os("--json"), mnt.as_os_str()]);
    assert!(out.status.success(), "status: {}", String::from_utf8_lossy(&out.stderr));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json_path(&status, "mountpoint"), mnt.as_os_str());
    // diff --json gives back the exact names; text output has one line per change.
    let out = f.run(&[os("diff"), os("--json"), mnt.as_os_str()]);
    assert!(out.status.success(), "diff: {}", String::from_utf8_lossy(&out.stderr));
    let diff: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let added: BTreeSet<OsString> = diff.as_array().unwrap().iter().map(|c| json_path(c, "path")).collect();
    let want: BTreeSet<OsString> = names
        .iter()
        .map(|n| {
            let mut new = n.clone();
            new.push("+new");
            new
        })
        .filter(|n| n.len() <= 255)
        .collect();
    assert_eq!(added, want);
    let out = f.run(&[os("diff"), mnt.as_os_str()]);
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), want.len(), "text diff: one line each");
    for cmd in [&[os("diff"), mnt.as_os_str()][..], &[os("list")], &[os("status"), mnt.as_os_str()]] {
        closed_stdout_ends_quietly(&f, cmd);
    }
    if mode.pinned() {
        // What commit says names every path quoted: no terminal control gets through.
        let out = f.run(&[os("commit"), os("--dry-run"), mnt.as_os_str()]);
        assert!(out.status.success(), "commit --dry-run: {}", String::from_utf8_lossy(&out.stderr));
        let said = String::from_utf8(out.stdout).expect("commit --dry-run prints UTF-8");
        assert_eq!(said.lines().count(), want.len() + 1, "{said}");
        assert!(!said.chars().any(|c| c.is_control() && c != '\n'), "{said:?}");
        // Snapshots of one filesystem share a directory: a name of this test run and mode.
        let snap = format!("odd-names-{mode}-{}", std::process::id());
        let out = f.run(&[os("snapshot"), mnt.as_os_str(), os(&snap)]);
        assert!(out.status.success(), "snapshot: {}", String::from_utf8_lossy(&out.stderr));
        let out = f.run(&[os("commit"), mnt.as_os_str()]);
        assert!(out.status.success(), "commit: {}", String::from_utf8_lossy(&out.stderr));
        for n in &want {
            assert_eq!(fs::read(f.src.join(n)).unwrap(), b"x", "{n:?} committed");
        }
        assert!(f.run(&[os("snapshot"), os("rm"), os(&snap)]).status.success());
    }
    let out = f.run(&[os("unmount"), mnt.as_os_str()]);
    assert!(out.status.success(), "unmount: {}", String::from_utf8_lossy(&out.stderr));
    let out = f.run(&[os("gc")]);
    assert!(out.status.success(), "gc: {}", String::from_utf8_lossy(&out.stderr));
}

/// Runs agentfs with `args` and closes its stdout after the first byte, as `| head -c 1` does:
/// it ends without a panic.
fn closed_stdout_ends_quietly(f: &Fixture, args: &[&OsStr]) {
    use std::io::Read;
    let mut child = agentfs_cmd(&f.runtime)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 1];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked") && out.status.code() != Some(101), "{args:?}: {err}");
}

/// Makes a chain of `depth` directories named `d` under `root` (relative steps: the whole path
/// is longer than PATH_MAX), with a file at the bottom.
fn deep_chain(root: &Path, depth: usize) {
    sh(
        root,
        &format!(
            "python3 -c \"import os\nfor _ in range({depth}):\n os.mkdir('d'); os.chdir('d')\nopen('leaf','w').write('bottom')\""
        ),
    );
}

fn a_tree_5000_levels_deep_is_walked_diffed_and_kept(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(mode, |src| {
        fs::create_dir(src.join("lower")).unwrap();
        deep_chain(&src.join("lower"), 5000);
    });
    f.mount(&[]);
    let upper = f.mnt.join("upper");
    fs::create_dir(&upper).unwrap();
    deep_chain(&upper, 5000);
    let found = sh(&f.mnt, "find . -name leaf | wc -l");
    assert_eq!(found.trim(), "2");
    // A lower file past PATH_MAX changed in data and mode: diff compares it with the pin's.
    sh(
        &f.mnt.join("lower"),
        "python3 -c \"import os\nfor _ in range(5000): os.chdir('d')\nopen('leaf','w').write('changed')\nos.chmod('leaf', 0o600)\"",
    );
    let out = f.run(&[os("diff"), os("--stat"), f.mnt.as_os_str()]);
    assert!(out.status.success(), "diff: {}", String::from_utf8_lossy(&out.stderr));
    let stat = String::from_utf8_lossy(&out.stdout);
    assert!(stat.starts_with("5002 added, 1 modified"), "{stat}");
    let out = f.run(&[os("diff"), os("--json"), f.mnt.as_os_str()]);
    let diff: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let deepest = diff.as_array().unwrap().iter().map(|c| json_path(c, "path")).max_by_key(|p| p.len()).unwrap();
    assert_eq!(PathBuf::from(deepest).components().count(), 5002);
    assert!(f.is_mounted(), "the daemon survived");
    if mode.pinned() {
        let out = f.run(&[os("commit"), f.mnt.as_os_str()]);
        assert!(out.status.success(), "commit: {}", String::from_utf8_lossy(&out.stderr));
        let leaf = sh(
            &f.src.join("upper"),
            "python3 -c \"import os\nfor _ in range(5000): os.chdir('d')\nprint(open('leaf').read())\"",
        );
        assert_eq!(leaf.trim(), "bottom", "the 5,000-level chain reached SRC");
    }
    f.unmount();
}

fn a_hundred_thousand_opens_leave_the_log_small(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(mode, |src| fs::write(src.join("file"), b"content").unwrap());
    f.mount(&[]);
    // Every open by Python asks whether the file is a terminal (an ioctl the mount answers).
    sh(&f.mnt, "python3 -c \"\nfor _ in range(100000):\n  open('file').close()\n  open('upper', 'w').close()\"");
    let logs = f.runtime.join("logs");
    let size: u64 = fs::read_dir(&logs).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
    assert!(size < 100_000, "{size} bytes of log");
    f.unmount();
}

/// 300,000 changes (small files made in the upper layer, some lower files deleted) travel over
/// the control channel in chunks: diff, snapshot and commit all see every one, and neither side
/// holds a reply the size of the list. The other modes differ only in how files are opened, not
/// in the control channel: they run the same with 30,000, to keep CI's time.
fn three_hundred_thousand_changes_are_diffed_snapshotted_and_committed(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let files: usize = if mode == Mode::Pinned { 300_000 } else { 30_000 };
    let f = Fixture::in_mode(mode, |src| {
        for i in 0..100 {
            fs::write(src.join(format!("lower-{i}")), b"old").unwrap();
        }
    });
    f.mount(&[]);
    sh(
        &f.mnt,
        &format!(
            "python3 -c \"import os\nfor d in range({files} // 1000):\n os.mkdir(f'd{{d}}')\n for i in range(1000):\n  fd = os.open(f'd{{d}}/f{{i}}', os.O_CREAT | os.O_WRONLY, 0o644); os.write(fd, b'x'); os.close(fd)\""
        ),
    );
    for i in 0..50 {
        fs::remove_file(f.mnt.join(format!("lower-{i}"))).unwrap();
    }
    let out = f.run(&[os("diff"), os("--stat"), f.mnt.as_os_str()]);
    let stat = String::from_utf8_lossy(&out.stdout);
    let added = files + files / 1000;
    assert!(stat.starts_with(&format!("{added} added, 0 modified, 50 deleted")), "{stat}");
    let out = f.run(&[os("diff"), os("--json"), f.mnt.as_os_str()]);
    let diff: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(diff.as_array().unwrap().len(), added + 50);
    if mode.pinned() {
        // Snapshots of root's trees on / all go to /.agentfs-snapshots: a name of this run and
        // mode only (the modes run at the same time in one process).
        let name = format!("many-{}-{mode}", std::process::id());
        let out = f.run(&[os("snapshot"), f.mnt.as_os_str(), os(&name)]);
        assert!(out.status.success(), "snapshot: {}", String::from_utf8_lossy(&out.stderr));
        let out = f.run(&[os("commit"), f.mnt.as_os_str()]);
        assert!(out.status.success(), "commit: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(sh(&f.src, "find . -type f | wc -l").trim(), (files + 50).to_string());
        let out = f.run(&[os("snapshot"), os("rm"), os(&name)]);
        assert!(out.status.success(), "snapshot rm: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(f.is_mounted(), "the daemon survived");
    f.unmount();
}
