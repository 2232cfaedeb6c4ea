//! POSIX ACLs, in every I/O mode, compared with a native directory: setfacl and getfacl,
//! the mode following an access ACL and chmod changing it, inheritance of default ACLs by new
//! files and directories (which replaces the umask), ACLs equivalent to a mode not stored, and
//! the kernel enforcing them for another user, and the set-group-id bit an owner outside the
//! file's group loses by setting an ACL (generic/375).
#![cfg(unix)]

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

per_mode!(acls_behave_as_on_a_native_filesystem, setting_an_acl_outside_the_group_drops_set_group_id);

/// Runs the same ACL script in `dir`; returns modes and getfacl output.
fn outcomes(dir: &Path, user: &str) -> String {
    let script = format!(
        "umask 022; rm -rf a; mkdir a; cd a
         touch f f2 plain; mkdir d plaindir
         setfacl -m u:{user}:rw f && chmod 640 f
         setfacl -m u::rw,g::r,o::r f2
         setfacl -d -m u:{user}:rwx,g::rx d
         touch d/x; mkdir d/y; printf data > d/z; ln -s f sl
         setfacl -m u:{user}:r plain && setfacl -b plain
         stat -c '%n %a' f f2 plain plaindir d d/x d/y d/z
         getfacl -p f f2 plain d d/x d/y 2>&1 | grep -v '^#'"
    );
    sh(dir, &script)
}

/// Whether `user` can read `path`.
fn can_read(path: &Path, uid: u32) -> bool {
    use std::os::unix::process::CommandExt;
    Command::new("cat").arg(path).uid(uid).gid(uid).output().unwrap().status.success()
}

fn acls_behave_as_on_a_native_filesystem(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let Some(uid) = tests_user() else { return };
    let f = Fixture::in_mode(mode, |_| {});
    let native = f.native_dir();
    let want = outcomes(&native, "tests");
    assert!(want.contains("user:tests:rw-") && want.contains("default:user:tests:rwx"), "{want}");
    f.mount(&["--allow-other"]);
    assert_eq!(outcomes(&f.mnt, "tests"), want, "in the {mode} mode");
    // The kernel enforces what the ACL says for another user.
    let secret = f.mnt.join("secret");
    fs::write(&secret, b"s").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(&f.mnt, fs::Permissions::from_mode(0o755)).unwrap();
    assert!(!can_read(&secret, uid));
    sh(&f.mnt, "setfacl -m u:tests:r secret");
    assert!(can_read(&secret, uid), "an ACL entry grants access");
    sh(&f.mnt, "chmod 600 secret");
    assert!(!can_read(&secret, uid), "chmod lowered the mask");
    f.unmount();
}

/// The owner `uid` sets an access ACL on a set-group-id file of another group (drops the bit,
/// as chmod would) and on one of its own group (keeps it); returns the modes after.
fn sgid_after_setfacl(dir: &Path, uid: u32) -> String {
    use std::os::unix::process::CommandExt;
    sh(
        dir,
        &format!(
            "rm -rf s; mkdir s; cd s; touch other own; chown {uid}:0 other; chown {uid}:{uid} own; chmod 2775 other own"
        ),
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg("setfacl -m u:0:r other && setfacl -m u:0:r own && stat -c '%n %a' other own")
        .current_dir(dir.join("s"))
        .uid(uid)
        .gid(uid)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn setting_an_acl_outside_the_group_drops_set_group_id(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let Some(uid) = tests_user() else { return };
    let f = Fixture::in_mode(mode, |_| {});
    let native = f.native_dir();
    let want = sgid_after_setfacl(&native, uid);
    assert_eq!(want, "other 775\nown 2775\n");
    f.mount(&["--allow-other"]);
    fs::set_permissions(&f.mnt, fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(sgid_after_setfacl(&f.mnt, uid), want, "in the {mode} mode");
    f.unmount();
}
