//! Semantic 8: the RAM budget.

use super::*;
use crate::Errno;
use crate::budget::NODE_COST;
use crate::lower::fake::FakeLower;
use crate::types::FileRef;

#[test]
fn writes_past_the_budget_fail_with_enospc_and_memory_comes_back() {
    let (_l, e) = engine_with(FakeLower::new(), 1 << 20);
    let st = e.statfs();
    assert_eq!((st.budget_bytes, st.blocks * u64::from(st.bsize)), (1 << 20, 1 << 20));
    let id = create_file(&e, ROOT_ID, "big", &vec![1u8; 600_000]);
    let fh = e.open(id, OpenFlags::WRONLY).unwrap();
    assert_eq!(e.write(FileRef::handle(fh), 600_000, &vec![2u8; 600_000]).unwrap_err(), Errno::ENOSPC);
    assert_eq!(e.getattr(id).unwrap().size, 600_000);
    // An overwrite in place still fits.
    e.write(FileRef::handle(fh), 0, &vec![3u8; 100_000]).unwrap();
    let used = e.statfs().used_bytes;
    assert!((600_000..700_000).contains(&used), "used {used}");
    assert!(e.statfs().bfree < (1 << 20) / 4096 - 140);
    // Unlinked but open: memory stays until the last close, which frees the data even while
    // the kernel still holds the node.
    e.unlink(ROOT_ID, os("big")).unwrap();
    assert!(e.statfs().used_bytes >= 600_000);
    e.release(fh).unwrap();
    assert_eq!(e.statfs().used_bytes, NODE_COST);
    e.forget(id, u64::MAX);
    assert_eq!(e.statfs().used_bytes, 0);
    // And the space can be used again.
    create_file(&e, ROOT_ID, "again", &vec![1u8; 900_000]);
}

#[test]
fn copy_up_past_the_budget_fails_cleanly() {
    let mut l = FakeLower::new();
    l.file("large", &vec![5u8; 300_000]);
    let (_l, e) = engine_with(l, 200_000);
    let id = ino(&e, "large");
    let fh = e.open(id, OpenFlags::RDWR).unwrap();
    assert_eq!(e.write(FileRef::handle(fh), 0, b"x").unwrap_err(), Errno::ENOSPC);
    assert!(!e.upper_state(id).unwrap().data_in_upper);
    assert_eq!(e.statfs().used_bytes, 0);
    let mut buf = [0u8; 3];
    e.read(FileRef::handle(fh), 0, &mut buf).unwrap();
    assert_eq!(buf, [5, 5, 5]);
    e.release(fh).unwrap();
}

#[test]
fn created_objects_are_charged_until_they_are_gone() {
    let (_l, e) = engine_with(FakeLower::new(), 10 * NODE_COST);
    for i in 0..10 {
        let d = e.mkdir(ROOT_ID, os(&format!("d{i}")), 0o755, &ME).unwrap();
        e.forget(d.ino, 1);
    }
    assert_eq!(e.mkdir(ROOT_ID, os("one-too-many"), 0o755, &ME).unwrap_err(), Errno::ENOSPC);
    e.rmdir(ROOT_ID, os("d0")).unwrap();
    let d0 = e.mkdir(ROOT_ID, os("d0"), 0o755, &ME).unwrap();
    // Still referenced by the caller: removing it does not give the space back yet.
    e.rmdir(ROOT_ID, os("d0")).unwrap();
    assert_eq!(e.mkdir(ROOT_ID, os("d0"), 0o755, &ME).unwrap_err(), Errno::ENOSPC);
    e.forget(d0.ino, 1);
    e.mkdir(ROOT_ID, os("d0"), 0o755, &ME).unwrap();
    assert_eq!(names(&e, ROOT_ID).len(), 10);
}

#[test]
fn xattrs_are_charged() {
    let (_l, e) = engine_with(FakeLower::new(), NODE_COST + 1000);
    let id = create_file(&e, ROOT_ID, "f", b"");
    e.setxattr(id, os("user.a"), &[0u8; 900], crate::XattrFlags::default()).unwrap();
    assert_eq!(e.setxattr(id, os("user.b"), &[0u8; 200], crate::XattrFlags::default()).unwrap_err(), Errno::ENOSPC);
    e.removexattr(id, os("user.a")).unwrap();
    assert_eq!(e.statfs().used_bytes, NODE_COST);
}

#[test]
fn many_small_files_fit_and_deleting_them_returns_everything() {
    let (_l, e) = engine_with(FakeLower::new(), 64 << 20);
    let d = e.mkdir(ROOT_ID, os("many"), 0o755, &ME).unwrap().ino;
    let mut ids = Vec::new();
    for i in 0..2000 {
        ids.push(create_file(&e, d, &format!("f{i}"), b"0123456789"));
    }
    assert_eq!(e.statfs().used_bytes, NODE_COST * 2001 + 20_000);
    for (i, id) in ids.into_iter().enumerate() {
        e.unlink(d, os(&format!("f{i}"))).unwrap();
        e.forget(id, 1);
    }
    e.rmdir(ROOT_ID, os("many")).unwrap();
    e.forget(d, 1);
    assert_eq!(e.statfs().used_bytes, 0);
    assert_eq!(e.stats().nodes, 1);
}
