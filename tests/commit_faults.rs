//! Failures after the commit point: each operation made to fail in turn (a test-only hook),
//! undoing made to fail too, and real causes hitting a commit held at its commit point (a
//! directory made immutable, a directory swapped for a symlink to another filesystem, a full
//! filesystem). After the failed commit, and after `gc`, SRC is exactly as before or exactly as
//! after, nothing of the commit is left, and a later commit of another mount and `gc` still work.
#![cfg(unix)]

mod common;

use common::hostile::*;
use common::*;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn tree(src: &Path) {
    sh(
        src,
        "mkdir -p a/b c d
         for i in 1 2 3 4 5; do printf \"file $i\\n\" > a/f$i; done
         for i in 1 2 3; do printf \"deep $i\\n\" > a/b/g$i; done
         printf keep > c/keep && printf gone > d/gone
         head -c 1000000 /dev/zero | tr '\\0' z > big && ln -s a/f1 link",
    );
}

fn changes(m: &Path) {
    sh(
        m,
        "for i in 1 2 3 4 5; do printf \"changed $i\\n\" > a/f$i; done
         mkdir -p new/x && printf n1 > new/x/n1 && printf n2 > new/n2
         mv a/b renamed-b && rm -r d && chmod 700 c && printf tail >> big
         rm link && ln -s c/keep link && setfattr -n user.k -v v c/keep && ln a/f2 a/f2-link",
    );
}

/// A second SRC with its own mount, committed after each failure: other commits still work.
struct Other {
    src: PathBuf,
    mnt: PathBuf,
    round: usize,
}

impl Drop for Other {
    fn drop(&mut self) {
        if agentfs_mount_helper::mountinfo::mount_at(&self.mnt).is_some() {
            let _ = Command::new("umount").arg("-l").arg(&self.mnt).output();
        }
    }
}

