use super::*;
use std::fs;
use std::sync::atomic::Ordering;

fn sample() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let s = t.path().join("src");
    fs::create_dir_all(s.join("a/b")).unwrap();
    fs::create_dir_all(s.join("skip/me")).unwrap();
    fs::write(s.join("a/one"), b"1").unwrap();
    fs::write(s.join("a/b/two"), vec![7u8; 70_000]).unwrap();
    fs::hard_link(s.join("a/one"), s.join("a/b/one-again")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("../one", s.join("a/b/up")).unwrap();
    t
}

#[test]
fn a_plan_lists_parents_first_and_hardlinks_once() {
    let t = sample();
    let p = plan(&t.path().join("src"), &["skip".into()]).unwrap();
    assert_eq!(p.dirs, vec![PathBuf::from("a"), PathBuf::from("a/b")]);
    let files: Vec<_> = p.files.iter().map(|f| f.rel.clone()).collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.contains(&PathBuf::from("a/b/two")));
    assert_eq!(p.links.len(), 1, "the second name of a hardlinked file is a link");
    assert_eq!(p.bytes, 70_001);
    if cfg!(unix) {
        assert_eq!(p.symlinks, vec![(PathBuf::from("a/b/up"), PathBuf::from("../one"), false)]);
    }
}

#[test]
fn executing_a_plan_reproduces_the_tree() {
    let t = sample();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    fs::set_permissions(src.join("a/one"), {
        let mut p = fs::metadata(src.join("a/one")).unwrap().permissions();
        p.set_readonly(true);
        p
    })
    .unwrap();
    let p = plan(&src, &["skip".into()]).unwrap();
    let progress = Progress::default();
    execute(&p, &src, &dst, &CopyCloner, 3, &progress).unwrap();
    assert_eq!(fs::read(dst.join("a/b/two")).unwrap(), vec![7u8; 70_000]);
    assert!(!dst.join("skip").exists());
    assert!(fs::metadata(dst.join("a/one")).unwrap().permissions().readonly());
    let mtime = |p: &Path| fs::metadata(p).unwrap().modified().unwrap();
    assert_eq!(mtime(&src.join("a/b")), mtime(&dst.join("a/b")), "directory times survive their filling");
    assert_eq!(mtime(&src.join("a/b/two")), mtime(&dst.join("a/b/two")));
    let id = |p: &Path| file_id::of(p, &fs::symlink_metadata(p).unwrap()).unwrap();
    assert_eq!(id(&dst.join("a/one")).ino, id(&dst.join("a/b/one-again")).ino);
    #[cfg(unix)]
    assert_eq!(fs::read_link(dst.join("a/b/up")).unwrap(), PathBuf::from("../one"));
    assert_eq!(progress.files.load(Ordering::Relaxed), if cfg!(unix) { 3 } else { 2 });
    assert_eq!(progress.bytes.load(Ordering::Relaxed), 70_001);
}

#[test]
fn a_failing_clone_stops_the_walk_with_the_path() {
    struct Refuse;
    impl FileCloner for Refuse {
        fn clone_file(&self, _: &Path, _: &Path, _: u64) -> io::Result<()> {
            Err(io::Error::new(io::ErrorKind::Unsupported, "no block cloning here"))
        }
    }
    let t = sample();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    let p = plan(&src, &[]).unwrap();
    let e = execute(&p, &src, &dst, &Refuse, 2, &Progress::default()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::Unsupported);
    assert!(e.to_string().contains("src"), "{e}");
}

#[test]
fn clone_ranges_are_cluster_aligned_and_under_4_gib() {
    assert!(clone_ranges(0, 4096).is_empty());
    assert!(clone_ranges(10, 3000).is_empty(), "not a power of two");
    assert_eq!(clone_ranges(1, 4096), vec![(0, 4096)]);
    assert_eq!(clone_ranges(8192, 4096), vec![(0, 8192)]);
    assert_eq!(clone_ranges(65_537, 65_536), vec![(0, 131_072)]);
    let big = (9u64 << 30) + 5;
    for cluster in [4096u64, 65_536] {
        let r = clone_ranges(big, cluster);
        let mut next = 0;
        for (off, len) in &r {
            assert_eq!(*off, next, "contiguous");
            assert_eq!(off % cluster, 0);
            assert_eq!(len % cluster, 0);
            assert!(*len <= MAX_CLONE_CALL);
            next = off + len;
        }
        assert_eq!(next, big.div_ceil(cluster) * cluster, "the whole file, rounded to a cluster");
        assert_eq!(r.len(), 3);
    }
}
