//! A hostile SRC: between mount and commit, someone swaps what a change acts on. For each kind
//! of change (new file, modified file, chmod, chown, xattr, delete file, delete tree, rename
//! file, rename directory, hardlink, symlink), each in its own directory `dK`, and each swap (the
//! directory on the path for a symlink to a directory outside SRC, or on another filesystem, or
//! for a file, or another filesystem mounted there; the object itself for a symlink, or for a
//! directory / a file), the commit must stop with exit 7 naming the path in the mount, write
//! nothing at all into SRC (fingerprint: content, modes, inodes, times), and nothing outside SRC
//! (decoys fingerprinted byte for byte). Then, with every object swapped for a directory and
//! back for a copy (same content, another inode), the commit goes through.
//!
//! In the pinned modes on /tmp, and on btrfs, XFS and ext4 loop images; and with SRC owned by
//! an unprivileged user who attacks root's commit.
#![cfg(unix)]

mod common;

use common::hostile::*;
use common::*;
use std::fs;
use std::path::Path;

/// (directory, change made in the mount, the object of SRC the change acts on)
const KINDS: [(&str, &str, &str); 11] = [
    ("d1", "printf new > d1/new", "new"),
    ("d2", "printf changed > d2/f", "f"),
    ("d3", "chmod 4755 d3/f", "f"),
    ("d4", "chown 1001:1001 d4/f", "f"),
    ("d5", "setfattr -n user.k -v v d5/f", "f"),
    ("d6", "rm d6/f", "f"),
    ("d7", "rm -r d7/t", "t"),
    ("d8", "mv d8/f d8/g", "f"),
    ("d9", "mv d9/sub d9/sub2", "sub"),
    ("d10", "ln d10/f d10/link", "f"),
    ("d11", "ln -s f d11/sym", "sym"),
];

fn populate(src: &Path) {
    for (d, _, _) in KINDS {
        sh(src, &format!("mkdir {d} && printf 'in {d}\\n' > {d}/f && printf keep > {d}/keep"));
    }
    sh(src, "mkdir -p d7/t/b && printf a > d7/t/a && printf c > d7/t/b/c && mkdir d9/sub && printf x > d9/sub/x");
}

#[derive(Clone, Copy, Debug)]
enum Swap {
    DirToSymlink,
    DirToSymlinkOtherFs,
    DirToFile,
    MountOnDir,
    ObjectToSymlink,
    ObjectToOtherType,
}

const SWAPS: [Swap; 6] = [
    Swap::DirToSymlink,
    Swap::DirToSymlinkOtherFs,
    Swap::DirToFile,
    Swap::MountOnDir,
    Swap::ObjectToSymlink,
    Swap::ObjectToOtherType,
];

/// Swaps something in SRC for kind `(d, _, obj)`; `outside` and `other` hold replicas of `d`.
fn swap(src: &Path, s: Swap, (d, obj): (&str, &str), outside: &Path, other: &Path) {
    let script = match s {
        Swap::DirToSymlink => format!("mv {d} {d}.moved && ln -s {}/{d} {d}", outside.display()),
        Swap::DirToSymlinkOtherFs => format!("mv {d} {d}.moved && ln -s {}/{d} {d}", other.display()),
        Swap::DirToFile => format!("mv {d} {d}.moved && printf file > {d}"),
        Swap::MountOnDir => format!("mount -t tmpfs -o size=1m tmpfs {d}"),
        Swap::ObjectToSymlink => {
            format!("if [ -e {d}/{obj} ]; then mv {d}/{obj} {d}/{obj}.moved; fi && ln -s {}/{d}/{obj} {d}/{obj}", outside.display())
        }
        Swap::ObjectToOtherType => format!(
            "if [ -e {d}/{obj} ]; then mv {d}/{obj} {d}/{obj}.moved; fi
             if [ -d {d}/{obj}.moved ]; then printf file > {d}/{obj}; else mkdir {d}/{obj} && printf x > {d}/{obj}/x; fi"
        ),
    };
    sh(src, &script);
}

