//! mount(8) and /etc/fstab through the mount.fuse.agentfs helper, and the pin progress bar.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn populate(src: &Path) {
    fs::create_dir_all(src.join("a")).unwrap();
    fs::write(src.join("a/file"), b"lower").unwrap();
}

#[test]
fn mount_t_fuse_agentfs_and_an_fstab_line_work_and_umount_removes_the_pin() {
    if !fuse_available() {
        return;
    }
    let _helper = PrivateHelper::install();
    let f = Fixture::new(populate);
    let before = fingerprint(&f.src);
    let out = Command::new("mount")
        .args(["-t", "fuse.agentfs"])
        .arg(&f.src)
        .arg(&f.mnt)
        .args(["-o", "pin=copy,size=64M"])
        .env("AGENTFS_RUNTIME_DIR", &f.runtime)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let st = f.status();
    assert_eq!((st["pin"]["kind"].as_str(), st["upper"]["budget_bytes"].as_u64()), (Some("copy"), Some(64 << 20)));
    let pin = st["pin"]["path"].as_str().unwrap().to_string();
    let pid = f.daemon_pid().unwrap();
    fs::write(f.mnt.join("a/file"), b"changed").unwrap();
    assert!(Command::new("umount").arg(&f.mnt).status().unwrap().success());
    assert!(wait_until(Duration::from_secs(10), || !alive(pid)));
    assert!(!Path::new(&pin).exists(), "umount removes the pin");
    f.assert_gone(None);

    // The same through an fstab line (mount -T reads another fstab; the format is /etc/fstab's).
    let fstab = f.dir.path().join("fstab");
    fs::write(
        &fstab,
        format!(
            "{} {} fuse.agentfs pin=live,size=32M,ro,noauto,nofail,x-systemd.automount 0 0\n",
            f.src.display(),
            f.mnt.display()
        ),
    )
    .unwrap();
    let out = Command::new("mount")
        .arg("-T")
        .arg(&fstab)
        .arg(&f.mnt)
        .env("AGENTFS_RUNTIME_DIR", &f.runtime)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let st = f.status();
    assert_eq!((st["pin"]["kind"].as_str(), st["read_only"].as_bool()), (Some("live"), Some(true)));
    assert_eq!(fs::read(f.mnt.join("a/file")).unwrap(), b"lower");
    let pid = f.daemon_pid();
    assert!(Command::new("umount").arg(&f.mnt).status().unwrap().success());
    assert!(wait_until(Duration::from_secs(10), || f.daemon_pid().is_none()));
    // The daemon drops its record, then its log, then exits: wait for the exit.
    f.assert_gone(pid);
    assert_eq!(fingerprint(&f.src), before);

    let out = Command::new("mount")
        .args(["-t", "fuse.agentfs"])
        .arg(&f.src)
        .arg(&f.mnt)
        .args(["-o", "bogus=1"])
        .env("AGENTFS_RUNTIME_DIR", &f.runtime)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown mount option"));
    assert!(!f.is_mounted());
}

#[test]
fn a_long_pin_shows_progress_on_a_terminal_only() {
    if !fuse_available() {
        return;
    }
    // A copy pin of 30000 files takes more than a second.
    let f = Fixture::new(|src| {
        for d in 0..100 {
            fs::create_dir_all(src.join(format!("d{d}"))).unwrap();
            for i in 0..300 {
                fs::write(src.join(format!("d{d}/f{i}")), b"0123456789").unwrap();
            }
        }
    });
    let cmd = format!(
        "AGENTFS_RUNTIME_DIR={} {AGENTFS} mount --pin copy {} {}",
        f.runtime.display(),
        f.src.display(),
        f.mnt.display()
    );
    // `script` gives the command a terminal.
    let out = Command::new("script").args(["-qec", &cmd, "/dev/null"]).output().unwrap();
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{tty}");
    let pin_ms = f.status()["pin"]["millis"].as_u64().unwrap();
    if pin_ms > 1300 {
        assert!(tty.contains("pinning") && tty.contains("files"), "no progress in {pin_ms} ms: {tty:?}");
    } else {
        eprintln!("the pin took only {pin_ms} ms; the progress check needs more than a second");
    }
    f.unmount();
    // Without a terminal, or with --quiet: nothing.
    let out = f.run(&[os("mount"), os("--pin"), os("copy"), f.src.as_os_str(), f.mnt.as_os_str()]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("pinning"));
    f.unmount();
    let out = Command::new("script").args(["-qec", &format!("{cmd} --quiet"), "/dev/null"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("pinning"));
    f.unmount();
    f.assert_gone(None);
}
