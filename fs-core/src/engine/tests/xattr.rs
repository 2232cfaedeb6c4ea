//! Extended attributes: lower values, changes, flags.

use super::*;
use crate::{Errno, XattrFlags};

#[test]
fn lower_xattrs_show_and_change_in_memory() {
    let (_l, e) = engine();
    let id = ino(&e, "README");
    assert_eq!(e.getxattr(id, os("user.note")).unwrap(), b"lower");
    assert_eq!(e.listxattr(id).unwrap(), vec![b"user.note".to_vec()]);
    e.setxattr(id, os("user.note"), b"upper", XattrFlags::default()).unwrap();
    assert_eq!(e.getxattr(id, os("user.note")).unwrap(), b"upper");
    e.removexattr(id, os("user.note")).unwrap();
    assert_eq!(e.getxattr(id, os("user.note")).unwrap_err(), Errno::ENODATA);
    assert!(e.listxattr(id).unwrap().is_empty());
    assert!(!e.upper_state(id).unwrap().data_in_upper);
}

#[test]
fn create_and_replace_flags() {
    let (_l, e) = engine();
    let id = create_file(&e, ROOT_ID, "f", b"");
    let create = XattrFlags { create: true, ..XattrFlags::default() };
    let replace = XattrFlags { replace: true, ..XattrFlags::default() };
    assert_eq!(e.setxattr(id, os("user.a"), b"1", replace).unwrap_err(), Errno::ENODATA);
    e.setxattr(id, os("user.a"), b"1", create).unwrap();
    assert_eq!(e.setxattr(id, os("user.a"), b"2", create).unwrap_err(), Errno::EEXIST);
    e.setxattr(id, os("user.a"), b"2", replace).unwrap();
    assert_eq!(e.getxattr(id, os("user.a")).unwrap(), b"2");
    assert_eq!(e.removexattr(id, os("user.b")).unwrap_err(), Errno::ENODATA);
    assert_eq!(e.setxattr(id, os(""), b"", XattrFlags::default()).unwrap_err(), Errno::ERANGE);
    assert_eq!(e.setxattr(id, os("user.big"), &vec![0u8; 70_000], XattrFlags::default()).unwrap_err(), Errno::E2BIG);
    assert_eq!(XattrFlags::from_linux(4).unwrap_err(), Errno::EINVAL);
}
