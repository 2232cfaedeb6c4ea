//! The mount options mount(8) users type, through `mount -t fuse.agentfs` (the
//! mount.fuse.agentfs helper) and `agentfs mount -o`, in every I/O mode: each is checked by its
//! effect (execve refused, EROFS, a device node that will not open, a symlink not followed)
//! and in the mount table.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

per_mode!(
    noexec_refuses_execve_until_a_remount_with_exec,
    remount_ro_gives_erofs_and_remount_rw_writes_again_with_the_upper_layer_kept,
    nodev_refuses_device_nodes_and_dev_lets_root_open_them,
    atime_sync_and_symlink_options_reach_the_kernel,
    noatime_keeps_access_times_and_strictatime_moves_them,
    source_and_fsname_name_the_mount,
);

/// A tree with a program, a device node like /dev/null, a file and a symlink to it.
fn populate(src: &Path) {
    fs::copy("/bin/true", src.join("prog")).unwrap();
    fs::set_permissions(src.join("prog"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(src.join("file"), b"lower").unwrap();
    std::os::unix::fs::symlink("file", src.join("link")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        src.join("null"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o666),
        rustix::fs::makedev(1, 3),
    )
    .unwrap();
}

/// `mount -t fuse.agentfs SOURCE MNT -o MODE,OPTIONS` (OPTIONS may be empty).
fn mount8(f: &Fixture, source: &Path, options: &str) -> Output {
    let mode = f.mode.map_or("", Mode::mount_options);
    let list = [mode, options].iter().filter(|o| !o.is_empty()).copied().collect::<Vec<_>>().join(",");
    Command::new("mount")
        .args(["-t", "fuse.agentfs"])
        .arg(source)
        .arg(&f.mnt)
        .args(["-o", &list])
        .env("AGENTFS_RUNTIME_DIR", &f.runtime)
        .output()
        .unwrap()
}

fn mount8_ok(f: &Fixture, options: &str) {
    let out = mount8(f, &f.src, options);
    assert!(out.status.success(), "mount -o {options}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `mount -o remount,OPTIONS MNT`.
fn remount8(f: &Fixture, options: &str) {
    let out = Command::new("mount")
        .args(["-o", &format!("remount,{options}")])
        .arg(&f.mnt)
        .env("AGENTFS_RUNTIME_DIR", &f.runtime)
        .output()
        .unwrap();
    assert!(out.status.success(), "mount -o remount,{options}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `umount MNT`, then waits for the daemon to go and checks that nothing is left.
fn umount8(f: &Fixture) {
    let pid = f.daemon_pid();
    let out = Command::new("umount").arg(&f.mnt).output().unwrap();
    assert!(out.status.success(), "umount: {}", String::from_utf8_lossy(&out.stderr));
    f.assert_gone(pid);
}

fn words(list: &str) -> Vec<&str> {
    list.split(',').collect()
}

/// The mount's own options and the filesystem's, as the mount table shows them.
fn table(f: &Fixture) -> (String, String) {
    let (mount, _, sb) = mount_line(&f.mnt).expect("MNT is in the mount table");
    (mount, sb)
}

fn runs(prog: &Path) -> std::io::Result<bool> {
    Command::new(prog).status().map(|s| s.success())
}

fn noexec_refuses_execve_until_a_remount_with_exec(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let _helper = PrivateHelper::install();
    let f = Fixture::in_mode(mode, populate);
    mount8_ok(&f, "noexec");
    assert!(words(&table(&f).0).contains(&"noexec"));
    assert_eq!(runs(&f.mnt.join("prog")).map_err(|e| e.kind()), Err(ErrorKind::PermissionDenied));
    remount8(&f, "exec");
    assert!(!words(&table(&f).0).contains(&"noexec"));
    assert!(runs(&f.mnt.join("prog")).unwrap());
    // `agentfs mount -o remount,...` changes only what it names.
    let out = f.run(&[os("mount"), os("-o"), os("remount,noexec"), f.src.as_os_str(), f.mnt.as_os_str()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (opts, _) = table(&f);
    assert!(words(&opts).contains(&"noexec") && words(&opts).contains(&"nodev"), "{opts}");
    assert_eq!(runs(&f.mnt.join("prog")).map_err(|e| e.kind()), Err(ErrorKind::PermissionDenied));
    umount8(&f);
}

fn remount_ro_gives_erofs_and_remount_rw_writes_again_with_the_upper_layer_kept(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let _helper = PrivateHelper::install();
    let f = Fixture::in_mode(mode, populate);
    mount8_ok(&f, "");
    let pid = f.daemon_pid();
    fs::write(f.mnt.join("kept"), b"written before").unwrap();
    fs::write(f.mnt.join("file"), b"changed").unwrap();

    remount8(&f, "ro");
    let (opts, sb) = table(&f);
    assert!(words(&opts).contains(&"ro") && words(&sb).contains(&"ro"), "{opts} / {sb}");
    let erofs = |r: std::io::Result<()>| r.map_err(|e| e.raw_os_error());
    assert_eq!(erofs(fs::write(f.mnt.join("new"), b"x")), Err(Some(libc::EROFS)));
    assert_eq!(erofs(fs::write(f.mnt.join("kept"), b"x")), Err(Some(libc::EROFS)));
    assert_eq!(erofs(fs::remove_file(f.mnt.join("file"))), Err(Some(libc::EROFS)));
    assert_eq!(fs::read(f.mnt.join("kept")).unwrap(), b"written before");
    assert_eq!(f.status()["read_only"].as_bool(), Some(true));
    // The flags it had stay: a remount changes only what it names.
    assert!(words(&opts).contains(&"nosuid") && words(&opts).contains(&"nodev"), "{opts}");

    remount8(&f, "rw");
    assert!(words(&table(&f).0).contains(&"rw"));
    fs::write(f.mnt.join("new"), b"after").unwrap();
    assert_eq!(fs::read(f.mnt.join("kept")).unwrap(), b"written before");
    assert_eq!(fs::read(f.mnt.join("file")).unwrap(), b"changed");
    assert_eq!(f.daemon_pid(), pid, "the same daemon serves: a remount is the kernel's business");
    assert_eq!(f.status()["read_only"].as_bool(), Some(false));
    umount8(&f);
    assert_eq!(fs::read(f.src.join("file")).unwrap(), b"lower");
}

fn open_null(mnt: &Path) -> std::io::Result<Vec<u8>> {
    fs::read(mnt.join("null"))
}

fn nodev_refuses_device_nodes_and_dev_lets_root_open_them(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let _helper = PrivateHelper::install();
    let f = Fixture::in_mode(mode, populate);
    mount8_ok(&f, "nodev");
    assert!(words(&table(&f).0).contains(&"nodev"));
    assert_eq!(open_null(&f.mnt).map_err(|e| e.kind()), Err(ErrorKind::PermissionDenied));
    umount8(&f);

    // mount(8) keeps `dev` and `suid` to itself (they are its defaults, util-linux 2.38): the
    // default is nodev; `agentfs mount -o dev` asks for device nodes.
    f.mount(&["-o", "dev,suid"]);
    let (opts, _) = table(&f);
    assert!(!words(&opts).contains(&"nodev") && !words(&opts).contains(&"nosuid"), "{opts}");
    assert_eq!(open_null(&f.mnt).unwrap(), b"");
    f.unmount();

    // A user may not: device nodes and set-id programs would reach beyond their rights.
    let Some(uid) = tests_user() else { return };
    let out =
        Command::new(AGENTFS).args(["mount", "-o", "dev"]).arg(&f.src).arg(&f.mnt).uid(uid).gid(uid).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("suid and dev need root"));
    assert!(!f.is_mounted());
}

fn atime_sync_and_symlink_options_reach_the_kernel(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let _helper = PrivateHelper::install();
    let f = Fixture::in_mode(mode, populate);
    mount8_ok(&f, "noatime,nodiratime,nosymfollow,sync,dirsync,lazytime");
    let (opts, sb) = table(&f);
    for o in ["noatime", "nodiratime", "nosymfollow"] {
        assert!(words(&opts).contains(&o), "{o} in {opts}");
    }
    for o in ["sync", "dirsync", "lazytime"] {
        assert!(words(&sb).contains(&o), "{o} in {sb}");
    }
    assert_eq!(fs::read(f.mnt.join("link")).map_err(|e| e.raw_os_error()), Err(Some(libc::ELOOP)));
    assert_eq!(fs::read(f.mnt.join("file")).unwrap(), b"lower");
    // With `sync` every write is followed by the kernel's fsync of the file.
    fs::write(f.mnt.join("file"), b"synced").unwrap();
    fs::create_dir(f.mnt.join("dir")).unwrap();
    assert_eq!(fs::read(f.mnt.join("file")).unwrap(), b"synced");
    umount8(&f);

    // strictatime: neither relatime nor noatime; the default is relatime.
    mount8_ok(&f, "strictatime");
    let (opts, _) = table(&f);
    assert!(!words(&opts).contains(&"relatime") && !words(&opts).contains(&"noatime"), "{opts}");
    assert_eq!(fs::read(f.mnt.join("link")).unwrap(), b"lower");
    remount8(&f, "relatime");
    assert!(words(&table(&f).0).contains(&"relatime"));
    umount8(&f);
}

/// The access time of `p` in seconds.
fn atime(p: &Path) -> i64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(p).unwrap().atime()
}

fn noatime_keeps_access_times_and_strictatime_moves_them(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let _helper = PrivateHelper::install();
    // A lower file last read in 2001: any update shows.
    let f = Fixture::in_mode(mode, |src| {
        populate(src);
        sh(src, "touch -a -d '2001-02-03 04:05:06' file && mkdir dir && touch -a -d '2001-02-03 04:05:06' dir");
    });
    let old = atime(&f.src.join("file"));
    mount8_ok(&f, "noatime");
    assert_eq!(fs::read(f.mnt.join("file")).unwrap(), b"lower");
    assert_eq!(atime(&f.mnt.join("file")), old, "noatime: a read leaves the access time");
    umount8(&f);
    mount8_ok(&f, "strictatime,nodiratime");
    assert_eq!(fs::read(f.mnt.join("file")).unwrap(), b"lower");
    assert!(atime(&f.mnt.join("file")) > old, "strictatime: a read moves the access time");
    assert_eq!(fs::read_dir(f.mnt.join("dir")).unwrap().count(), 0);
    assert_eq!(atime(&f.mnt.join("dir")), old, "nodiratime: a listing leaves a directory's access time");
    umount8(&f);
    assert_eq!(atime(&f.src.join("file")), old, "SRC's own access times never move");
}

fn source_and_fsname_name_the_mount(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let _helper = PrivateHelper::install();
    let f = Fixture::in_mode(mode, populate);
    let source = format!("source={}", f.src.display());
    let out = mount8(&f, Path::new("frozen"), &source);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(mount_line(&f.mnt).unwrap().1, "frozen");
    assert_eq!(fs::read(f.mnt.join("file")).unwrap(), b"lower");
    umount8(&f);
    mount8_ok(&f, "fsname=my-view");
    assert_eq!(mount_line(&f.mnt).unwrap().1, "my-view");
    assert_eq!(f.status()["source"].as_str(), f.src.to_str());
    umount8(&f);
}

#[test]
fn unknown_options_get_one_sentence_naming_them_and_the_accepted_ones() {
    if !fuse_available() {
        return;
    }
    let _helper = PrivateHelper::install();
    let f = Fixture::new(populate);
    let attempts: [fn(&Fixture) -> Output; 2] = [
        |f| mount8(f, &f.src, "pin=copy,bogus=1"),
        |f| f.run(&[os("mount"), os("-o"), os("noexec,bogus=1"), f.src.as_os_str(), f.mnt.as_os_str()]),
    ];
    for run in attempts {
        let out = run(&f);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(err.contains("unknown mount option \"bogus=1\"") && err.contains("pin=auto|"), "{err}");
        assert!(err.contains("noexec") && err.contains("strictatime") && err.trim_end().lines().count() == 1, "{err}");
        assert!(!f.is_mounted());
    }
    // A remount of something that is not an agentfs mount says so.
    let out = f.run(&[os("mount"), os("-o"), os("remount,ro"), f.src.as_os_str(), f.mnt.as_os_str()]);
    assert_eq!(out.status.code(), Some(6), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_user_mount_takes_the_kernel_options_through_fusermount3() {
    if !fuse_available() {
        return;
    }
    let Some(uid) = tests_user() else { return };
    if fs::metadata("/dev/fuse").map(|m| m.permissions().mode() & 0o006 != 0o006).unwrap_or(true) {
        eprintln!("skipping: /dev/fuse is not open to users (scripts/test opens it, as fuse3's udev rule does)");
        return;
    }
    let f = Fixture::new(populate);
    fs::set_permissions(f.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let chown = Command::new("chown").arg("-R").arg(format!("{uid}:{uid}")).arg(&f.src).arg(&f.mnt).status().unwrap();
    assert!(chown.success());
    let runtime = f.dir.path().join("user-run");
    fs::create_dir(&runtime).unwrap();
    std::os::unix::fs::chown(&runtime, Some(uid), Some(uid)).unwrap();
    let as_user = |args: &[&std::ffi::OsStr]| {
        Command::new(AGENTFS).args(args).env("AGENTFS_RUNTIME_DIR", &runtime).uid(uid).gid(uid).output().unwrap()
    };
    let list = os("noexec,noatime,dirsync");
    let out = as_user(&[os("mount"), os("-o"), list, f.src.as_os_str(), f.mnt.as_os_str()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (opts, _, sb) = mount_line(&f.mnt).unwrap();
    for o in ["noexec", "noatime", "nosuid", "nodev"] {
        assert!(words(&opts).contains(&o), "{o} in {opts}");
    }
    assert!(words(&sb).contains(&"dirsync"), "{sb}");
    let out = as_user(&[os("unmount"), f.mnt.as_os_str()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!f.is_mounted());
    // What fusermount3 does not know (3.14: strictatime, nodiratime, lazytime...), or takes
    // only from root, is refused by name, or taken where a newer fusermount3 knows it.
    let out = as_user(&[os("mount"), os("-o"), os("strictatime"), f.src.as_os_str(), f.mnt.as_os_str()]);
    if out.status.success() {
        assert!(!words(&mount_line(&f.mnt).unwrap().0).contains(&"relatime"));
        assert!(as_user(&[os("unmount"), f.mnt.as_os_str()]).status.success());
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("strictatime") && err.contains("mount as root"), "{err}");
        assert!(!f.is_mounted());
    }
    let out = as_user(&[os("mount"), os("-o"), os("suid"), f.src.as_os_str(), f.mnt.as_os_str()]);
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
}
