use super::*;
use agentfs_core::Timestamp;

#[test]
fn times_are_filetimes() {
    assert_eq!(info::filetime(Timestamp::new(0, 0)), 116_444_736_000_000_000);
    assert_eq!(info::filetime(Timestamp::new(-11_644_473_601, 0)), 0, "before 1601");
    let t = Timestamp::new(1_700_000_000, 123_456_700);
    assert_eq!(info::from_filetime(info::filetime(t)), Some(t));
    assert_eq!(info::from_filetime(0), None);
    assert_eq!(info::from_filetime(u64::MAX), None);
}

#[test]
fn attributes_follow_the_node_and_what_was_set() {
    let f = fixture(true);
    let a = &f.adapter;
    assert_eq!(f.open(r"\d\f.txt").unwrap().info.file_attributes, info::FILE_ATTRIBUTE_NORMAL);
    assert_ne!(f.open(r"\d\ro.txt").unwrap().info.file_attributes & info::FILE_ATTRIBUTE_READONLY, 0);
    let o = f.open(r"\d\f.txt").unwrap();
    let set = |attributes| BasicInfo { attributes, ..BasicInfo::default() };
    let i = a.set_basic_info(&o.handle, &set(info::FILE_ATTRIBUTE_HIDDEN | info::FILE_ATTRIBUTE_READONLY)).unwrap();
    assert_eq!(i.file_attributes, info::FILE_ATTRIBUTE_HIDDEN | info::FILE_ATTRIBUTE_READONLY);
    assert_eq!(a.engine().getattr(o.handle.id()).unwrap().perm & 0o222, 0, "read-only takes the write bits");
    let i = a.set_basic_info(&o.handle, &set(info::FILE_ATTRIBUTE_NORMAL)).unwrap();
    assert_eq!(i.file_attributes, info::FILE_ATTRIBUTE_NORMAL);
    assert_ne!(a.engine().getattr(o.handle.id()).unwrap().perm & 0o200, 0);
    let same = a.set_basic_info(&o.handle, &set(info::INVALID_FILE_ATTRIBUTES)).unwrap();
    assert_eq!(same.file_attributes, info::FILE_ATTRIBUTE_NORMAL, "INVALID_FILE_ATTRIBUTES leaves them");
    let when = info::filetime(Timestamp::new(1_600_000_000, 0));
    let i = a.set_basic_info(&o.handle, &BasicInfo { last_write_time: when, ..set(u32::MAX) }).unwrap();
    assert_eq!(i.last_write_time, when);
    a.cleanup(&o.handle, None, CLEANUP_SET_ARCHIVE_BIT);
    assert_ne!(a.info(&o.handle).unwrap().file_attributes & info::FILE_ATTRIBUTE_ARCHIVE, 0);
}

#[test]
fn descriptors_come_from_the_mode_unless_windows_set_one() {
    let f = fixture(true);
    let a = &f.adapter;
    let d = f.open(r"\d").unwrap();
    let attr = a.engine().getattr(d.handle.id()).unwrap();
    let sid = "S-1-5-21-1-2-3-1001";
    match a.security(&d.handle).unwrap() {
        Descriptor::Sddl(s) => assert_eq!(s, security::sddl_for(&attr, sid)),
        other => panic!("{other:?}"),
    }
    let mut dir = attr;
    dir.perm = 0o750;
    assert_eq!(
        security::sddl_for(&dir, sid),
        format!("O:{sid}G:{sid}D:P(A;;0x1f01ff;;;{sid})(A;;0x1200a9;;;BU)(A;;FA;;;SY)"),
        "owner rwx and standing rights, group r-x, others nothing"
    );
    a.set_security(&d.handle, &[1, 0, 4, 0x80]).unwrap();
    assert_eq!(a.security(&d.handle).unwrap(), Descriptor::Stored(vec![1, 0, 4, 0x80]));
    let created = a
        .create(&CreateRequest {
            path: &w(r"\d\secure.txt"),
            create_options: 0,
            granted_access: FILE_WRITE_DATA,
            file_attributes: 0,
            security: Some(vec![9, 9]),
            reparse: None,
        })
        .unwrap();
    assert_eq!(a.security(&created.handle).unwrap(), Descriptor::Stored(vec![9, 9]));
    let (attrs, _) = a.security_by_name(&w(r"\D\SECURE.TXT")).unwrap();
    assert_eq!(attrs, info::FILE_ATTRIBUTE_NORMAL);
}

#[test]
fn symlinks_are_reparse_points() {
    for target in ["sub\\deep.txt", "C:\\Windows\\x", "../up/file"] {
        let buf = reparse::symlink_buffer(target.as_bytes());
        assert_eq!(reparse::parse_symlink(&buf).unwrap(), target.replace('/', "\\").into_bytes());
    }
    assert_eq!(reparse::parse_symlink(&[1, 2, 3]).err(), Some(NtStatus::IO_REPARSE_DATA_INVALID));
    let f = fixture(true);
    let a = &f.adapter;
    let buf = reparse::symlink_buffer(b"f.txt");
    let made = a
        .create(&CreateRequest {
            path: &w(r"\d\link"),
            create_options: 0,
            granted_access: 0,
            file_attributes: 0,
            security: None,
            reparse: Some(&buf),
        })
        .unwrap();
    assert_eq!(made.info.reparse_tag, info::IO_REPARSE_TAG_SYMLINK);
    assert_ne!(made.info.file_attributes & info::FILE_ATTRIBUTE_REPARSE_POINT, 0);
    assert_eq!(a.reparse_by_name(&w(r"\d\link")).unwrap(), buf);
    assert_eq!(a.reparse_by_name(&w(r"\d\f.txt")).err(), Some(NtStatus::NOT_A_REPARSE_POINT));
    // An empty file becomes a symlink, and back.
    let o = f.create_file(r"\d\later").unwrap();
    let to_sub = reparse::symlink_buffer(b"sub");
    a.set_reparse(&o.handle, &w(r"\d\later"), &to_sub).unwrap();
    assert_eq!(a.reparse(&o.handle).unwrap(), to_sub);
    a.delete_reparse(&o.handle, &w(r"\d\later")).unwrap();
    assert_eq!(a.reparse(&o.handle).err(), Some(NtStatus::NOT_A_REPARSE_POINT));
    let full = f.open(r"\d\f.txt").unwrap();
    assert_eq!(a.set_reparse(&full.handle, &w(r"\d\f.txt"), &to_sub).err(), Some(NtStatus::IO_REPARSE_DATA_INVALID));
}

#[test]
fn the_volume_reports_the_ram_budget() {
    let f = fixture(true);
    let v = f.adapter.volume();
    assert_eq!(v.total, 4 << 30);
    assert!(v.free <= v.total);
}
