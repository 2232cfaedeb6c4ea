//! The commands: input checks, every way of ending a mount, and what is left afterwards.
#![cfg(unix)]

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

per_mode!(
    a_mount_serves_and_its_unmount_leaves_nothing_behind,
    every_way_of_unmounting_ends_the_daemon_cleanly,
    a_busy_mount_needs_lazy_and_the_daemon_waits_for_the_last_close,
    foreground_mode_serves_until_interrupted,
    read_only_mounts_refuse_writes,
    other_users_are_kept_out_unless_allow_other,
    a_user_mounts_and_unmounts_without_root,
    status_counts_the_requests_the_kernel_sent,
    list_and_status_do_not_hang_on_a_stopped_daemon,
);

fn populate(src: &std::path::Path) {
    fs::create_dir_all(src.join("dir/sub")).unwrap();
    fs::write(src.join("file"), b"lower content").unwrap();
    fs::write(src.join("dir/sub/deep"), b"deep").unwrap();
    std::os::unix::fs::symlink("file", src.join("link")).unwrap();
}

fn a_mount_serves_and_its_unmount_leaves_nothing_behind(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(mode, populate);
    let before = fingerprint(&f.src);
    f.mount(&[]);
    let pid = f.daemon_pid().expect("a registry record names the daemon");
    assert!(alive(pid));
    assert_eq!(fs::read(f.mnt.join("file")).unwrap(), b"lower content");
    fs::write(f.mnt.join("file"), b"changed").unwrap();
    fs::write(f.mnt.join("new"), b"new").unwrap();
    fs::remove_dir_all(f.mnt.join("dir")).unwrap();
    let log = f.runtime.join("logs");
    assert_eq!(fs::read_dir(&log).unwrap().count(), 1, "the daemon logs to the runtime directory");
    f.unmount();
    f.assert_gone(Some(pid));
    assert_eq!(fingerprint(&f.src), before, "SRC changed");
}

