//! Pins on real filesystems (loop images): auto's choice, freezing, cleanup, shared blocks.
#![cfg(target_os = "linux")]

mod common;

use common::loopfs::LoopFs;
use common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn project(src: &Path) {
    fs::create_dir_all(src.join("src/deep/er")).unwrap();
    fs::write(src.join("src/main.rs"), b"fn main() {}\n").unwrap();
    fs::write(src.join("src/deep/er/data.bin"), vec![0xabu8; 8 << 20]).unwrap();
    fs::write(src.join("README"), b"readme\n").unwrap();
    fs::hard_link(src.join("README"), src.join("README.hard")).unwrap();
    std::os::unix::fs::symlink("src/main.rs", src.join("main-link")).unwrap();
    fs::set_permissions(src.join("src/deep"), fs::Permissions::from_mode(0o555)).unwrap();
}

/// Changes SRC after the mount: none of it may show in MNT.
fn change_src(src: &Path) {
    fs::write(src.join("src/main.rs"), b"changed outside\n").unwrap();
    fs::remove_file(src.join("README.hard")).unwrap();
    fs::rename(src.join("src/deep/er/data.bin"), src.join("src/moved.bin")).unwrap();
    fs::write(src.join("new-outside"), b"x").unwrap();
}

fn assert_frozen(mnt: &Path) {
    assert_eq!(fs::read(mnt.join("src/main.rs")).unwrap(), b"fn main() {}\n");
    assert!(mnt.join("README.hard").exists());
    assert_eq!(fs::metadata(mnt.join("src/deep/er/data.bin")).unwrap().len(), 8 << 20);
    assert!(!mnt.join("src/moved.bin").exists() && !mnt.join("new-outside").exists());
}

fn pins_left(fs_root: &Path) -> Vec<String> {
    fs::read_dir(fs_root.join(".agentfs-pins"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into()).collect())
        .unwrap_or_default()
}

#[test]
fn auto_takes_a_btrfs_snapshot_of_a_subvolume_and_removes_it() {
    if !fuse_available() {
        return;
    }
    let Some(b) = LoopFs::new("btrfs", 512) else { return };
    let vol = b.root.join("vol");
    b.subvolume(&vol);
    let f = Fixture::with_src(&vol.join("work/project"), project);
    f.mount(&[]);
    let st = f.status();
    assert_eq!(st["pin"]["kind"], "snapshot", "{st}");
    assert!(b.subvolumes().iter().any(|s| s.contains(".agentfs-pins")), "{:?}", b.subvolumes());
    change_src(&f.src);
    assert_frozen(&f.mnt);
    fs::write(f.mnt.join("only-in-mount"), b"y").unwrap();
    assert!(!f.src.join("only-in-mount").exists());
    let pid = f.daemon_pid();
    f.unmount();
    f.assert_gone(pid);
    assert_eq!(b.subvolumes(), vec!["vol".to_string()], "the snapshot must be gone");
    assert!(!b.root.join(".agentfs-pins").exists());
}

#[test]
fn auto_clones_with_reflinks_on_xfs_sharing_every_block() {
    if !fuse_available() {
        return;
    }
    let Some(x) = LoopFs::new("xfs", 512) else { return };
    let f = Fixture::with_src(&x.root.join("project"), |src| {
        project(src);
        fs::write(src.join("big"), vec![7u8; 64 << 20]).unwrap();
    });
    let free_before = x.free();
    f.mount(&[]);
    let st = f.status();
    assert_eq!(st["pin"]["kind"], "reflink", "{st}");
    assert!(st["pin"]["bytes"].as_u64().unwrap() >= 72 << 20);
    let used_by_pin = free_before.saturating_sub(x.free());
    assert!(used_by_pin < 4 << 20, "a reflink pin of 72 MiB took {used_by_pin} bytes: data was copied");
    change_src(&f.src);
    assert_frozen(&f.mnt);
    let pid = f.daemon_pid();
    f.unmount();
    f.assert_gone(pid);
    assert!(pins_left(&x.root).is_empty() && !x.root.join(".agentfs-pins").exists());
}