fn unswap(src: &Path, s: Swap, (d, obj): (&str, &str)) {
    let script = match s {
        Swap::DirToSymlink | Swap::DirToSymlinkOtherFs | Swap::DirToFile => format!("rm {d} && mv {d}.moved {d}"),
        Swap::MountOnDir => format!("umount {d}"),
        Swap::ObjectToSymlink | Swap::ObjectToOtherType => {
            format!("rm -r {d}/{obj} && if [ -e {d}/{obj}.moved ]; then mv {d}/{obj}.moved {d}/{obj}; fi")
        }
    };
    sh(src, &script);
}

fn suite(place: Place, env: &[(&str, &str)]) {
    if !fuse_available() {
        return;
    }
    let Some(s) = place.setup(populate) else { return };
    let other = OtherFs::new();
    let (src, mnt) = (&s.f.src, &s.f.mnt);
    for dir in [s.outside.as_path(), other.path()] {
        decoy(dir);
        sh(src, &format!("cp -a d* {}/", dir.display()));
    }
    let decoys = (fingerprint(&s.outside), fingerprint(other.path()));
    s.mount();
    for (_, change, _) in KINDS {
        sh(mnt, change);
    }
    for sw in SWAPS {
        for (d, _, obj) in KINDS {
            swap(src, sw, (d, obj), &s.outside, other.path());
            let before = fingerprint(src);
            let (code, err) = commit_code(&s.f, mnt, env);
            let shown = mnt.join(d).display().to_string();
            assert_eq!(code, 7, "{}: {sw:?} of {d}: {err}", place.name());
            assert!(err.contains(&shown), "{}: {sw:?} of {d}: the error names {shown}: {err}", place.name());
            assert_same(&fingerprint(src), &before, &format!("{}: {sw:?} of {d}: SRC changed", place.name()));
            unswap(src, sw, (d, obj));
        }
        assert_same(&fingerprint(&s.outside), &decoys.0, &format!("{}: {sw:?}: outside SRC", place.name()));
        assert_same(&fingerprint(other.path()), &decoys.1, &format!("{}: {sw:?}: the other filesystem", place.name()));
    }
    // Every object swapped for another type and back for a copy: same content, new inode. The
    // commit decides by content, so it goes through.
    for (d, _, obj) in KINDS {
        sh(
            src,
            &format!(
                "if [ -e {d}/{obj} ]; then mv {d}/{obj} {d}/o && mkdir {d}/{obj} && rmdir {d}/{obj} && cp -a {d}/o {d}/{obj} && rm -r {d}/o; fi"
            ),
        );
    }
    let (code, err) = commit_code(&s.f, mnt, env);
    assert_eq!(code, 0, "{}: {err}", place.name());
    assert_same(&view(src), &view(mnt), &format!("{}: SRC after the commit", place.name()));
    assert_same(&fingerprint(&s.outside), &decoys.0, &format!("{}: outside SRC", place.name()));
    assert_same(&fingerprint(other.path()), &decoys.1, &format!("{}: the other filesystem", place.name()));
    let pid = s.f.daemon_pid();
    s.f.unmount();
    s.f.assert_gone(pid);
    assert!(staging_left(&s.f).is_empty(), "{}: staging left: {:?}", place.name(), staging_left(&s.f));
}

#[test]
fn hostile_src_pinned() {
    suite(Place::Tmp(Mode::Pinned), &[]);
}

/// The same where the kernel has no openat2: the walk of one O_NOFOLLOW open per name.
#[test]
fn hostile_src_pinned_without_openat2() {
    suite(Place::Tmp(Mode::Pinned), &[("AGENTFS_TEST_NO_OPENAT2", "1")]);
}

#[test]
fn hostile_src_passthrough() {
    suite(Place::Tmp(Mode::Passthrough), &[]);
}

#[test]
fn hostile_src_btrfs() {
    suite(Place::Loop("btrfs"), &[]);
}

#[test]
fn hostile_src_xfs() {
    suite(Place::Loop("xfs"), &[]);
}

#[test]
fn hostile_src_ext4() {
    suite(Place::Loop("ext4"), &[]);
}

