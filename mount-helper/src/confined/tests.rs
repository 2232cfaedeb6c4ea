use super::*;
use std::fs;
use std::os::unix::fs::symlink;

/// A temporary directory with a path free of symlinks (on macOS, /var and /tmp are symlinks).
fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir_in(std::env::temp_dir().canonicalize().unwrap()).unwrap()
}

fn tree() -> (tempfile::TempDir, tempfile::TempDir) {
    let root = tempdir();
    let outside = tempdir();
    fs::create_dir_all(root.path().join("a/b")).unwrap();
    fs::write(root.path().join("a/b/f"), b"f").unwrap();
    fs::write(outside.path().join("keep"), b"keep").unwrap();
    symlink(outside.path(), root.path().join("link")).unwrap();
    symlink(outside.path(), root.path().join("a/link")).unwrap();
    (root, outside)
}

#[test]
fn names_must_be_plain() {
    for bad in ["", ".", "..", "a/b", "/x"] {
        assert!(check_name(OsStr::new(bad)).is_err(), "{bad:?}");
    }
    assert!(check_rel(Path::new("a/../b")).is_err());
    assert!(check_rel(Path::new("/a")).is_err());
    assert!(check_rel(Path::new("a/b")).is_ok());
}

#[test]
fn no_symlink_on_the_way_is_followed() {
    let (root, outside) = tree();
    let r = Dir::open_root(root.path()).unwrap();
    assert!(r.open_dir(Path::new("a/b")).is_ok());
    for through in ["link", "a/link", "a/link/x"] {
        let e = r.open_dir(Path::new(through)).err().unwrap();
        assert_eq!(errno(&e), Some(libc::ELOOP), "{through}: {e}");
    }
    for rel in ["link", "a/link"] {
        assert!(resolve::open_absolute(&root.path().join(rel)).is_err(), "{rel}");
    }
    let a = r.open_dir(Path::new("a")).unwrap();
    // Operations on a symlink act on the symlink itself.
    a.remove_tree(OsStr::new("link")).unwrap();
    assert!(fs::symlink_metadata(root.path().join("a/link")).is_err());
    assert_eq!(fs::read(outside.path().join("keep")).unwrap(), b"keep");
    assert!(a.open_file(OsStr::new("b"), false).is_err(), "a directory is not a regular file");
}

#[test]
fn the_walk_refuses_what_openat2_refuses() {
    let (root, _outside) = tree();
    let fd = rustix::fs::open(root.path(), OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
    let dup = |fd: &OwnedFd| rustix::io::fcntl_dupfd_cloexec(fd, 0).unwrap();
    for through in ["link", "a/link", "a/link/x", "a/b/f"] {
        assert!(resolve::walk_for_tests(dup(&fd), Path::new(through)).is_err(), "{through}");
    }
    assert!(resolve::walk_for_tests(dup(&fd), Path::new("a/b")).is_ok());
    let e = resolve::walk_for_tests(dup(&fd), Path::new("link")).err().unwrap();
    assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
}

#[test]
fn exchange_and_move_keep_both_objects() {
    let (root, _outside) = tree();
    let r = Dir::open_root(root.path()).unwrap();
    fs::write(root.path().join("x"), b"x").unwrap();
    let a = r.open_dir(Path::new("a")).unwrap();
    r.exchange(OsStr::new("x"), &a, OsStr::new("b")).unwrap();
    assert!(root.path().join("x/f").exists());
    assert_eq!(fs::read(root.path().join("a/b")).unwrap(), b"x");
    assert!(r.move_to(OsStr::new("x"), &a, OsStr::new("b")).is_err(), "no replacing");
    r.remove_tree(OsStr::new("x")).unwrap();
    assert!(!root.path().join("x").exists());
}

#[test]
fn metadata_is_set_on_the_planned_object_only() {
    let (root, _outside) = tree();
    let r = Dir::open_root(root.path()).unwrap();
    let b = r.open_dir(Path::new("a/b")).unwrap();
    let m = b.meta(OsStr::new("f")).unwrap().unwrap();
    let who = Identity::of(&m.st);
    let mut want = m.meta.clone();
    want.perm = 0o640;
    want.mtime = (1_000_000, 5);
    b.set_meta(OsStr::new("f"), who, &want).unwrap();
    let now = b.meta(OsStr::new("f")).unwrap().unwrap().meta;
    assert_eq!((now.perm, now.mtime), (0o640, (1_000_000, 5)));
    assert!(b.set_meta(OsStr::new("f"), Identity { dev: who.dev, ino: who.ino + 1 }, &want).is_err());
}

/// A directory deeper than PATH_MAX lets name at once is opened in steps, still confined.
#[test]
fn a_path_longer_than_path_max_opens_in_steps() {
    use rustix::fs::{Mode, OFlags};
    let t = tempdir();
    let root = Dir::open_root(t.path()).unwrap();
    let mut rel = std::path::PathBuf::new();
    let mut fd = rustix::fs::open(t.path(), OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
    for _ in 0..3000 {
        rustix::fs::mkdirat(&fd, "dd", Mode::from_raw_mode(0o755)).unwrap();
        fd = rustix::fs::openat(&fd, "dd", OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        rel.push("dd");
    }
    assert!(rel.as_os_str().len() > 4096);
    let deep = root.open_dir(&rel).unwrap();
    assert_eq!(deep.stat_self().unwrap().st_ino, rustix::fs::fstat(&fd).unwrap().st_ino);
}
