//! Writes, truncates and chown take away set-id bits and file capabilities exactly as Linux
//! does on a local filesystem. The FUSE frontend asks the kernel to leave that to the daemon
//! (HANDLE_KILLPRIV_V2), so the daemon must get every case right: each one runs on a native
//! directory and on the mount, and the outcomes must match.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

/// security.capability granting cap_net_raw, effective (VFS_CAP_REVISION_2).
fn capability() -> Vec<u8> {
    let mut v = Vec::new();
    for word in [0x0200_0001u32, 1 << 13, 0, 0, 0] {
        v.extend_from_slice(&word.to_le_bytes());
    }
    v
}

fn has_capability(p: &Path) -> bool {
    let mut buf = [0u8; 64];
    rustix::fs::getxattr(p, "security.capability", &mut buf).is_ok()
}

/// One case: a file's mode, whether it carries a capability, and what is done to it.
struct Case {
    name: &'static str,
    mode: u32,
    cap: bool,
    /// Shell command run on the file ("$F"), and whether as the unprivileged user.
    cmd: &'static str,
    as_user: bool,
    /// The file belongs to the unprivileged user's group (else to root's).
    user_group: bool,
}

const CASES: &[Case] = &[
    Case {
        name: "suid-write-user",
        mode: 0o4777,
        cap: false,
        cmd: "printf x >> \"$F\"",
        as_user: true,
        user_group: false,
    },
    Case {
        name: "sgid-exec-write-user",
        mode: 0o2777,
        cap: false,
        cmd: "printf x >> \"$F\"",
        as_user: true,
        user_group: false,
    },
    Case {
        name: "sgid-noexec-write-user",
        mode: 0o2767,
        cap: false,
        cmd: "printf x >> \"$F\"",
        as_user: true,
        user_group: false,
    },
    Case {
        name: "sgid-noexec-write-member",
        mode: 0o2767,
        cap: false,
        cmd: "printf x >> \"$F\"",
        as_user: true,
        user_group: true,
    },
    Case {
        name: "suid-write-root",
        mode: 0o4777,
        cap: false,
        cmd: "printf x >> \"$F\"",
        as_user: false,
        user_group: false,
    },
    Case {
        name: "suid-truncate-user",
        mode: 0o6777,
        cap: false,
        cmd: "truncate -s 1 \"$F\"",
        as_user: true,
        user_group: false,
    },
    Case { name: "suid-otrunc-user", mode: 0o6777, cap: false, cmd: ": > \"$F\"", as_user: true, user_group: false },
    Case {
        name: "suid-truncate-root",
        mode: 0o6777,
        cap: false,
        cmd: "truncate -s 1 \"$F\"",
        as_user: false,
        user_group: false,
    },
    Case {
        name: "suid-chown-root",
        mode: 0o6755,
        cap: false,
        cmd: "chown 0:0 \"$F\"",
        as_user: false,
        user_group: false,
    },
    Case {
        name: "cap-write-root",
        mode: 0o755,
        cap: true,
        cmd: "printf x >> \"$F\"",
        as_user: false,
        user_group: false,
    },
    Case { name: "cap-chown-root", mode: 0o755, cap: true, cmd: "chown 0:0 \"$F\"", as_user: false, user_group: false },
    Case {
        name: "cap-truncate-root",
        mode: 0o755,
        cap: true,
        cmd: "truncate -s 0 \"$F\"",
        as_user: false,
        user_group: false,
    },
    Case {
        name: "cap-chmod-root",
        mode: 0o755,
        cap: true,
        cmd: "chmod 0750 \"$F\"",
        as_user: false,
        user_group: false,
    },
    Case {
        name: "suid-chmod-root",
        mode: 0o4755,
        cap: false,
        cmd: "chmod 4750 \"$F\"",
        as_user: false,
        user_group: false,
    },
];

/// Runs every case in `dir`; returns "name: mode cap" lines.
fn outcomes(dir: &Path, uid: u32) -> Vec<String> {
    let mut out = Vec::new();
    for c in CASES {
        let f = dir.join(c.name);
        fs::write(&f, b"data").unwrap();
        if c.user_group {
            std::os::unix::fs::chown(&f, None, Some(uid)).unwrap();
        }
        fs::set_permissions(&f, fs::Permissions::from_mode(c.mode)).unwrap();
        if c.cap {
            rustix::fs::setxattr(&f, "security.capability", &capability(), rustix::fs::XattrFlags::empty()).unwrap();
            assert!(has_capability(&f), "{}: capability not set", f.display());
        }
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(c.cmd).env("F", &f);
        if c.as_user {
            use std::os::unix::process::CommandExt;
            cmd.uid(uid).gid(uid);
        }
        let res = cmd.output().unwrap();
        assert!(res.status.success(), "{} in {}: {}", c.name, dir.display(), String::from_utf8_lossy(&res.stderr));
        let md = fs::metadata(&f).unwrap();
        out.push(format!("{}: {:o} cap={}", c.name, md.mode() & 0o7777, has_capability(&f)));
    }
    out
}

#[test]
fn writes_truncates_and_chown_drop_set_id_bits_and_capabilities_as_linux_does() {
    if !fuse_available() {
        return;
    }
    let Some(uid) = user_id("tests") else {
        eprintln!("skipping: no 'tests' user (scripts/test creates it)");
        return;
    };
    let f = Fixture::new(|_| {});
    fs::set_permissions(f.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let native = f.dir.path().join("native");
    fs::create_dir(&native).unwrap();
    fs::set_permissions(&native, fs::Permissions::from_mode(0o777)).unwrap();
    let want = outcomes(&native, uid);
    // The reference must show each rule at work, or the comparison proves nothing.
    assert!(want.iter().any(|l| l.starts_with("suid-write-user: 777")), "{want:?}");
    assert!(want.iter().any(|l| l.starts_with("suid-write-root: 4777")), "{want:?}");
    assert!(want.iter().any(|l| l.starts_with("sgid-noexec-write-member: 2767")), "{want:?}");
    assert!(want.iter().any(|l| l.starts_with("sgid-noexec-write-user: 767")), "{want:?}");
    assert!(want.iter().any(|l| l.starts_with("cap-write-root: 755 cap=false")), "{want:?}");
    for mode in [&["--allow-other"][..], &["--allow-other", "--passthrough"]] {
        f.mount(mode);
        fs::set_permissions(&f.mnt, fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(outcomes(&f.mnt, uid), want, "mounted with {mode:?}");
        f.unmount();
    }
}