/// SRC belongs to an unprivileged user, who swaps a directory of it for a symlink to a root-only
/// directory between mount and commit; root commits. Before, root's commit wrote there.
#[test]
fn an_unprivileged_owner_cannot_direct_roots_commit() {
    if !fuse_available() {
        return;
    }
    let Some(uid) = tests_user() else { return };
    let f = Fixture::in_mode(Mode::Pinned, |s| {
        sh(s, "mkdir -p d/sub && printf a > d/f && printf s > d/sub/s");
    });
    let secret = f.dir.path().join("root-only");
    sh(
        f.dir.path(),
        &format!(
            "mkdir root-only && cp -a src/d/. root-only/ && chmod 700 root-only && chown -R {uid} src && chmod 755 ."
        ),
    );
    let before = fingerprint(&secret);
    f.mount(&[]);
    sh(&f.mnt, "printf new > d/new.txt && chmod 4777 d/f && rm -r d/sub");
    // The owner's attack, as the owner.
    let attack = format!("cd {} && mv d d.moved && ln -s {} d", f.src.display(), secret.display());
    let out = std::process::Command::new("runuser").args(["-u", "tests", "--", "sh", "-c", &attack]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (code, err) = commit_code(&f, &f.mnt, &[]);
    assert_eq!(code, 7, "{err}");
    assert!(err.contains(&f.mnt.join("d").display().to_string()) && err.contains("symlink"), "{err}");
    assert_same(&fingerprint(&secret), &before, "the root-only directory");
    // Once the owner puts d back, root's commit goes through.
    sh(&f.src, "rm d && mv d.moved d");
    let (code, err) = commit_code(&f, &f.mnt, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(view(&f.src), view(&f.mnt));
    f.unmount();
}

/// agentfs's own directories inside SRC (here the pins directory, at the top of a filesystem)
/// are not part of the view, and a commit never writes into them.
#[test]
fn pins_inside_src_are_hidden_and_never_written() {
    if !fuse_available() {
        return;
    }
    let Some(lfs) = loopfs::LoopFs::new("xfs", 300) else { return };
    let f = Fixture::with_src(&lfs.root, |s| {
        sh(s, "mkdir -p d && printf a > d/f");
    });
    f.mount(&["--pin", "reflink"]);
    let pins = f.src.join(".agentfs-pins");
    assert!(pins.is_dir(), "the pins directory is inside SRC");
    let m2 = f.dir.path().join("m2");
    fs::create_dir(&m2).unwrap();
    let out = f.run(&[os("mount"), os("--pin"), os("reflink"), f.src.as_os_str(), m2.as_os_str()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let _m2 = Detach(m2.clone());
    for m in [&f.mnt, &m2] {
        assert!(!fs::read_dir(m).unwrap().flatten().any(|e| e.file_name().to_string_lossy().starts_with(".agentfs")));
    }
    let pin1 = fs::read_dir(&pins).unwrap().flatten().next().unwrap().file_name();
    let before = fingerprint(&pins);
    // Where mount 1's pin lies, as seen in mount 2.
    let inject = m2.join(".agentfs-pins").join(&pin1).join("d");
    fs::create_dir_all(&inject).unwrap();
    fs::write(inject.join("injected.txt"), b"x").unwrap();
    let (code, err) = commit_code(&f, &m2, &[]);
    assert_eq!(code, 7, "{err}");
    assert!(err.contains(".agentfs-pins") && err.contains("agentfs's own"), "{err}");
    assert_same(&fingerprint(&pins), &before, "the pins");
    // commit --to into the pins, or into the mount itself, is refused at once.
    for to in [pins.join("x"), m2.join("sub")] {
        let out = f.run(&[os("commit"), m2.as_os_str(), os("--to"), to.as_os_str()]);
        assert_eq!(out.status.code(), Some(3), "--to {}: {}", to.display(), String::from_utf8_lossy(&out.stderr));
    }
    let out = f.run(&[os("unmount"), m2.as_os_str()]);
    assert!(out.status.success());
    f.unmount();
}
