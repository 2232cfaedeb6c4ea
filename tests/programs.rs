//! Real programs on the mount, in every I/O mode: git, sqlite (WAL), tar, rm -rf, python mmap,
//! flock/fcntl, cp -a, find. SRC must come out untouched every time. (Programs that sync what
//! they write are in sync_programs.rs.)
#![cfg(unix)]

mod common;

use common::*;
use std::fs;
use std::path::Path;

fn mounted(mode: Mode, populate: impl FnOnce(&Path)) -> Option<Fixture> {
    if !fuse_available() {
        return None;
    }
    let f = Fixture::in_mode(mode, populate);
    f.mount(&[]);
    Some(f)
}

fn finish(f: Fixture, before: std::collections::BTreeMap<std::path::PathBuf, String>) {
    let pid = f.daemon_pid();
    f.unmount();
    f.assert_gone(pid);
    assert_eq!(fingerprint(&f.src), before, "SRC changed");
}

per_mode!(
    git_works_on_a_repository_in_the_lower_layer,
    sqlite_in_wal_mode_with_a_concurrent_reader,
    tar_extracts_thousands_of_files_and_rm_rf_removes_a_lower_tree,
    python_mmap_writes_reach_readers,
    flock_and_fcntl_locks_exclude_other_processes,
    cp_a_in_and_out_and_find,
);

const GIT: &str = "git -c user.name=t -c user.email=t@e -c init.defaultBranch=main -c advice.detachedHead=false";

fn git_works_on_a_repository_in_the_lower_layer(mode: Mode) {
    let Some(f) = mounted(mode, |src| {
        fs::create_dir_all(src.join("repo/src")).unwrap();
        for i in 0..50 {
            fs::write(src.join(format!("repo/src/f{i}.txt")), format!("line {i}\n")).unwrap();
        }
        sh(&src.join("repo"), &format!("{GIT} init -q && {GIT} add -A && {GIT} commit -qm initial"));
    }) else {
        return;
    };
    let before = fingerprint(&f.src);
    let repo = f.mnt.join("repo");
    assert_eq!(sh(&repo, &format!("{GIT} status --porcelain")), "");
    fs::write(repo.join("src/f1.txt"), "changed\n").unwrap();
    fs::write(repo.join("new.txt"), "new\n").unwrap();
    fs::remove_file(repo.join("src/f2.txt")).unwrap();
    let status = sh(&repo, &format!("{GIT} status --porcelain"));
    assert!(
        status.contains(" M src/f1.txt") && status.contains("?? new.txt") && status.contains(" D src/f2.txt"),
        "{status}"
    );
    sh(
        &repo,
        &format!("{GIT} add -A && {GIT} commit -qm second && {GIT} checkout -q -b topic && {GIT} checkout -q main~1"),
    );
    assert_eq!(fs::read_to_string(repo.join("src/f1.txt")).unwrap(), "line 1\n");
    assert!(!repo.join("new.txt").exists());
    sh(&repo, &format!("{GIT} checkout -q topic && {GIT} fsck --no-progress && {GIT} gc -q"));
    assert_eq!(sh(&repo, &format!("{GIT} log --format=%s")), "second\ninitial\n");
    assert_eq!(sh(&repo, &format!("{GIT} status --porcelain")), "");
    finish(f, before);
}

fn sqlite_in_wal_mode_with_a_concurrent_reader(mode: Mode) {
    let Some(f) = mounted(mode, |src| fs::create_dir(src.join("db")).unwrap()) else {
        return;
    };
    let before = fingerprint(&f.src);
    let db = f.mnt.join("db/test.sqlite");
    let script = format!(
        r#"
import sqlite3, subprocess, sys
db = "{db}"
con = sqlite3.connect(db)
assert con.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
con.commit()
reader = subprocess.Popen([sys.executable, "-c", '''
import sqlite3, time
con = sqlite3.connect("{db}")
seen = 0
for _ in range(2000):
    n = con.execute("SELECT count(*) FROM t").fetchone()[0]
    assert n >= seen, (n, seen)
    seen = n
    if n == 1000: break
    time.sleep(0.001)
print(seen)
'''], stdout=subprocess.PIPE, text=True)
for i in range(1000):
    con.execute("INSERT INTO t (v) VALUES (?)", ("row %d" % i,))
    con.commit()
out, _ = reader.communicate(timeout=120)
assert reader.returncode == 0
assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 1000
assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
con.close()
print("reader saw", out.strip())
"#,
        db = db.display()
    );
    let out = sh(&f.mnt, &format!("python3 - <<'PY'\n{script}\nPY"));
    assert!(out.contains("reader saw"), "{out}");
    finish(f, before);
}

