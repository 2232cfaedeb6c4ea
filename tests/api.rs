//! The Rust API: a guard that mounts a frozen view and unmounts it when dropped.
#![cfg(unix)]

mod common;

use common::*;
use std::fs;

per_mode!(a_guard_freezes_a_directory_for_its_lifetime, a_guard_can_mount_where_asked_and_commit);

/// The guard's builder in `mode`.
fn freeze(mode: Mode, src: &std::path::Path) -> agentfs::Freeze {
    let f = agentfs::Freeze::new(src).exe(AGENTFS).io_uring(agentfs::IoUringMode::Off);
    match mode {
        Mode::Pinned => f.pin(agentfs::PinKind::Copy),
        Mode::Passthrough => f.pin(agentfs::PinKind::Copy).passthrough(),
        Mode::Live => f.pin(agentfs::PinKind::Live),
        Mode::Uring => f.pin(agentfs::PinKind::Copy).io_uring(agentfs::IoUringMode::On),
    }
}

fn a_guard_freezes_a_directory_for_its_lifetime(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::new(|src| fs::write(src.join("fixture.txt"), b"pristine").unwrap());
    let before = fingerprint(&f.src);
    let view_path;
    {
        let frozen = freeze(mode, &f.src).size(64 << 20).mount().unwrap();
        view_path = frozen.path().to_path_buf();
        assert_eq!(fs::read(view_path.join("fixture.txt")).unwrap(), b"pristine");
        fs::write(view_path.join("fixture.txt"), b"changed by the test").unwrap();
        fs::write(view_path.join("new.txt"), b"new").unwrap();
        let changes = frozen.diff().unwrap();
        let names: Vec<(String, &str)> =
            changes.iter().map(|c| (c.path.display().to_string(), c.verdict.name())).collect();
        assert!(names.contains(&("fixture.txt".into(), "modified")), "{names:?}");
        assert!(names.contains(&("new.txt".into(), "added")), "{names:?}");
    }
    assert!(!view_path.exists(), "the temporary mount point goes with the guard");
    assert_eq!(fingerprint(&f.src), before, "the source never changed");
    let table = String::from_utf8_lossy(&fs::read("/proc/self/mountinfo").unwrap()).into_owned();
    assert!(!table.contains(view_path.to_str().unwrap()));
}

fn a_guard_can_mount_where_asked_and_commit(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::new(|src| fs::write(src.join("a"), b"1").unwrap());
    let frozen = freeze(mode, &f.src).at(&f.mnt).mount().unwrap();
    assert_eq!(frozen.path(), f.mnt);
    fs::write(f.mnt.join("a"), b"2").unwrap();
    if mode.pinned() {
        frozen.commit().unwrap();
        assert_eq!(fs::read(f.src.join("a")).unwrap(), b"2");
    } else {
        // A live mount stands on SRC itself: nothing to commit into, and it says so.
        assert!(frozen.commit().is_err());
        assert_eq!(fs::read(f.src.join("a")).unwrap(), b"1");
    }
    frozen.unmount().unwrap();
    assert!(!f.is_mounted());
}