#[test]
fn a_reflink_pin_on_btrfs_holds_no_exclusive_data() {
    if !fuse_available() {
        return;
    }
    let Some(b) = LoopFs::new("btrfs", 512) else { return };
    let f = Fixture::with_src(&b.root.join("plain-dir"), project);
    f.mount(&["--pin", "reflink"]);
    let st = f.status();
    assert_eq!(st["pin"]["kind"], "reflink");
    let pin = st["pin"]["path"].as_str().unwrap().to_string();
    let out = Command::new("btrfs").args(["filesystem", "du", "-s", "--raw", &pin]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // Columns: Total Exclusive Set-shared Filename
    let line = text.lines().last().unwrap();
    let cols: Vec<u64> = line.split_whitespace().take(3).map(|c| c.parse().unwrap()).collect();
    assert!(cols[0] >= 8 << 20, "{text}");
    assert_eq!(cols[1], 0, "the pin has exclusive data: {text}");
    f.unmount();
    f.assert_gone(None);
    assert!(!b.root.join(".agentfs-pins").exists());
}

#[test]
fn auto_falls_back_to_live_on_ext4_and_says_so() {
    if !fuse_available() {
        return;
    }
    let Some(e) = LoopFs::new("ext4", 256) else { return };
    let f = Fixture::with_src(&e.root.join("project"), project);
    let stderr = f.mount_stderr(&[]);
    assert!(stderr.contains("warning") && stderr.contains("used live") && stderr.contains("ext4"), "{stderr}");
    assert_eq!(f.status()["pin"]["kind"], "live");
    assert!(!e.root.join(".agentfs-pins").exists(), "no pin directory for a live mount");
    // Live: outside changes show through once the short caches expire.
    fs::read(f.mnt.join("src/main.rs")).unwrap();
    fs::write(f.src.join("src/main.rs"), b"changed outside\n").unwrap();
    fs::write(f.src.join("new-outside"), b"x").unwrap();
    assert!(wait_until(Duration::from_secs(5), || fs::read(f.mnt.join("src/main.rs")).unwrap() == b"changed outside\n"));
    assert!(wait_until(Duration::from_secs(5), || f.mnt.join("new-outside").exists()));
    // What the mount changed stays as the mount changed it.
    fs::write(f.mnt.join("README"), b"mine").unwrap();
    fs::write(f.src.join("README"), b"theirs").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(fs::read(f.mnt.join("README")).unwrap(), b"mine");
    assert!(!f.src.join("only").exists());
    f.unmount();
    f.assert_gone(None);
}

#[test]
fn copy_pins_freeze_any_filesystem_and_snapshot_pins_need_btrfs() {
    if !fuse_available() {
        return;
    }
    let f = Fixture::new(project);
    let out = f.run(&[os("mount"), os("--pin"), os("snapshot"), f.src.as_os_str(), f.mnt.as_os_str()]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not on btrfs"));
    assert!(!f.is_mounted());
    f.mount(&["--pin", "copy"]);
    assert_eq!(f.status()["pin"]["kind"], "copy");
    change_src(&f.src);
    assert_frozen(&f.mnt);
    let pin = f.status()["pin"]["path"].as_str().unwrap().to_string();
    assert!(Path::new(&pin).exists());
    f.unmount();
    f.assert_gone(None);
    assert!(!Path::new(&pin).exists());
}

#[test]
fn pins_keep_modes_owners_times_xattrs_symlinks_and_hardlinks() {
    if !fuse_available() {
        return;
    }
    let Some(x) = LoopFs::new("xfs", 512) else { return };
    let f = Fixture::with_src(&x.root.join("project"), |src| {
        project(src);
        fs::write(src.join("owned"), b"o").unwrap();
        std::os::unix::fs::chown(src.join("owned"), Some(1234), Some(4321)).unwrap();
        Command::new("touch")
            .args(["-h", "-d", "2001-02-03 04:05:06.789"])
            .arg(src.join("main-link"))
            .status()
            .unwrap();
        Command::new("setfattr").args(["-n", "user.tag", "-v", "kept"]).arg(src.join("README")).status().unwrap();
    });
    f.mount(&["--pin", "reflink"]);
    let describe = |root: &Path| {
        let mut out = Vec::new();
        for p in ["README", "README.hard", "main-link", "owned", "src", "src/deep", "src/deep/er/data.bin"] {
            let md = fs::symlink_metadata(root.join(p)).unwrap();
            out.push(format!(
                "{p} {:o} {}:{} {}.{} n{} s{}",
                md.mode(),
                md.uid(),
                md.gid(),
                md.mtime(),
                md.mtime_nsec(),
                md.nlink(),
                md.size()
            ));
        }
        out.push(format!("{:?}", fs::read_link(root.join("main-link")).unwrap()));
        out
    };
    assert_eq!(describe(&f.mnt), describe(&f.src));
    let xattr =
        Command::new("getfattr").args(["--only-values", "-n", "user.tag"]).arg(f.mnt.join("README")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&xattr.stdout), "kept");
    assert_eq!(
        fs::metadata(f.mnt.join("README")).unwrap().ino(),
        fs::metadata(f.mnt.join("README.hard")).unwrap().ino()
    );
    f.unmount();
    f.assert_gone(None);
}

#[test]
fn a_pin_inside_src_never_shows_in_the_mount() {
    if !fuse_available() {
        return;
    }
    // SRC is the root of its filesystem: the only place for the pins directory is inside it.
    for kind in ["btrfs", "xfs"] {
        let Some(lfs) = LoopFs::new(kind, 512) else { return };
        let f = Fixture::with_src(&lfs.root, project);
        let before: Vec<_> = fs::read_dir(&f.src).unwrap().flatten().map(|e| e.file_name()).collect();
        f.mount(&[]);
        let expected = if kind == "btrfs" { "snapshot" } else { "reflink" };
        assert_eq!(f.status()["pin"]["kind"], expected);
        assert!(f.src.join(".agentfs-pins").exists(), "{kind}: the pin is inside SRC");
        let mut shown: Vec<_> = fs::read_dir(&f.mnt).unwrap().flatten().map(|e| e.file_name()).collect();
        shown.sort();
        let mut want = before.clone();
        want.sort();
        assert_eq!(shown, want, "{kind}: the mount shows exactly SRC's entries");
        assert!(fs::metadata(f.mnt.join(".agentfs-pins")).is_err());
        assert_eq!(fs::create_dir(f.mnt.join(".agentfs-pins")).map(|_| ()).map_err(|e| e.kind()), Ok(()));
        f.unmount();
        f.assert_gone(None);
        assert!(!f.src.join(".agentfs-pins").exists(), "{kind}: the pins directory is gone");
    }
}

#[test]
fn a_user_snapshots_their_own_subvolume_and_the_snapshot_is_removed_without_root() {
    if !fuse_available() {
        return;
    }
    let Some(uid) = tests_user() else { return };
    if fs::metadata("/dev/fuse").unwrap().mode() & 0o006 != 0o006 {
        eprintln!("skipping: /dev/fuse is not open to users (scripts/test opens it)");
        return;
    }
    let Some(b) = LoopFs::new("btrfs", 512) else { return };
    let home = b.root.join("home");
    fs::create_dir(&home).unwrap();
    b.subvolume(&home.join("vol"));
    let f = Fixture::with_src(&home.join("vol/project"), project);
    let own = |p: &Path| {
        assert!(Command::new("chown").arg("-R").arg(format!("{uid}:{uid}")).arg(p).status().unwrap().success())
    };
    own(&home);
    own(&f.mnt);
    fs::set_permissions(f.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let runtime = f.dir.path().join("user-run");
    fs::create_dir(&runtime).unwrap();
    own(&runtime);
    let as_user = |args: &[&str]| {
        use std::os::unix::process::CommandExt;
        Command::new(AGENTFS).args(args).env("AGENTFS_RUNTIME_DIR", &runtime).uid(uid).gid(uid).output().unwrap()
    };
    let (s, m) = (f.src.to_str().unwrap(), f.mnt.to_str().unwrap());
    let out = as_user(&["mount", "--quiet", s, m]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let st: serde_json::Value = serde_json::from_slice(&as_user(&["status", "--json", m]).stdout).unwrap();
    assert_eq!(st["pin"]["kind"], "snapshot", "{st}");
    assert!(
        st["pin"]["path"].as_str().unwrap().starts_with(home.to_str().unwrap()),
        "the user's pins go where they may write: {st}"
    );
    assert_eq!(b.subvolumes().len(), 2);
    let out = as_user(&["unmount", m]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(b.subvolumes(), vec!["home/vol".to_string()], "the user's snapshot is gone");
    assert!(!home.join(".agentfs-pins").exists());
}
