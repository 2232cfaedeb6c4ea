use super::*;
use agentfs_core::store::heap::HeapStore;
use agentfs_core::{Config, Engine, FileRef, ROOT_ID};
use std::ffi::OsStr;

fn tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    fs::create_dir_all(t.path().join("d/e")).unwrap();
    fs::write(t.path().join("d/f.txt"), b"hello").unwrap();
    fs::hard_link(t.path().join("d/f.txt"), t.path().join("d/g.txt")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("f.txt", t.path().join("d/link")).unwrap();
    fs::create_dir(t.path().join(".agentfs-pins")).unwrap();
    t
}

fn engine(root: &Path) -> Engine {
    let lower = PathLower::open(root, vec![".agentfs-pins".into()]).unwrap();
    Engine::new(Arc::new(lower), Arc::new(HeapStore), Config::default()).unwrap()
}

#[test]
fn the_engine_reads_a_tree_through_paths() {
    let t = tree();
    let e = engine(t.path());
    let d = e.lookup(ROOT_ID, OsStr::new("d")).unwrap();
    assert_eq!(d.kind, FileKind::Directory);
    let f = e.lookup(d.ino, OsStr::new("f.txt")).unwrap();
    assert_eq!((f.kind, f.size), (FileKind::Regular, 5));
    let mut buf = [0u8; 16];
    let n = e.read(FileRef::inode(f.ino), 1, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"ello");
    let mut names = Vec::new();
    e.readdir(d.ino, 0, |x| {
        names.push(x.name.to_string_lossy().into_owned());
        true
    })
    .unwrap();
    names.sort();
    let mut want = vec![".", "..", "e", "f.txt", "g.txt"];
    if cfg!(unix) {
        want.push("link");
    }
    want.sort();
    assert_eq!(names, want);
}

#[test]
fn hardlinks_are_one_node_and_hidden_names_do_not_exist() {
    let t = tree();
    let e = engine(t.path());
    let d = e.lookup(ROOT_ID, OsStr::new("d")).unwrap();
    let f = e.lookup(d.ino, OsStr::new("f.txt")).unwrap();
    let g = e.lookup(d.ino, OsStr::new("g.txt")).unwrap();
    assert_eq!(f.ino, g.ino);
    assert_eq!(f.nlink, 2);
    assert_eq!(e.lookup(ROOT_ID, OsStr::new(".agentfs-pins")), Err(Errno::ENOENT));
    assert_eq!(e.lookup(d.ino, OsStr::new("nope")), Err(Errno::ENOENT));
}

#[cfg(unix)]
#[test]
fn symlinks_are_read_not_followed() {
    let t = tree();
    let e = engine(t.path());
    let d = e.lookup(ROOT_ID, OsStr::new("d")).unwrap();
    let l = e.lookup(d.ino, OsStr::new("link")).unwrap();
    assert_eq!(l.kind, FileKind::Symlink);
    assert_eq!(e.readlink(l.ino).unwrap(), b"f.txt");
    let lower = PathLower::open(t.path(), Vec::new()).unwrap();
    let link = LowerPath::root().child(OsStr::new("d")).child(OsStr::new("link"));
    assert!(lower.open(&link).is_err(), "a symlink is never opened as a file");
}

#[test]
fn data_and_holes_cover_the_whole_file() {
    let t = tree();
    let lower = PathLower::open(t.path(), Vec::new()).unwrap();
    let f = lower.open(&LowerPath::root().child(OsStr::new("d")).child(OsStr::new("f.txt"))).unwrap();
    assert_eq!(f.seek_data(0), Ok(0));
    assert_eq!(f.seek_hole(2), Ok(5));
    assert_eq!(f.seek_data(5), Err(Errno::ENXIO));
}
