//! Semantic 3: st_ino == node id == d_ino, stable across copy-up and rename; hardlinks.

use super::*;
use crate::lower::fake::FAKE_ROOT_INO;
use crate::{Errno, RenameFlags};

fn d_ino(e: &Engine, dir: u64, name: &str) -> u64 {
    let mut found = None;
    e.readdir(dir, 0, |d| {
        if d.name == name {
            found = Some(d.ino);
        }
        true
    })
    .unwrap();
    found.unwrap()
}

#[test]
fn inode_numbers_match_everywhere_and_survive_copy_up_and_rename() {
    let (_l, e) = engine();
    let src = ino(&e, "src");
    let id = ino(&e, "src/main.rs");
    assert_eq!(d_ino(&e, src, "main.rs"), id);
    assert_eq!(e.getattr(id).unwrap().ino, id);
    write_at(&e, id, 0, b"//");
    assert_eq!(ino(&e, "src/main.rs"), id);
    e.rename(src, os("main.rs"), ROOT_ID, os("moved.rs"), RenameFlags::default()).unwrap();
    assert_eq!(ino(&e, "moved.rs"), id);
    assert_eq!(d_ino(&e, ROOT_ID, "moved.rs"), id);
    // A lower directory moved keeps its number too.
    let docs = ino(&e, "docs");
    e.rename(ROOT_ID, os("docs"), src, os("docs2"), RenameFlags::default()).unwrap();
    assert_eq!(ino(&e, "src/docs2"), docs);
}

#[test]
fn lower_objects_keep_their_lower_inode_numbers() {
    let (_l, e) = engine();
    assert_eq!(e.getattr(ROOT_ID).unwrap().ino, ROOT_ID);
    let readme = ino(&e, "README");
    assert!((100..1000).contains(&readme), "lower ino expected, got {readme}");
    assert_ne!(readme, FAKE_ROOT_INO);
}

#[test]
fn forgotten_clean_nodes_leave_memory_and_come_back_with_the_same_number() {
    let (_l, e) = engine();
    let id = ino(&e, "src/lib.rs");
    let before = e.stats().nodes;
    e.forget(id, u64::MAX);
    assert_eq!(e.stats().nodes, before - 1);
    assert_eq!(ino(&e, "src/lib.rs"), id);
    // A node holding upper state stays.
    write_at(&e, id, 0, b"x");
    e.forget(id, u64::MAX);
    assert!(e.upper_state(id).is_some());
    assert_eq!(read_all(&e, ino(&e, "src/lib.rs"))[0], b'x');
}

#[test]
fn lower_hardlinks_are_one_node_and_copy_up_reaches_every_name() {
    let (_l, e) = engine();
    let one = lookup(&e, "hl/one").unwrap();
    let two = lookup(&e, "hl/two").unwrap();
    assert_eq!(one.ino, two.ino);
    assert_eq!(one.nlink, 2);
    write_at(&e, one.ino, 0, b"SHARED");
    assert_eq!(read_all(&e, ino(&e, "hl/two")), b"SHARED");
    let hl = ino(&e, "hl");
    e.unlink(hl, os("one")).unwrap();
    let two = lookup(&e, "hl/two").unwrap();
    assert_eq!(two.nlink, 1);
    assert_eq!(read_all(&e, two.ino), b"SHARED");
}

#[test]
fn unlinking_one_lower_hardlink_before_any_lookup_keeps_the_count_right() {
    let (_l, e) = engine();
    let hl = ino(&e, "hl");
    e.unlink(hl, os("two")).unwrap();
    assert_eq!(lookup(&e, "hl/one").unwrap().nlink, 1);
    assert_eq!(lookup(&e, "hl/two").unwrap_err(), Errno::ENOENT);
}

#[test]
fn upper_hardlinks_share_data_and_count_links() {
    let (_l, e) = engine();
    let id = create_file(&e, ROOT_ID, "a", b"1");
    let l = e.link(id, ROOT_ID, os("b")).unwrap();
    assert_eq!((l.ino, l.nlink), (id, 2));
    write_at(&e, ino(&e, "b"), 1, b"2");
    assert_eq!(read_all(&e, ino(&e, "a")), b"12");
    e.unlink(ROOT_ID, os("a")).unwrap();
    assert_eq!(e.getattr(id).unwrap().nlink, 1);
    assert_eq!(e.link(ino(&e, "src"), ROOT_ID, os("d")).unwrap_err(), Errno::EPERM);
    assert_eq!(e.link(id, ROOT_ID, os("b")).unwrap_err(), Errno::EEXIST);
}