impl Other {
    fn new(s: &Setup) -> Other {
        let base = s.f.src.parent().unwrap().join("other");
        let (src, mnt) = (base.join("src"), s.f.dir.path().join("other-mnt"));
        fs::create_dir_all(&src).unwrap();
        fs::create_dir(&mnt).unwrap();
        fs::write(src.join("x"), b"x").unwrap();
        let mut args: Vec<&OsStr> = vec![os("mount")];
        args.extend(s.f.mode.map_or(&[][..], Mode::mount_args).iter().map(os));
        args.extend(s.pin.iter().map(os));
        args.extend([src.as_os_str(), mnt.as_os_str()]);
        let out = s.f.run(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        Other { src, mnt, round: 0 }
    }

    /// A change in the other mount, committed.
    fn commit_works(&mut self, f: &Fixture, why: &str) {
        self.round += 1;
        fs::write(self.mnt.join("x"), format!("round {}", self.round)).unwrap();
        let (code, err) = commit_code(f, &self.mnt, &[]);
        assert_eq!(code, 0, "{why}: a commit of another mount: {err}");
        assert_eq!(fs::read(self.src.join("x")).unwrap(), format!("round {}", self.round).as_bytes());
    }

    fn unmount(&self, f: &Fixture) {
        let out = f.run(&[os("unmount"), self.mnt.as_os_str()]);
        assert!(out.status.success());
    }
}

fn journals(f: &Fixture) -> Vec<String> {
    let dir = f.runtime.with_file_name("state").join("commits");
    fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

/// Operation k of the commit fails, for every k: each time SRC is as before, and after gc too.
fn each_operation_fails(place: Place) {
    if !fuse_available() {
        return;
    }
    let Some(s) = place.setup(tree) else { return };
    let mut other = Other::new(&s);
    s.mount();
    changes(&s.f.mnt);
    let (before, after) = (view(&s.f.src), view(&s.f.mnt));
    let mut k = 0;
    loop {
        let n = k.to_string();
        let (code, err) = commit_code(&s.f, &s.f.mnt, &[("AGENTFS_TEST_FAIL_OP", &n)]);
        if code == 0 {
            break;
        }
        let why = format!("{}: operation {k} failing", place.name());
        assert_eq!(code, 1, "{why}: {err}");
        assert!(err.contains("injected") && err.contains("was undone"), "{why}: {err}");
        assert_same(&view(&s.f.src), &before, &format!("{why}: SRC after the failed commit"));
        assert!(journals(&s.f).is_empty(), "{why}: {:?}", journals(&s.f));
        let (code, out) = gc_code(&s.f, &[]);
        assert_eq!(code, 0, "{why}: gc: {out}");
        assert_same(&view(&s.f.src), &before, &format!("{why}: SRC after gc"));
        other.commit_works(&s.f, &why);
        k += 1;
    }
    assert!(k >= 15, "{}: only {k} operations", place.name());
    assert_same(&view(&s.f.src), &after, &format!("{}: SRC after the commit", place.name()));
    assert!(staging_left(&s.f).is_empty(), "{:?}", staging_left(&s.f));
    other.unmount(&s.f);
    s.f.unmount();
}

#[test]
fn each_operation_failing_rolls_back_pinned() {
    each_operation_fails(Place::Tmp(Mode::Pinned));
}

#[test]
fn each_operation_failing_rolls_back_btrfs() {
    each_operation_fails(Place::Loop("btrfs"));
}

#[test]
fn each_operation_failing_rolls_back_xfs() {
    each_operation_fails(Place::Loop("xfs"));
}

#[test]
fn each_operation_failing_rolls_back_ext4() {
    each_operation_fails(Place::Loop("ext4"));
}

/// A commit that can be neither finished nor rolled back: gc reports it, sets its journal
/// aside and goes on (a dead mount is still cleaned up, a damaged journal set aside); later
/// commits and gc work.
#[test]
fn a_journal_that_cannot_be_recovered_is_set_aside() {
    if !fuse_available() {
        return;
    }
    let Some(s) = Place::Tmp(Mode::Pinned).setup(tree) else { return };
    let mut other = Other::new(&s);
    s.mount();
    changes(&s.f.mnt);
    let fail = [("AGENTFS_TEST_FAIL_OP", "6"), ("AGENTFS_TEST_FAIL_UNDO", "2")];
    let (code, err) = commit_code(&s.f, &s.f.mnt, &fail);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("could not be undone") && err.contains("agentfs gc"), "{err}");
    assert_eq!(journals(&s.f).len(), 1, "the journal stays for gc");
    // A dead mount (its daemon killed) and a damaged journal wait for the same gc.
    let dead = s.f.dir.path().join("dead");
    fs::create_dir(&dead).unwrap();
    s.mount_at(&dead);
    let pid = dead_daemon_pid(&s.f, &dead);
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    assert!(wait_until(Duration::from_secs(10), || !alive(pid)));
    let jdir = s.f.runtime.with_file_name("state").join("commits");
    fs::write(jdir.join("ffff-1.journal"), b"garbage").unwrap();
    let (code, out) = gc_code(&s.f, &[("AGENTFS_TEST_FAIL_UNDO", "2")]);
    assert_eq!(code, 1, "gc reports what it could not do: {out}");
    assert!(out.contains("neither finished nor rolled back") && out.contains("set aside"), "{out}");
    assert!(out.contains(&s.f.mnt.join("a").display().to_string()), "the places involved are named: {out}");
    assert!(out.contains("damaged"), "{out}");
    assert!(out.contains(&dead.display().to_string()), "the dead mount is cleaned up too: {out}");
    let mut left = journals(&s.f);
    left.sort();
    assert!(left.iter().all(|j| j.ends_with(".stuck") || j.ends_with(".corrupt")), "{left:?}");
    // Never tried again; everything else works.
    let (code, out) = gc_code(&s.f, &[]);
    assert_eq!(code, 0, "{out}");
    other.commit_works(&s.f, "after a journal was set aside");
    // What it had moved aside is still there for a person; clean up by hand.
    let staged = staging_left(&s.f);
    assert_eq!(staged.len(), 1, "the staging directory is kept: {staged:?}");
    for p in staged {
        sh(Path::new("/"), &format!("rm -rf '{}'", p.display()));
    }
    other.unmount(&s.f);
    s.f.unmount();
}

fn dead_daemon_pid(f: &Fixture, mnt: &Path) -> u32 {
    let id = agentfs_mount_helper::runtime::mount_id(mnt);
    let rec = f.runtime.join("mounts").join(format!("{id}.rec"));
    agentfs_mount_helper::registry::decode(&fs::read(rec).unwrap()).unwrap().pid
}

/// Runs a commit held at its commit point while `sabotage` runs; returns its exit code and
/// message.
fn held_commit<T>(f: &Fixture, sabotage: impl FnOnce() -> T) -> (i32, String) {
    let hold = f.dir.path().join("hold");
    let mut c = agentfs_cmd(&f.runtime);
    c.arg("commit").arg(&f.mnt).env("AGENTFS_TEST_HOLD", &hold).stderr(std::process::Stdio::piped());
    let child = spawn_tracked(&f.runtime, &mut c);
    assert!(wait_until(Duration::from_secs(60), || hold.exists()), "the commit never reached its commit point");
    sabotage();
    fs::remove_file(&hold).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// After a failure: SRC before or after; gc works; after the fix, the commit goes through.
fn recovers(s: &Setup, other: &mut Other, what: &str, code: i32, err: &str) {
    let (before, after) = (s.f.dir.path().join("before"), view(&s.f.mnt));
    let now = view(&s.f.src);
    let was_before = now == view_of_saved(&before);
    assert!(was_before || now == after, "{what}: SRC is neither before nor after (exit {code}: {err})");
    assert!(code == 0 || was_before, "{what}: a failed commit left SRC changed: {err}");
    let (c, out) = gc_code(&s.f, &[]);
    assert_eq!(c, 0, "{what}: gc: {out}");
    assert!(journals(&s.f).is_empty(), "{what}: {:?}", journals(&s.f));
    other.commit_works(&s.f, what);
    let (c, err) = commit_code(&s.f, &s.f.mnt, &[]);
    assert_eq!(c, 0, "{what}: the commit once fixed: {err}");
    assert_same(&view(&s.f.src), &after, &format!("{what}: SRC after the commit"));
}

fn view_of_saved(saved: &Path) -> std::collections::BTreeMap<PathBuf, String> {
    view(saved)
}

/// A fresh SRC (as `tree` makes it) and a mount with `changes`, on `place`; a copy of SRC as
/// it was is kept beside as "before".
fn fresh(place: Place) -> Option<(Setup, Other)> {
    let s = place.setup(tree)?;
    sh(s.f.dir.path(), &format!("cp -a {} before", s.f.src.display()));
    let other = Other::new(&s);
    s.mount();
    changes(&s.f.mnt);
    Some((s, other))
}

fn finish(s: Setup, other: Other) {
    assert!(staging_left(&s.f).is_empty(), "{:?}", staging_left(&s.f));
    other.unmount(&s.f);
    s.f.unmount();
}

/// A directory the commit writes into is made immutable at its commit point.
#[test]
fn an_immutable_directory_after_the_commit_point() {
    if !fuse_available() {
        return;
    }
    for place in [Place::Tmp(Mode::Pinned), Place::Loop("xfs")] {
        let Some((s, mut other)) = fresh(place) else { continue };
        let a = s.f.src.join("a");
        let (code, err) = held_commit(&s.f, || sh(&a, "chattr +i ."));
        assert_eq!(code, 1, "{}: {err}", place.name());
        assert!(err.contains("was undone") && err.contains(&s.f.mnt.display().to_string()), "{err}");
        sh(&a, "chattr -i .");
        recovers(&s, &mut other, &format!("{}: chattr +i", place.name()), code, &err);
        finish(s, other);
    }
}

/// A directory the commit writes into is swapped for a symlink to another filesystem at its
/// commit point.
#[test]
fn a_symlink_to_another_filesystem_after_the_commit_point() {
    if !fuse_available() {
        return;
    }
    let Some((s, mut other)) = fresh(Place::Tmp(Mode::Pinned)) else { return };
    let elsewhere = OtherFs::new();
    decoy(elsewhere.path());
    let decoy_before = fingerprint(elsewhere.path());
    let src = s.f.src.clone();
    let target = elsewhere.path().display().to_string();
    let (code, err) = held_commit(&s.f, || sh(&src, &format!("mv a a.real && ln -s {target} a")));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("was undone"), "{err}");
    assert_same(&fingerprint(elsewhere.path()), &decoy_before, "the other filesystem");
    sh(&src, "rm a && mv a.real a");
    recovers(&s, &mut other, "a symlink to another filesystem", code, &err);
    finish(s, other);
}

/// The filesystem fills up: before the commit (staging fails: nothing is written), and at
/// the commit point (SRC ends before or after).
#[test]
fn a_full_filesystem() {
    if !fuse_available() {
        return;
    }
    let Some(lfs) = loopfs::LoopFs::new("ext4", 64) else { return };
    let place_root = lfs.root.join("p");
    fs::create_dir(&place_root).unwrap();
    let s = Setup::from_fixture(
        Fixture::with_src(&place_root.join("src"), tree),
        vec!["--pin".into(), "copy".into()],
        lfs.root.join("outside"),
    );
    sh(s.f.dir.path(), &format!("cp -a {} before", s.f.src.display()));
    let mut other = Other::new(&s);
    s.mount();
    changes(&s.f.mnt);
    let fill = |full: bool| {
        let filler = lfs.root.join("filler");
        if full {
            let _ = Command::new("dd")
                .args(["if=/dev/zero", "bs=1M", "status=none"])
                .arg(format!("of={}", filler.display()))
                .status();
            let _ = Command::new("sync").status();
        } else {
            fs::remove_file(filler).unwrap();
        }
    };
    let before = fingerprint(&s.f.src);
    fill(true);
    let (code, err) = commit_code(&s.f, &s.f.mnt, &[]);
    assert_eq!(code, 1, "{err}");
    let named = err.contains(&s.f.mnt.display().to_string()) || err.contains(".agentfs-staging");
    assert!(err.contains("No space left") && named, "{err}");
    assert_same(&fingerprint(&s.f.src), &before, "a commit that could not stage");
    assert!(staging_left(&s.f).is_empty(), "{:?}", staging_left(&s.f));
    fill(false);
    let (code, err) = held_commit(&s.f, || fill(true));
    fill(false);
    recovers(&s, &mut other, "a full filesystem at the commit point", code, &err);
    finish(s, other);
    drop(lfs);
}