#[test]
fn bad_input_gets_one_clear_sentence_and_leaves_nothing() {
    if !fuse_available() {
        return;
    }
    let f = Fixture::new(populate);
    fs::write(f.dir.path().join("a-file"), b"").unwrap();
    fs::create_dir(f.dir.path().join("full")).unwrap();
    fs::write(f.dir.path().join("full/x"), b"").unwrap();
    let missing = f.dir.path().join("missing");
    let cases: Vec<(Vec<std::path::PathBuf>, &str)> = vec![
        (vec![missing.clone(), f.mnt.clone()], "does not exist"),
        (vec![f.dir.path().join("a-file"), f.mnt.clone()], "is not a directory"),
        (vec![f.src.clone(), missing], "does not exist"),
        (vec![f.src.clone(), f.dir.path().join("full")], "is not empty"),
        (vec![f.src.clone(), f.src.join("dir/sub")], "inside SRC"),
        (vec![f.src.join("dir"), f.src.clone()], "inside MNT"),
        (vec![f.src.clone(), f.src.clone()], "same directory"),
    ];
    for (paths, want) in cases {
        let out = f.run(&[os("mount"), paths[0].as_os_str(), paths[1].as_os_str()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{paths:?}: {err}");
        assert!(err.contains(want), "{paths:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");
        assert!(
            err.contains(&paths[0].display().to_string()) || err.contains(&paths[1].display().to_string()),
            "{err}"
        );
    }
    let out = f.run(&[os("mount"), os("--size"), os("4X"), f.src.as_os_str(), f.mnt.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!f.is_mounted());
    f.assert_gone(None);
}

fn every_way_of_unmounting_ends_the_daemon_cleanly(mode: Mode) {
    if !fuse_available() {
        return;
    }
    type Way = Box<dyn Fn(&Fixture, u32)>;
    let ways: [(&str, Way); 5] = [
        ("agentfs unmount", Box::new(|f: &Fixture, _| f.unmount())),
        ("umount", Box::new(|f: &Fixture, _| assert!(Command::new("umount").arg(&f.mnt).status().unwrap().success()))),
        (
            "fusermount3 -u",
            Box::new(|f: &Fixture, _| {
                assert!(Command::new("fusermount3").arg("-u").arg(&f.mnt).status().unwrap().success())
            }),
        ),
        (
            "SIGTERM",
            Box::new(|_: &Fixture, pid| {
                assert!(Command::new("kill").arg("-TERM").arg(pid.to_string()).status().unwrap().success())
            }),
        ),
        (
            "SIGINT",
            Box::new(|_: &Fixture, pid| {
                assert!(Command::new("kill").arg("-INT").arg(pid.to_string()).status().unwrap().success())
            }),
        ),
    ];
    for (name, how) in ways {
        let f = Fixture::in_mode(mode, populate);
        let before = fingerprint(&f.src);
        f.mount(&[]);
        let pid = f.daemon_pid().unwrap();
        fs::write(f.mnt.join("scratch"), name).unwrap();
        how(&f, pid);
        assert!(wait_until(Duration::from_secs(10), || !alive(pid)), "{name}: daemon still running");
        f.assert_gone(Some(pid));
        assert_eq!(fingerprint(&f.src), before, "{name}: SRC changed");
    }
}

fn a_busy_mount_needs_lazy_and_the_daemon_waits_for_the_last_close(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(mode, populate);
    f.mount(&[]);
    let pid = f.daemon_pid().unwrap();
    let open = fs::File::open(f.mnt.join("file")).unwrap();
    let out = f.run(&[os("unmount"), f.mnt.as_os_str()]);
    assert_eq!(out.status.code(), Some(5), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--lazy"));
    assert!(f.is_mounted());
    let out = f.run(&[os("unmount"), os("--lazy"), f.mnt.as_os_str()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!f.is_mounted());
    assert!(alive(pid), "the daemon still serves the open file");
    // list calls it detached, not dead: there is nothing for gc to do, and gc does nothing.
    assert_eq!(f.list_state(), "detached");
    let out = f.run(&[os("gc")]);
    assert!(out.status.success() && alive(pid), "gc: {}", String::from_utf8_lossy(&out.stderr));
    // A full disk under list's output is its error, said in one sentence.
    let full = Command::new(AGENTFS)
        .arg("list")
        .env("AGENTFS_RUNTIME_DIR", &f.runtime)
        .stdout(fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&full.stderr);
    assert!(full.status.code() == Some(1) && err.contains("cannot write the output"), "{err}");
    let mut s = String::new();
    std::io::Read::read_to_string(&mut &open, &mut s).unwrap();
    assert_eq!(s, "lower content");
    drop(open);
    assert!(wait_until(Duration::from_secs(10), || !alive(pid)));
    f.assert_gone(Some(pid));
}

fn foreground_mode_serves_until_interrupted(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(mode, populate);
    let child = Command::new(AGENTFS)
        .args([os("mount"), os("--foreground")])
        .args(mode.mount_args())
        .args([f.src.as_os_str(), f.mnt.as_os_str()])
        .env("AGENTFS_RUNTIME_DIR", &f.runtime)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || f.is_mounted()));
    assert_eq!(fs::read(f.mnt.join("file")).unwrap(), b"lower content");
    Command::new("kill").arg("-INT").arg(child.id().to_string()).status().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("serving"));
    f.assert_gone(None);
}

fn read_only_mounts_refuse_writes(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(mode, populate);
    f.mount(&["--read-only"]);
    assert_eq!(fs::read(f.mnt.join("file")).unwrap(), b"lower content");
    let err = fs::write(f.mnt.join("file"), b"x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS));
    f.unmount();
    f.assert_gone(None);
}

fn other_users_are_kept_out_unless_allow_other(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(mode, populate);
    fs::set_permissions(f.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let as_nobody = |path: &std::path::Path| {
        Command::new("cat")
            .arg(path)
            .uid(65534)
            .gid(65534)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    };
    f.mount(&[]);
    assert!(!as_nobody(&f.mnt.join("file")), "without --allow-other only the mounting user gets in");
    f.unmount();
    f.mount(&["--allow-other"]);
    assert!(as_nobody(&f.mnt.join("file")));
    f.unmount();
    f.assert_gone(None);
}

#[test]
fn allow_other_is_refused_to_users_without_user_allow_other() {
    if !fuse_available() {
        return;
    }
    let conf = fs::read_to_string("/etc/fuse.conf").unwrap_or_default();
    if conf.lines().any(|l| l.trim() == "user_allow_other") {
        eprintln!("skipping: /etc/fuse.conf allows allow_other to everyone");
        return;
    }
    let f = Fixture::new(populate);
    for d in [f.dir.path(), &f.src, &f.mnt] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o777)).unwrap();
    }
    let out = Command::new(AGENTFS)
        .args([os("mount"), os("--allow-other"), f.src.as_os_str(), f.mnt.as_os_str()])
        .env("AGENTFS_RUNTIME_DIR", f.dir.path().join("nobody-run"))
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("user_allow_other"), "{err}");
    assert!(!f.is_mounted());
}

