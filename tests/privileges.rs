//! Writes, truncates and chown take away set-id bits and file capabilities exactly as Linux
//! does on a local filesystem. The FUSE frontend asks the kernel to leave that to the daemon
//! (HANDLE_KILLPRIV_V2), so the daemon must get every case right: each one runs on a native
//! directory and on the mount, and the outcomes must match. These are Linux's rules.
#![cfg(target_os = "linux")]

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
    /// A FIFO owned by the unprivileged user instead of a regular file owned by root.
    fifo: bool,
    /// The file belongs to the unprivileged user (and its group).
    user_owned: bool,
}

const CASES: &[Case] = &[
    Case {
        name: "suid-write-user",
        mode: 0o4777,
        cap: false,
        cmd: "printf x >> \"$F\"",
        as_user: true,
        user_group: false,
        fifo: false,
        user_owned: false,
    },
    Case {
        name: "sgid-exec-write-user",
        mode: 0o2777,
        cap: false,
        cmd: "printf x >> \"$F\"",
        as_user: true,
        user_group: false,
        fifo: false,
        user_owned: false,
    },
    Case {
        name: "sgid-noexec-write-user",
        mode: 0o2767,
        cap: false,
        cmd: "printf x >> \"$F\"",
        as_user: true,
        user_group: false,
        fifo: false,
        user_owned: false,
    },
    Case {
        name: "sgid-noexec-write-member",
        mode: 0o2767,
        cap: false,
        cmd: "printf x >> \"$F\"",
        as_user: true,
        user_group: true,
        fifo: false,
        user_owned: false,
    },
    Case {
        name: "suid-write-root",
        mode: 0o4777,
        cap: false,
        cmd: "printf x >> \"$F\"",
        as_user: false,
        user_group: false,
        fifo: false,
        user_owned: false,
    },
    Case {
        name: "suid-truncate-user",
        mode: 0o6777,
        cap: false,
        cmd: "truncate -s 1 \"$F\"",
        as_user: true,
        user_group: false,
        fifo: false,
        user_owned: false,
    },
    Case {
        name: "suid-otrunc-user",
        mode: 0o6777,
        cap: false,
        cmd: ": > \"$F\"",
        as_user: true,
        user_group: false,
        fifo: false,
        user_owned: false,
    },
    Case {
        name: "suid-truncate-root",
        mode: 0o6777,
        cap: false,
        cmd: "truncate -s 1 \"$F\"",
        as_user: false,
        user_group: false,
        fifo: false,
        user_owned: false,
    },
    Case {
        name: "suid-chown-root",
        mode: 0o6755,
        cap: false,
        cmd: "chown 0:0 \"$F\"",
        as_user: false,
        user_group: false,
        fifo: false,
        user_owned: false,
    },
    Case {
        name: "cap-write-root",
        mode: 0o755,
        cap: true,
        cmd: "printf x >> \"$F\"",
        as_user: false,
        user_group: false,
        fifo: false,
        user_owned: false,
    },
    Case {
        name: "cap-chown-root",
        mode: 0o755,
        cap: true,
        cmd: "chown 0:0 \"$F\"",
        as_user: false,
        user_group: false,
        fifo: false,
        user_owned: false,
    },
    Case {
        name: "cap-truncate-root",
        mode: 0o755,
        cap: true,
        cmd: "truncate -s 0 \"$F\"",
        as_user: false,
        user_group: false,
        fifo: false,
        user_owned: false,
    },
    Case {
        name: "cap-chmod-root",
        mode: 0o755,
        cap: true,
        cmd: "chmod 0750 \"$F\"",
        as_user: false,
        user_group: false,
        fifo: false,
        user_owned: false,
    },
    Case {
        name: "suid-chmod-root",
        mode: 0o4755,
        cap: false,
        cmd: "chmod 4750 \"$F\"",
        as_user: false,
        user_group: false,
        fifo: false,
        user_owned: false,
    },
    // A direct write reaches the daemon, which drops the bits; the kernel must not keep showing
    // its cached mode (generic/355).
    Case {
        name: "suid-direct-write-user",
        mode: 0o6777,
        cap: false,
        cmd: "dd if=/dev/zero of=\"$F\" bs=4096 count=1 oflag=direct conv=notrunc status=none",
        as_user: true,
        user_group: false,
        fifo: false,
        user_owned: false,
    },
    Case {
        name: "suid-direct-write-owner",
        mode: 0o6744,
        cap: false,
        cmd: "dd if=/dev/zero of=\"$F\" bs=4096 count=1 oflag=direct conv=notrunc status=none",
        as_user: true,
        user_group: false,
        fifo: false,
        user_owned: true,
    },
    // fallocate, punching a hole and zeroing a range are writes too.
    Case {
        name: "suid-fallocate-user",
        mode: 0o6777,
        cap: false,
        cmd: "fallocate -l 8192 \"$F\"",
        as_user: true,
        user_group: false,
        fifo: false,
        user_owned: false,
    },
    Case {
        name: "suid-punch-user",
        mode: 0o6777,
        cap: false,
        cmd: "fallocate -p -o 0 -l 2 \"$F\"",
        as_user: true,
        user_group: false,
        fifo: false,
        user_owned: false,
    },
    Case {
        name: "suid-zero-range-user",
        mode: 0o6777,
        cap: false,
        cmd: "fallocate -z -o 0 -l 2 \"$F\"",
        as_user: true,
        user_group: false,
        fifo: false,
        user_owned: false,
    },
    Case {
        name: "suid-fallocate-root",
        mode: 0o6777,
        cap: false,
        cmd: "fallocate -l 8192 \"$F\"",
        as_user: false,
        user_group: false,
        fifo: false,
        user_owned: false,
    },
    // chown and chgrp of anything but a directory take set-id bits away (a FIFO here).
    Case {
        name: "fifo-suid-sgid-chgrp-owner",
        mode: 0o6777,
        cap: false,
        cmd: "chgrp \"$G\" \"$F\"",
        as_user: true,
        user_group: false,
        fifo: true,
        user_owned: false,
    },
    Case {
        name: "fifo-sgid-noexec-chgrp-owner",
        mode: 0o2767,
        cap: false,
        cmd: "chgrp \"$G\" \"$F\"",
        as_user: true,
        user_group: false,
        fifo: true,
        user_owned: false,
    },
    // chown(f, -1, -1) by a user who may not change the file: no write, nothing taken away
    // (the kernel sends the daemon an empty SETATTR for it, which must not pass for the one a
    // write through a lent file sends).
    Case {
        name: "suid-chown-nothing-user",
        mode: 0o4755,
        cap: false,
        cmd: "chown : \"$F\" 2>/dev/null || true",
        as_user: true,
        user_group: false,
        fifo: false,
        user_owned: false,
    },
    Case {
        name: "fifo-suid-chown-root",
        mode: 0o6755,
        cap: false,
        cmd: "chown 0:0 \"$F\"",
        as_user: false,
        user_group: false,
        fifo: true,
        user_owned: false,
    },
];

