//! The real lower layer over a real directory tree.
#![cfg(target_os = "linux")]

use agentfs_core::lower::{Lower, LowerPath};
use agentfs_core::store::heap::HeapStore;
use agentfs_core::{Config, Engine, Errno, FileKind, OpenFlags, ROOT_ID};
use agentfs_platform::lower::DirLower;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::sync::Arc;

fn path(p: &str) -> LowerPath {
    p.split('/').fold(LowerPath::root(), |acc, c| acc.child(OsStr::new(c)))
}

fn tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    fs::create_dir_all(r.join("dir/sub")).unwrap();
    fs::write(r.join("dir/file"), b"content").unwrap();
    fs::hard_link(r.join("dir/file"), r.join("hard")).unwrap();
    symlink("/etc", r.join("etc-link")).unwrap();
    symlink("../../../../../../etc/passwd", r.join("dir/up-link")).unwrap();
    t
}

#[test]
fn stat_and_list_a_real_tree() {
    let t = tree();
    let l = DirLower::open(t.path()).unwrap();
    let root = l.stat(&LowerPath::root()).unwrap();
    assert_eq!(root.kind, FileKind::Directory);
    assert_eq!(root.ino, fs::metadata(t.path()).unwrap().ino());
    let f = l.stat(&path("dir/file")).unwrap();
    assert_eq!((f.kind, f.size, f.nlink), (FileKind::Regular, 7, 2));
    let mut names: Vec<_> = l.read_dir(&path("dir")).unwrap().into_iter().map(|e| (e.name, e.kind)).collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        names,
        vec![
            ("file".into(), FileKind::Regular),
            ("sub".into(), FileKind::Directory),
            ("up-link".into(), FileKind::Symlink)
        ]
    );
    let hard = l.read_dir(&LowerPath::root()).unwrap().into_iter().find(|e| e.name == "hard").unwrap();
    assert_eq!(hard.ino, f.ino);
    assert_eq!(l.readlink(&path("dir/up-link")).unwrap(), b"../../../../../../etc/passwd");
    let file = l.open(&path("dir/file")).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(file.read_at(&mut buf, 2).unwrap(), 5);
    assert_eq!(&buf[..5], b"ntent");
}

#[test]
fn symlinks_never_lead_out_of_the_root() {
    let t = tree();
    let l = DirLower::open(t.path()).unwrap();
    // A symlinked directory is not entered, whatever it points to.
    for p in ["etc-link/passwd", "etc-link/hostname"] {
        let err = l.stat(&path(p)).unwrap_err();
        assert!(err == Errno::ELOOP || err == Errno::ENOTDIR, "{p}: {err}");
        assert!(l.open(&path(p)).is_err());
    }
    assert!(l.read_dir(&path("etc-link")).is_err());
    // The last component is not followed either.
    assert_eq!(l.stat(&path("etc-link")).unwrap().kind, FileKind::Symlink);
    assert!(l.open(&path("dir/up-link")).is_err());
    // Through the engine: the symlink is data.
    let e = Engine::new(Arc::new(l), Arc::new(HeapStore), Config::default()).unwrap();
    let link = e.lookup(ROOT_ID, OsStr::new("etc-link")).unwrap();
    assert_eq!(link.kind, FileKind::Symlink);
    assert_eq!(e.lookup(link.ino, OsStr::new("passwd")).unwrap_err(), Errno::ENOTDIR);
    assert_eq!(e.open(link.ino, OpenFlags::RDONLY).unwrap_err(), Errno::ELOOP);
}

#[test]
fn a_directory_swapped_for_a_symlink_is_not_followed() {
    // The lower layer is meant to be pinned, but even a live tree changed under it must not let
    // a lookup escape: the cached listing says "dir", the tree now has a symlink there.
    let t = tree();
    let l = DirLower::open(t.path()).unwrap();
    l.read_dir(&LowerPath::root()).unwrap();
    fs::rename(t.path().join("dir"), t.path().join("dir.old")).unwrap();
    symlink("/etc", t.path().join("dir")).unwrap();
    let err = l.stat(&path("dir/passwd")).unwrap_err();
    assert!(err == Errno::ELOOP || err == Errno::ENOTDIR, "{err}");
}

#[test]
fn xattrs_of_files_dirs_and_symlinks() {
    let t = tree();
    let r = t.path();
    let set = |p: &std::path::Path, n: &str, v: &[u8]| {
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        let n = std::ffi::CString::new(n).unwrap();
        // trusted.* works on symlinks for root; user.* on files and dirs.
        rustix::fs::lsetxattr(c.as_c_str(), n.as_c_str(), v, rustix::fs::XattrFlags::empty())
    };
    if set(&r.join("dir/file"), "user.k", b"v").is_err() {
        eprintln!("skipping: the temp filesystem has no user xattrs");
        return;
    }
    set(&r.join("dir"), "user.d", b"dv").unwrap();
    let l = DirLower::open(r).unwrap();
    assert_eq!(l.xattrs(&path("dir/file"), FileKind::Regular).unwrap(), vec![(b"user.k".to_vec(), b"v".to_vec())]);
    assert!(l.xattrs(&path("dir"), FileKind::Directory).unwrap().contains(&(b"user.d".to_vec(), b"dv".to_vec())));
    if set(&r.join("dir/up-link"), "trusted.t", b"sv").is_ok() {
        assert_eq!(
            l.xattrs(&path("dir/up-link"), FileKind::Symlink).unwrap(),
            vec![(b"trusted.t".to_vec(), b"sv".to_vec())]
        );
    }
}

#[test]
fn fifos_are_never_opened_as_files() {
    let t = tree();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        t.path().join("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    let l = DirLower::open(t.path()).unwrap();
    assert_eq!(l.open(&path("fifo")).err(), Some(Errno::EINVAL));
}