#[test]
fn unmount_and_mount_refuse_what_does_not_fit() {
    if !fuse_available() {
        return;
    }
    let f = Fixture::new(populate);
    let out = f.run(&[os("unmount"), f.mnt.as_os_str()]);
    assert_eq!(out.status.code(), Some(6), "{}", String::from_utf8_lossy(&out.stderr));
    f.mount(&[]);
    let other = f.dir.path().join("src2");
    fs::create_dir(&other).unwrap();
    let out = f.run(&[os("mount"), other.as_os_str(), f.mnt.as_os_str()]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already an agentfs mount"));
    f.unmount();
    f.assert_gone(None);
}

fn a_user_mounts_and_unmounts_without_root(mode: Mode) {
    if !fuse_available() {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let dev = fs::metadata("/dev/fuse").unwrap();
    let Some(uid) = tests_user() else { return };
    if dev.mode() & 0o006 != 0o006 {
        eprintln!("skipping: /dev/fuse is not open to users (scripts/test opens it, as fuse3's udev rule does)");
        return;
    }
    let f = Fixture::in_mode(mode, populate);
    fs::set_permissions(f.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    // A user freezes their own tree.
    let chown = Command::new("chown").arg("-R").arg(format!("{uid}:{uid}")).arg(&f.src).arg(&f.mnt).status().unwrap();
    assert!(chown.success());
    let runtime = f.dir.path().join("user-run");
    fs::create_dir(&runtime).unwrap();
    std::os::unix::fs::chown(&runtime, Some(uid), Some(uid)).unwrap();
    let as_user = |args: &[&std::ffi::OsStr]| {
        Command::new(AGENTFS).args(args).env("AGENTFS_RUNTIME_DIR", &runtime).uid(uid).gid(uid).output().unwrap()
    };
    let mut args: Vec<&std::ffi::OsStr> = vec![os("mount")];
    args.extend(mode.mount_args().iter().map(os));
    args.extend([f.src.as_os_str(), f.mnt.as_os_str()]);
    let out = as_user(&args);
    if mode == Mode::Passthrough {
        // FUSE passthrough needs CAP_SYS_ADMIN: a user is told so, and nothing is mounted.
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{err}");
        assert!(err.contains("passthrough") && err.trim().lines().count() == 1, "{err}");
        assert!(!f.is_mounted());
        return;
    }
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let writer = Command::new("sh")
        .arg("-c")
        .arg(format!("echo mine > {}/new && cat {}/file", f.mnt.display(), f.mnt.display()))
        .uid(uid)
        .gid(uid)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&writer.stdout), "lower content");
    let owner = Command::new("stat").args(["-c", "%u"]).arg(f.mnt.join("new")).uid(uid).gid(uid).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&owner.stdout).trim(), uid.to_string());
    let out = as_user(&[os("unmount"), f.mnt.as_os_str()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!f.is_mounted());
    assert_eq!(fs::read_dir(runtime.join("mounts")).unwrap().count(), 0);
    assert!(!f.src.join("new").exists());
}