/// Runs every case in `dir`; returns "name: mode cap" lines.
fn outcomes(dir: &Path, uid: u32) -> Vec<String> {
    let mut out = Vec::new();
    for c in CASES {
        let f = dir.join(c.name);
        if c.fifo {
            rustix::fs::mknodat(rustix::fs::CWD, &f, rustix::fs::FileType::Fifo, 0o600.into(), 0).unwrap();
            std::os::unix::fs::chown(&f, Some(uid), Some(0)).unwrap();
        } else {
            fs::write(&f, b"data").unwrap();
        }
        if c.user_group {
            std::os::unix::fs::chown(&f, None, Some(uid)).unwrap();
        }
        if c.user_owned {
            std::os::unix::fs::chown(&f, Some(uid), Some(uid)).unwrap();
        }
        fs::set_permissions(&f, fs::Permissions::from_mode(c.mode)).unwrap();
        if c.cap {
            rustix::fs::setxattr(&f, "security.capability", &capability(), rustix::fs::XattrFlags::empty()).unwrap();
            assert!(has_capability(&f), "{}: capability not set", f.display());
        }
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(c.cmd).env("F", &f).env("G", uid.to_string());
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

per_mode!(writes_truncates_and_chown_drop_set_id_bits_and_capabilities_as_linux_does);

fn writes_truncates_and_chown_drop_set_id_bits_and_capabilities_as_linux_does(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let Some(uid) = tests_user() else { return };
    let f = Fixture::in_mode(mode, |_| {});
    let native = f.native_dir();
    fs::set_permissions(&native, fs::Permissions::from_mode(0o777)).unwrap();
    let want = outcomes(&native, uid);
    // The reference must show each rule at work, or the comparison proves nothing.
    assert!(want.iter().any(|l| l.starts_with("suid-write-user: 777")), "{want:?}");
    assert!(want.iter().any(|l| l.starts_with("suid-write-root: 4777")), "{want:?}");
    assert!(want.iter().any(|l| l.starts_with("sgid-noexec-write-member: 2767")), "{want:?}");
    assert!(want.iter().any(|l| l.starts_with("sgid-noexec-write-user: 767")), "{want:?}");
    assert!(want.iter().any(|l| l.starts_with("cap-write-root: 755 cap=false")), "{want:?}");
    assert!(want.iter().any(|l| l.starts_with("fifo-suid-sgid-chgrp-owner: 777")), "{want:?}");
    f.mount(&["--allow-other"]);
    fs::set_permissions(&f.mnt, fs::Permissions::from_mode(0o777)).unwrap();
    assert_eq!(outcomes(&f.mnt, uid), want, "mounted in the {mode} mode");
    f.unmount();
}
