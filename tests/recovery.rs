//! Crash recovery: kill -9 of a daemon during a workload, then `agentfs gc` (or the next
//! `agentfs mount`) leaves no mount, no pin and no record, and SRC unchanged.
#![cfg(target_os = "linux")]

mod common;

use common::loopfs::LoopFs;
use common::*;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn tree(src: &Path) {
    for d in 0..20 {
        fs::create_dir_all(src.join(format!("d{d}"))).unwrap();
        for i in 0..20 {
            fs::write(src.join(format!("d{d}/f{i}")), format!("{d}-{i}").repeat(100)).unwrap();
        }
    }
}

/// Starts a shell loop writing into MNT, kills the daemon with SIGKILL mid-way, and checks what
/// `agentfs gc` leaves.
fn crash_and_collect(f: &Fixture, fs_root: Option<&Path>) {
    let before = fingerprint(&f.src);
    let pid = f.daemon_pid().unwrap();
    assert_eq!(f.list_state(), "serving");
    let pin = f.status()["pin"]["path"].as_str().unwrap().to_string();
    let mut workload = Command::new("bash")
        .arg("-c")
        .arg(format!("cd {} && for i in $(seq 1 100000); do echo $i > w$i; cat d$((i % 20))/f1 > /dev/null; mv w$i d$((i % 20))/; done", f.mnt.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    Command::new("kill").arg("-KILL").arg(pid.to_string()).status().unwrap();
    let _ = workload.kill();
    let _ = workload.wait();
    assert!(wait_until(Duration::from_secs(5), || !alive(pid)));
    assert!(f.is_mounted(), "a killed daemon leaves a dead mount behind");
    // list shows the dead mount, and says what cleans up after it.
    let out = f.run(&[os("list")]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains(&f.mnt.display().to_string())).unwrap_or_default();
    assert!(line.contains(&pid.to_string()) && line.contains("dead") && line.contains("agentfs gc"), "{text}");
    assert_eq!(f.list_state(), "dead");
    let out = f.run(&[os("gc")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "gc: {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(&f.mnt.display().to_string()) && text.contains("unmounted"), "{text}");
    f.assert_gone(None);
    if !pin.is_empty() {
        assert!(!Path::new(&pin).exists(), "pin {pin} left");
    }
    if let Some(root) = fs_root {
        assert!(!root.join(".agentfs-pins").exists());
    }
    assert_eq!(fingerprint(&f.src), before, "SRC changed");
    let again = f.run(&[os("gc")]);
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), "nothing to clean up");
}

#[test]
fn kill_9_of_a_snapshot_mount_then_gc() {
    if !fuse_available() {
        return;
    }
    let Some(b) = LoopFs::new("btrfs", 512) else { return };
    b.subvolume(&b.root.join("vol"));
    let f = Fixture::with_src(&b.root.join("vol/src"), tree);
    f.mount(&[]);
    assert_eq!(f.status()["pin"]["kind"], "snapshot");
    crash_and_collect(&f, Some(&b.root));
    assert_eq!(b.subvolumes(), vec!["vol".to_string()]);
}

#[test]
fn kill_9_of_a_reflink_mount_then_gc() {
    if !fuse_available() {
        return;
    }
    let Some(x) = LoopFs::new("xfs", 512) else { return };
    let f = Fixture::with_src(&x.root.join("src"), tree);
    f.mount(&[]);
    assert_eq!(f.status()["pin"]["kind"], "reflink");
    crash_and_collect(&f, Some(&x.root));
}

per_mode!(kill_9_then_gc);

/// kill -9 in each I/O mode (copy pin, with passthrough backing files open, live).
fn kill_9_then_gc(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(mode, |src| {
        tree(src);
        fs::write(src.join("d0/big"), vec![1u8; 2 << 20]).unwrap();
    });
    f.mount(&["--quiet"]);
    // A reader holds a large lower file open (a passthrough backing file in that mode).
    let reader = fs::File::open(f.mnt.join("d0/big")).unwrap();
    crash_and_collect(&f, None);
    drop(reader);
}

#[test]
fn the_next_mount_recovers_dead_mounts_first() {
    if !fuse_available() {
        return;
    }
    let f = Fixture::new(tree);
    f.mount(&["--pin", "copy"]);
    let pid = f.daemon_pid().unwrap();
    let pin = f.status()["pin"]["path"].as_str().unwrap().to_string();
    Command::new("kill").arg("-KILL").arg(pid.to_string()).status().unwrap();
    assert!(wait_until(Duration::from_secs(5), || !alive(pid)));
    // Another mount, sharing the runtime directory, cleans up first.
    let other = Fixture::new(tree);
    let out = agentfs(&f.runtime, &[os("mount"), other.src.as_os_str(), other.mnt.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("recovered the dead mount") && err.contains(&f.mnt.display().to_string()), "{err}");
    assert!(!f.is_mounted() && !Path::new(&pin).exists());
    agentfs(&f.runtime, &[os("unmount"), other.mnt.as_os_str()]);
}

#[test]
fn a_mount_killed_while_pinning_is_collected() {
    if !fuse_available() {
        return;
    }
    // A copy pin of many files takes long enough to be interrupted.
    let f = Fixture::new(|src| {
        for d in 0..100 {
            fs::create_dir_all(src.join(format!("d{d}"))).unwrap();
            for i in 0..200 {
                fs::write(src.join(format!("d{d}/f{i}")), b"x").unwrap();
            }
        }
    });
    let mut child = Command::new(AGENTFS)
        .args([os("mount"), os("--pin"), os("copy"), f.src.as_os_str(), f.mnt.as_os_str()])
        .env("AGENTFS_RUNTIME_DIR", &f.runtime)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pins = Path::new("/.agentfs-pins");
    assert!(wait_until(Duration::from_secs(10), || fs::read_dir(pins).map(|d| d.count() > 0).unwrap_or(false)));
    std::thread::sleep(Duration::from_millis(30));
    child.kill().unwrap();
    let _ = child.wait();
    let out = f.run(&[os("gc")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!f.is_mounted());
    let left: Vec<_> = fs::read_dir(pins).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(
        left.iter().all(|n| !n.to_string_lossy().starts_with(&agentfs_mount_helper::runtime::mount_id(&f.mnt))),
        "{left:?}"
    );
    f.assert_gone(None);
}

#[test]
fn corrupt_records_are_reported_and_set_aside() {
    if !fuse_available() {
        return;
    }
    let f = Fixture::new(tree);
    f.mount(&[]);
    let dir = f.runtime.join("mounts");
    // The mounts directory also holds the mount's control socket and base record.
    let rec = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "rec"))
        .unwrap();
    let mut bytes = fs::read(&rec).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let torn = dir.join("0000000000000000.rec");
    fs::write(&torn, &bytes[..bytes.len() / 2]).unwrap();
    let out = f.run(&[os("list")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ignoring mount record") && err.contains("checksum") || err.contains("truncated"), "{err}");
    assert!(!torn.exists() && torn.with_extension("corrupt").exists());
    assert!(String::from_utf8_lossy(&out.stdout).contains(&f.mnt.display().to_string()), "the good record is listed");
    fs::remove_file(torn.with_extension("corrupt")).unwrap();
    f.unmount();
}