/// A user who finds another user's mount is told whose it is, not that there is none.
#[test]
fn another_users_mount_is_named_as_theirs() {
    if !fuse_available() {
        return;
    }
    let Some(uid) = tests_user() else { return };
    let f = Fixture::new(populate);
    fs::set_permissions(f.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    f.mount(&["--pin", "live", "--allow-other"]);
    let runtime = f.dir.path().join("user-run");
    fs::create_dir(&runtime).unwrap();
    std::os::unix::fs::chown(&runtime, Some(uid), Some(uid)).unwrap();
    let as_user = |args: &[&std::ffi::OsStr]| {
        Command::new(AGENTFS).args(args).env("AGENTFS_RUNTIME_DIR", &runtime).uid(uid).gid(uid).output().unwrap()
    };
    // Every command that needs the mount's record says whose it is, with the permission code.
    for cmd in ["status", "diff", "commit"] {
        let out = as_user(&[os(cmd), f.mnt.as_os_str()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{cmd}: {err}");
        assert!(err.contains("is an agentfs mount of root (uid 0)"), "{cmd}: {err}");
    }
    let out = as_user(&[os("unmount"), f.mnt.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("root (uid 0)") && f.is_mounted(), "{err}");
    f.unmount();
}

/// A runtime directory that another user made first (as anyone can with /tmp/agentfs-UID) is
/// refused with a sentence naming it, before anything is mounted; so is one whose records
/// directory is someone else's.
#[test]
fn a_runtime_directory_of_another_user_is_refused() {
    if !fuse_available() {
        return;
    }
    let Some(uid) = tests_user() else { return };
    let f = Fixture::new(populate);
    fs::set_permissions(f.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    for p in [&f.src, &f.mnt] {
        assert!(Command::new("chown").arg("-R").arg(format!("{uid}:{uid}")).arg(p).status().unwrap().success());
    }
    let as_user = |runtime: &std::path::Path| {
        let (s, m) = (f.src.as_os_str(), f.mnt.as_os_str());
        Command::new(AGENTFS)
            .args([os("mount"), os("--pin"), os("copy"), s, m])
            .env("AGENTFS_RUNTIME_DIR", runtime)
            .env("AGENTFS_STATE_DIR", f.dir.path().join("user-state"))
            .uid(uid)
            .gid(uid)
            .output()
            .unwrap()
    };
    // Made by root, open to all (as a squatter would leave it).
    let squatted = f.dir.path().join("squatted");
    fs::create_dir(&squatted).unwrap();
    fs::set_permissions(&squatted, fs::Permissions::from_mode(0o777)).unwrap();
    let out = as_user(&squatted);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(&format!("{} is owned by uid 0", squatted.display())), "{err}");
    assert!(!f.is_mounted(), "nothing is mounted");
    // The user's own directory, with a records directory of root's in it.
    let own = f.dir.path().join("own");
    fs::create_dir(&own).unwrap();
    std::os::unix::fs::chown(&own, Some(uid), Some(uid)).unwrap();
    fs::create_dir(own.join("logs")).unwrap();
    let out = as_user(&own);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(&format!("{} is owned by uid 0", own.join("logs").display())), "{err}");
    assert!(!f.is_mounted(), "nothing is mounted");
    // Once it is the user's, the mount works.
    fs::remove_dir(own.join("logs")).unwrap();
    let out = as_user(&own);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(f.is_mounted());
    let out = Command::new(AGENTFS)
        .args([os("unmount"), f.mnt.as_os_str()])
        .env("AGENTFS_RUNTIME_DIR", &own)
        .uid(uid)
        .gid(uid)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `status --json` shows how many requests of each kind the kernel sent, whichever transport
/// carried them: 200 stats of names never seen before are 200 lookups more.
fn status_counts_the_requests_the_kernel_sent(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(mode, |src| {
        for i in 0..200 {
            fs::write(src.join(format!("f{i}")), b"x").unwrap();
        }
    });
    f.mount(&[]);
    let count = |op: &str| f.status()["requests"]["by_operation"][op].as_u64().unwrap_or(0);
    let before = count("lookup");
    for i in 0..200 {
        fs::symlink_metadata(f.mnt.join(format!("f{i}"))).unwrap();
    }
    let after = count("lookup");
    assert!(after >= before + 200, "lookups: {before} -> {after}: {}", f.status());
    let total = f.status()["requests"]["total"].as_u64().unwrap();
    assert!(total >= after, "{}", f.status());
    f.unmount();
}

/// A daemon stopped with SIGSTOP answers nothing, and any access to its mount waits in the
/// kernel for ever: list and status ask the daemon with a timeout instead of touching the mount.
fn list_and_status_do_not_hang_on_a_stopped_daemon(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(mode, populate);
    f.mount(&[]);
    let pid = f.daemon_pid().unwrap();
    assert!(f.status()["upper"]["budget_bytes"].as_u64().unwrap() > 0);
    Command::new("kill").arg("-STOP").arg(pid.to_string()).status().unwrap();
    let stopped = || fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") T "));
    assert!(wait_until(Duration::from_secs(5), stopped));
    let within = |args: &[&str]| {
        let mut child = Command::new(AGENTFS)
            .args(args)
            .env("AGENTFS_RUNTIME_DIR", &f.runtime)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let done = wait_until(Duration::from_secs(15), || child.try_wait().unwrap().is_some());
        if !done {
            let _ = child.kill();
        }
        (done, child.wait_with_output().unwrap())
    };
    let (list_done, list) = within(&["list", "--json"]);
    let m = f.mnt.to_str().unwrap();
    let (status_done, status) = within(&["status", "--json", m]);
    Command::new("kill").arg("-CONT").arg(pid.to_string()).status().unwrap();
    assert!(list_done && status_done, "list or status hung on a stopped daemon");
    let all: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(all[0]["state"], "serving", "{all}");
    let st: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(st["engine"].is_null() && st["upper"]["used_bytes"].is_null(), "nothing made up: {st}");
    assert!(st["upper"]["budget_bytes"].as_u64().unwrap() > 0, "{st}");
    f.unmount();
}