fn tar_extracts_thousands_of_files_and_rm_rf_removes_a_lower_tree(mode: Mode) {
    let Some(f) = mounted(mode, |src| {
        for d in 0..40 {
            let dir = src.join(format!("tree/d{d}"));
            fs::create_dir_all(&dir).unwrap();
            for i in 0..50 {
                fs::write(dir.join(format!("f{i}")), format!("{d}/{i}")).unwrap();
            }
        }
    }) else {
        return;
    };
    let before = fingerprint(&f.src);
    // An archive of 3000 files made outside the mount.
    let staging = f.dir.path().join("staging");
    for d in 0..30 {
        let dir = staging.join(format!("pkg/d{d}"));
        fs::create_dir_all(&dir).unwrap();
        for i in 0..100 {
            fs::write(dir.join(format!("file{i}.txt")), format!("content {d} {i}\n").repeat(i % 7 + 1)).unwrap();
        }
    }
    let tarball = f.dir.path().join("pkg.tar");
    sh(&staging, &format!("tar cf {} pkg", tarball.display()));
    sh(&f.mnt, &format!("tar xf {}", tarball.display()));
    sh(&f.mnt, &format!("diff -r {} pkg", staging.join("pkg").display()));
    assert_eq!(sh(&f.mnt, "find pkg -type f | wc -l").trim(), "3000");
    // rm -rf of 2000 lower files.
    sh(&f.mnt, "rm -rf tree");
    assert!(!f.mnt.join("tree").exists());
    assert_eq!(sh(&f.mnt, "ls -A | sort | tr '\\n' ' '"), "pkg ");
    finish(f, before);
}

fn python_mmap_writes_reach_readers(mode: Mode) {
    let Some(f) = mounted(mode, |src| fs::write(src.join("lower.bin"), vec![b'.'; 3 * 4096]).unwrap()) else {
        return;
    };
    let before = fingerprint(&f.src);
    let script = r#"
import mmap, os
for name in ("lower.bin", "upper.bin"):
    if name == "upper.bin":
        with open(name, "wb") as f:
            f.write(b"." * 3 * 4096)
    with open(name, "r+b") as f:
        m = mmap.mmap(f.fileno(), 0)
        m[4096:4101] = b"hello"
        m.flush()
        m.close()
    with open(name, "rb") as f:
        data = f.read()
    assert data[4096:4101] == b"hello", name
    assert data[:4096] == b"." * 4096
    # A reader mapping the file sees the same bytes.
    with open(name, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
        assert m[4096:4101] == b"hello"
        m.close()
print("ok")
"#;
    assert_eq!(sh(&f.mnt, &format!("python3 - <<'PY'\n{script}\nPY")).trim(), "ok");
    finish(f, before);
}

fn flock_and_fcntl_locks_exclude_other_processes(mode: Mode) {
    let Some(f) = mounted(mode, |src| fs::write(src.join("lockfile"), b"x").unwrap()) else {
        return;
    };
    let before = fingerprint(&f.src);
    let script = r#"
import fcntl, subprocess, sys, os
probe = '''
import fcntl, sys
kind = sys.argv[1]
f = open("lockfile", "r+")
try:
    if kind == "flock":
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("got")
except BlockingIOError:
    print("blocked")
'''
def other(kind):
    return subprocess.run([sys.executable, "-c", probe, kind], capture_output=True, text=True).stdout.strip()
for kind in ("flock", "fcntl"):
    f = open("lockfile", "r+")
    if kind == "flock":
        fcntl.flock(f, fcntl.LOCK_EX)
    else:
        fcntl.lockf(f, fcntl.LOCK_EX)
    assert other(kind) == "blocked", kind
    f.close()
    assert other(kind) == "got", kind
print("ok")
"#;
    assert_eq!(sh(&f.mnt, &format!("python3 - <<'PY'\n{script}\nPY")).trim(), "ok");
    finish(f, before);
}

fn cp_a_in_and_out_and_find(mode: Mode) {
    let Some(f) = mounted(mode, |src| {
        fs::create_dir_all(src.join("data/sub")).unwrap();
        fs::write(src.join("data/sub/a"), b"a").unwrap();
        std::os::unix::fs::symlink("sub/a", src.join("data/link")).unwrap();
    }) else {
        return;
    };
    let before = fingerprint(&f.src);
    // In: a tree with modes, times, symlinks and hardlinks.
    let outside = f.dir.path().join("outside");
    fs::create_dir_all(outside.join("x/y")).unwrap();
    fs::write(outside.join("x/y/file"), b"payload").unwrap();
    fs::hard_link(outside.join("x/y/file"), outside.join("x/hard")).unwrap();
    std::os::unix::fs::symlink("y/file", outside.join("x/sym")).unwrap();
    sh(&outside, "chmod 640 x/y/file && touch -d '2001-02-03 04:05:06' x/y/file x/sym -h && chmod 750 x/y");
    sh(&f.mnt, &format!("cp -a {} in", outside.join("x").display()));
    sh(&f.mnt, &format!("diff -r --no-dereference {} in", outside.join("x").display()));
    let stat = |p: &Path| sh(p, "stat -c '%a %Y %h %N' y/file y sym hard | sort");
    assert_eq!(stat(&f.mnt.join("in")), stat(&outside.join("x")));
    // Out: a lower tree with an upper change.
    fs::write(f.mnt.join("data/sub/b"), b"b").unwrap();
    let back = f.dir.path().join("back");
    sh(f.dir.path(), &format!("cp -a {} {}", f.mnt.join("data").display(), back.display()));
    assert_eq!(fs::read(back.join("sub/b")).unwrap(), b"b");
    assert_eq!(fs::read_link(back.join("link")).unwrap(), Path::new("sub/a"));
    assert_eq!(
        sh(&f.mnt, "find . | sort | tr '\\n' ' '"),
        ". ./data ./data/link ./data/sub ./data/sub/a ./data/sub/b ./in ./in/hard ./in/sym ./in/y ./in/y/file "
    );
    assert_eq!(sh(&f.mnt, "find . -type l | wc -l").trim(), "2");
    finish(f, before);
}