#[test]
fn accesses_update_access_times_as_the_policy_says() {
    use crate::types::{AtimePolicy, SetAttr, SetTime, Timestamp};
    let make = |atime| {
        let lower = Arc::new(sample_lower());
        Engine::new(lower, Arc::new(HeapStore), Config { atime, ..Config::default() }).unwrap()
    };
    let old = Timestamp::new(1_000_000_000, 0);
    let set_old = SetAttr { atime: Some(SetTime::At(old)), ..SetAttr::default() };
    // relatime: once after a change, then not again until the next change or a day passes.
    let e = make(AtimePolicy::Relative);
    let id = create_file(&e, ROOT_ID, "f", b"x");
    assert!(e.accessed(id), "first access after creation");
    assert!(!e.accessed(id), "atime is newer than mtime and ctime now");
    e.setattr(id, &set_old).unwrap();
    assert!(e.accessed(id), "a day-old access time is renewed");
    assert!(e.getattr(id).unwrap().atime > old);
    // noatime never, strictatime always.
    let e = make(AtimePolicy::Never);
    let id = create_file(&e, ROOT_ID, "f", b"x");
    assert!(!e.accessed(id));
    let e = make(AtimePolicy::Always);
    let id = create_file(&e, ROOT_ID, "f", b"x");
    e.setattr(id, &set_old).unwrap();
    assert!(e.accessed(id));
    std::thread::sleep(std::time::Duration::from_millis(2));
    assert!(e.accessed(id), "strictatime updates every access");
}

/// A file handle names a node by id: found again after the node left memory, ESTALE once gone.
#[test]
fn nodes_are_found_by_id_after_they_left_memory() {
    let (_l, e) = engine();
    let readme = lookup(&e, "README").unwrap().ino;
    let src = lookup(&e, "src").unwrap().ino;
    let main = lookup(&e, "src/main.rs").unwrap().ino;
    for id in [readme, main] {
        e.forget(id, 1);
        assert!(e.upper_state(id).is_none(), "a lower file nobody refers to leaves memory");
    }
    assert_eq!(e.lookup(main, os(".")).unwrap().ino, main);
    assert_eq!(e.lookup_id(readme).unwrap().ino, readme);
    assert_eq!(e.lookup(src, os("..")).unwrap().ino, ROOT_ID);
    let new = create_file(&e, ROOT_ID, "new", b"x");
    e.unlink(ROOT_ID, os("new")).unwrap();
    e.forget(new, 1);
    assert_eq!(e.lookup_id(new), Err(Errno::ESTALE));
    e.unlink(ROOT_ID, os("README")).unwrap();
    assert_eq!(e.lookup_id(readme), Err(Errno::ESTALE), "a deleted lower file is stale");
    assert_eq!(e.lookup_id(1 << 50), Err(Errno::ESTALE));
}

/// Directories without upper state leave memory with their listings once nobody refers to
/// them, a file's handle still finds it afterwards, and directories holding upper state stay.
#[test]
fn forgotten_directories_leave_memory_and_handles_still_work() {
    let (_l, e) = engine();
    let base = e.stats().nodes;
    let deep = lookup(&e, "docs/a/b/deep.txt").unwrap().ino;
    let dirs: Vec<u64> = ["docs", "docs/a", "docs/a/b"].iter().map(|p| ino(&e, p)).collect();
    assert_eq!(e.stats().nodes, base + 4);
    // The kernel forgets the file and the directories (in any order; all its references).
    e.forget(dirs[0], 100);
    e.forget(deep, 100);
    e.forget(dirs[1], 100);
    e.forget(dirs[2], 100);
    assert_eq!(e.stats().nodes, base, "nothing of docs/ stays in memory");
    assert_eq!(e.lookup_id(deep).unwrap().ino, deep, "a handle finds the file again");
    assert_eq!(read_all(&e, deep), b"deep");
    e.forget(deep, 100);
    // Upper state below a directory keeps the directory (and its listing) in memory.
    let src = ino(&e, "src");
    create_file(&e, src, "new.rs", b"new");
    e.forget(src, 100);
    assert!(e.upper_state(src).is_some());
    assert!(names(&e, src).contains(&"new.rs".to_string()));
}
