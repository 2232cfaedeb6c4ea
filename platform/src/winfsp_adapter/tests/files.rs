use super::*;

#[test]
fn files_are_created_written_and_read() {
    let f = fixture(true);
    let o = f.create_file(r"\d\new.txt").unwrap();
    let a = &f.adapter;
    let (n, info) = a.write(&o.handle, b"hello", 0, false, false).unwrap();
    assert_eq!((n, info.file_size), (5, 5));
    let (_, info) = a.write(&o.handle, b"!", 0, true, false).unwrap();
    assert_eq!(info.file_size, 6, "write to end appends");
    // Paging I/O never extends the file.
    let (n, info) = a.write(&o.handle, b"xyz", 5, false, true).unwrap();
    assert_eq!((n, info.file_size), (1, 6));
    let mut buf = [0u8; 16];
    assert_eq!(a.read(&o.handle, &mut buf, 0).unwrap(), 6);
    assert_eq!(&buf[..6], b"hellox");
    assert_eq!(a.read(&o.handle, &mut buf, 6).err(), Some(NtStatus::END_OF_FILE));
    assert_eq!(f.create_file(r"\D\NEW.TXT").err(), Some(NtStatus::OBJECT_NAME_COLLISION));
    assert_eq!(f.create_file(r"\nope\new.txt").err(), Some(NtStatus::OBJECT_PATH_NOT_FOUND));
    assert_eq!(f.create_file(r"\d\f.txt\x").err(), Some(NtStatus::OBJECT_PATH_NOT_FOUND));
    let d = f.mkdir(r"\d\made").unwrap();
    assert_ne!(d.info.file_attributes & info::FILE_ATTRIBUTE_DIRECTORY, 0);
}

#[test]
fn overwrite_empties_and_sets_attributes() {
    let f = fixture(true);
    let o = f.open(r"\d\f.txt").unwrap();
    let info = f.adapter.overwrite(&o.handle, info::FILE_ATTRIBUTE_HIDDEN, true).unwrap();
    assert_eq!(info.file_size, 0);
    assert_ne!(info.file_attributes & info::FILE_ATTRIBUTE_HIDDEN, 0);
    let size = f.adapter.set_file_size(&o.handle, 100, false).unwrap().file_size;
    assert_eq!(size, 100);
    assert_eq!(f.adapter.set_file_size(&o.handle, 200, true).unwrap().file_size, 100, "allocation never grows");
    assert_eq!(f.adapter.set_file_size(&o.handle, 10, true).unwrap().file_size, 10, "but shrinks");
}

#[test]
fn delete_on_close_follows_ntfs_rules() {
    let f = fixture(true);
    let a = &f.adapter;
    let d = f.open(r"\d").unwrap();
    assert_eq!(a.set_delete(&d.handle, true).err(), Some(NtStatus::DIRECTORY_NOT_EMPTY));
    let ro = f.open(r"\d\ro.txt").unwrap();
    assert_eq!(a.set_delete(&ro.handle, true).err(), Some(NtStatus::CANNOT_DELETE));
    let root = f.open(r"\").unwrap();
    assert_eq!(a.set_delete(&root.handle, true).err(), Some(NtStatus::ACCESS_DENIED));
    let o = f.open(r"\d\f.txt").unwrap();
    a.set_delete(&o.handle, true).unwrap();
    a.cleanup(&o.handle, Some(&w(r"\D\F.txt")), CLEANUP_DELETE);
    assert_eq!(f.open(r"\d\f.txt").err(), Some(NtStatus::OBJECT_NAME_NOT_FOUND));
    let mut buf = [0u8; 8];
    assert_eq!(a.read(&o.handle, &mut buf, 0).unwrap(), 5, "an open handle still reads a deleted file");
    let e = f.open(r"\empty").unwrap();
    a.set_delete(&e.handle, true).unwrap();
    a.cleanup(&e.handle, Some(&w(r"\empty")), CLEANUP_DELETE);
    assert!(!f.list(r"\", None).contains(&"empty".to_string()));
}

#[test]
fn a_name_taken_by_another_object_is_not_deleted() {
    let f = fixture(true);
    let a = &f.adapter;
    let o = f.open(r"\d\f.txt").unwrap();
    a.rename(&o.handle, &w(r"\d\f.txt"), &w(r"\d\g.txt"), false).unwrap();
    drop(f.create_file(r"\d\f.txt").unwrap());
    // A stale name reaches cleanup: the new f.txt is not the handle's object.
    a.cleanup(&o.handle, Some(&w(r"\d\f.txt")), CLEANUP_DELETE);
    assert!(f.open(r"\d\f.txt").is_ok());
}

#[test]
fn rename_replaces_only_when_asked_and_never_a_directory() {
    let f = fixture(true);
    let a = &f.adapter;
    let src = f.open(r"\d\f.txt").unwrap();
    drop(f.create_file(r"\d\other.txt").unwrap());
    let (from, to) = (w(r"\d\f.txt"), w(r"\d\other.txt"));
    assert_eq!(a.rename(&src.handle, &from, &to, false).err(), Some(NtStatus::OBJECT_NAME_COLLISION));
    assert_eq!(a.rename(&src.handle, &from, &w(r"\d\sub"), true).err(), Some(NtStatus::ACCESS_DENIED));
    a.rename(&src.handle, &from, &w(r"\d\OTHER.TXT"), true).unwrap();
    let names = f.list(r"\d", None);
    assert!(names.contains(&"OTHER.TXT".to_string()) && !names.contains(&"other.txt".to_string()), "{names:?}");
    assert!(!names.contains(&"f.txt".to_string()));
    assert_eq!(f.read_all(r"\d\other.txt"), b"hello");
    // A rename that only changes case.
    let sub = f.open(r"\d\sub").unwrap();
    a.rename(&sub.handle, &w(r"\d\sub"), &w(r"\d\SUB"), false).unwrap();
    let names = f.list(r"\d", None);
    assert!(names.contains(&"SUB".to_string()) && !names.contains(&"sub".to_string()), "{names:?}");
    assert_eq!(f.read_all(r"\d\sub\deep.txt"), b"deep");
    // Into another directory.
    a.rename(&sub.handle, &w(r"\d\SUB"), &w(r"\empty\moved"), false).unwrap();
    assert_eq!(f.read_all(r"\empty\moved\deep.txt"), b"deep");
    assert_eq!(a.rename(&sub.handle, &w(r"\nope"), &w(r"\x"), false).err(), Some(NtStatus::OBJECT_NAME_NOT_FOUND));
}
