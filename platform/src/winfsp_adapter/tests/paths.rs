use super::*;

#[test]
fn paths_resolve_with_or_without_case_and_say_what_is_missing() {
    let f = fixture(true);
    let o = f.open(r"\D\F.TXT").unwrap();
    assert_eq!(o.info.file_size, 5);
    assert_eq!(String::from_utf16_lossy(&o.normalized), r"\d\f.txt", "the stored case is reported");
    assert_eq!(f.open(r"\d\nope").err(), Some(NtStatus::OBJECT_NAME_NOT_FOUND));
    assert_eq!(f.open(r"\nope\x").err(), Some(NtStatus::OBJECT_PATH_NOT_FOUND));
    assert_eq!(f.open(r"\d\f.txt\x").err(), Some(NtStatus::OBJECT_PATH_NOT_FOUND));
    assert_eq!(f.open(r"\d\a:b").err(), Some(NtStatus::OBJECT_NAME_INVALID));
    assert_eq!(f.open(r"\d\\f.txt").err(), Some(NtStatus::OBJECT_NAME_INVALID));
    let exact = fixture(false);
    assert_eq!(exact.open(r"\D\F.TXT").err(), Some(NtStatus::OBJECT_PATH_NOT_FOUND));
    assert_eq!(exact.open(r"\d\F.TXT").err(), Some(NtStatus::OBJECT_NAME_NOT_FOUND));
}

#[test]
fn the_kind_asked_for_must_match() {
    let f = fixture(true);
    let a = &f.adapter;
    assert_eq!(a.open(&w(r"\d\f.txt"), FILE_DIRECTORY_FILE, 1).err(), Some(NtStatus::NOT_A_DIRECTORY));
    assert_eq!(a.open(&w(r"\d"), FILE_NON_DIRECTORY_FILE, 1).err(), Some(NtStatus::FILE_IS_A_DIRECTORY));
    let root = a.open(&w(r"\"), FILE_DIRECTORY_FILE, 1).unwrap();
    assert_eq!(root.info.index_number, agentfs_core::ROOT_ID);
    assert_ne!(root.info.file_attributes & info::FILE_ATTRIBUTE_DIRECTORY, 0);
}

#[test]
fn handles_give_their_references_back() {
    let f = fixture(true);
    let e = f.adapter.engine();
    let round = || {
        let o = f.open(r"\d\sub\deep.txt").unwrap();
        assert_eq!(f.adapter.read_all_for_test(&o.handle), b"deep");
        let ino = o.info.index_number;
        assert!(e.upper_state(ino).is_some(), "in memory while open");
        drop(o);
        assert!(e.upper_state(ino).is_none(), "no reference left once closed");
        let _ = f.list(r"\d", None);
    };
    // Directories stay in memory once loaded (the engine keeps them); files leave.
    round();
    let before = e.stats();
    for _ in 0..3 {
        round();
    }
    let after = e.stats();
    assert_eq!(after.open_files, 0, "every engine handle was released");
    assert_eq!(after.nodes, before.nodes, "lower files nobody refers to left memory");
}

impl Adapter {
    fn read_all_for_test(&self, h: &Handle) -> Vec<u8> {
        let mut buf = vec![0u8; 64];
        let n = self.read(h, &mut buf, 0).unwrap();
        buf.truncate(n);
        buf
    }
}

#[test]
fn engine_errors_become_the_nt_status_windows_expects() {
    use agentfs_core::Errno;
    for (e, s) in [
        (Errno::ENOENT, NtStatus::OBJECT_NAME_NOT_FOUND),
        (Errno::EEXIST, NtStatus::OBJECT_NAME_COLLISION),
        (Errno::ENOTEMPTY, NtStatus::DIRECTORY_NOT_EMPTY),
        (Errno::ENOSPC, NtStatus::DISK_FULL),
        (Errno::EACCES, NtStatus::ACCESS_DENIED),
        (Errno::EISDIR, NtStatus::FILE_IS_A_DIRECTORY),
        (Errno::ENOTDIR, NtStatus::NOT_A_DIRECTORY),
        (Errno::EROFS, NtStatus::MEDIA_WRITE_PROTECTED),
        (Errno::EIO, NtStatus::IO_DEVICE_ERROR),
        (Errno::from_linux(4000), NtStatus::IO_DEVICE_ERROR),
    ] {
        assert_eq!(NtStatus::from(e), s, "{e}");
    }
    assert_eq!(NtStatus::DISK_FULL.0 as u32, 0xC000_007F);
    assert_eq!(format!("{:?}", NtStatus::END_OF_FILE), "END_OF_FILE(0xc0000011)");
}

#[test]
fn names_sort_and_compare_like_windows() {
    use std::cmp::Ordering;
    assert_eq!(names::compare(&w("a"), &w("B"), true), Ordering::Less);
    assert_eq!(names::compare(&w("a"), &w("B"), false), Ordering::Greater);
    assert!(names::same(std::ffi::OsStr::new("Über"), std::ffi::OsStr::new("üBER"), true));
    assert!(!names::same(std::ffi::OsStr::new("a"), std::ffi::OsStr::new("A"), false));
    assert_eq!(names::components(&w(r"\")).unwrap().len(), 0);
    assert_eq!(names::join(&names::components(&w(r"\a\b")).unwrap()), w(r"\a\b"));
}
