//! Programs that sync what they write, in every I/O mode: sqlite with a rollback journal and
//! with WAL (synchronous=FULL), git with core.fsync=all, python mmap + msync and fsync/fdatasync,
//! dd with conv=fsync and O_SYNC/O_DSYNC, cp then `sync FILE`, an editor's save (temporary file,
//! fsync, rename over, fsync of the directory), a make and a cargo build of a project that lives
//! in the lower layer, and a Python virtual environment with pip installing into it.
//!
//! The pinned mode once failed every fsync (EBADF): the kernel sends FSYNC without a file handle
//! when it opened the file itself. Each program checks what it wrote afterwards, and SRC must
//! come out untouched.
#![cfg(unix)]

mod common;

use common::*;
use std::fs;
use std::path::Path;

per_mode!(
    sqlite_with_a_rollback_journal_and_with_wal_syncs_fully,
    git_with_core_fsync_all_commits_and_collects_garbage,
    python_msync_fsync_and_fdatasync,
    dd_with_fsync_and_synchronous_writes,
    cp_then_sync_and_an_editor_save,
    make_and_cargo_build_a_project_in_the_lower_layer,
    a_python_venv_with_pip_installs_many_small_files,
);

fn mounted(mode: Mode, populate: impl FnOnce(&Path)) -> Option<Fixture> {
    if !fuse_available() {
        return None;
    }
    let f = Fixture::in_mode(mode, populate);
    f.mount(&[]);
    Some(f)
}

/// Runs `script` with python3 in the mount; it must print "ok".
fn python(f: &Fixture, script: &str) {
    assert_eq!(sh(&f.mnt, &format!("python3 - <<'PY'\n{script}\nPY")).trim(), "ok");
}

fn finish(f: Fixture, before: std::collections::BTreeMap<std::path::PathBuf, String>) {
    f.unmount();
    assert_eq!(fingerprint(&f.src), before, "SRC changed");
}

fn sqlite_with_a_rollback_journal_and_with_wal_syncs_fully(mode: Mode) {
    let Some(f) = mounted(mode, |src| fs::create_dir(src.join("db")).unwrap()) else { return };
    let before = fingerprint(&f.src);
    python(
        &f,
        r#"
import sqlite3
for journal in ("delete", "truncate", "wal"):
    path = "db/%s.sqlite" % journal
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode=%s" % journal).fetchone()[0] == journal
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
    for i in range(300):
        con.execute("INSERT INTO t (v) VALUES (?)", (b"x" * (i * 37 % 5000),))
        con.commit()
    con.execute("DELETE FROM t WHERE id % 3 = 0")
    con.commit()
    con.execute("VACUUM")
    if journal == "wal":
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok", journal
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 200, journal
    con.close()
print("ok")
"#,
    );
    finish(f, before);
}

const GIT: &str = "git -c user.name=t -c user.email=t@e -c init.defaultBranch=main -c core.fsync=all \
                   -c core.fsyncMethod=fsync";

fn git_with_core_fsync_all_commits_and_collects_garbage(mode: Mode) {
    let Some(f) = mounted(mode, |src| {
        fs::create_dir_all(src.join("repo")).unwrap();
        for i in 0..30 {
            fs::write(src.join(format!("repo/f{i}.txt")), format!("line {i}\n")).unwrap();
        }
        sh(&src.join("repo"), "git -c init.defaultBranch=main init -q");
    }) else {
        return;
    };
    let before = fingerprint(&f.src);
    let repo = f.mnt.join("repo");
    sh(&repo, &format!("{GIT} add -A && {GIT} commit -qm first"));
    for i in 0..5 {
        fs::write(repo.join(format!("f{i}.txt")), format!("changed {i}\n")).unwrap();
        sh(&repo, &format!("{GIT} commit -qam 'change {i}'"));
    }
    sh(&repo, &format!("{GIT} gc -q && {GIT} fsck --strict --no-progress"));
    assert_eq!(sh(&repo, &format!("{GIT} rev-list --count HEAD")).trim(), "6");
    assert_eq!(sh(&repo, &format!("{GIT} status --porcelain")), "");
    finish(f, before);
}

fn python_msync_fsync_and_fdatasync(mode: Mode) {
    let Some(f) = mounted(mode, |src| fs::write(src.join("lower.bin"), vec![b'.'; 5 * 4096]).unwrap()) else {
        return;
    };
    let before = fingerprint(&f.src);
    python(
        &f,
        r#"
import mmap, os
with open("upper.bin", "wb") as f:
    f.write(b"." * 5 * 4096)
    f.flush()
    os.fsync(f.fileno())
for name in ("lower.bin", "upper.bin"):
    fd = os.open(name, os.O_RDWR)
    m = mmap.mmap(fd, 0)
    m[4096:4101] = b"hello"
    m.flush()                     # msync(MS_SYNC)
    m.flush(8192, 4096)
    m.close()
    os.pwrite(fd, b"world", 3 * 4096)
    os.fdatasync(fd)
    os.fsync(fd)
    os.close(fd)
    data = open(name, "rb").read()
    assert data[4096:4101] == b"hello" and data[3 * 4096:3 * 4096 + 5] == b"world", name
# A file only read is synced too (editors and databases sync what they opened).
fd = os.open("lower.bin", os.O_RDONLY)
os.fsync(fd)
os.close(fd)
d = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
os.fsync(d)
os.close(d)
os.sync()
print("ok")
"#,
    );
    finish(f, before);
}

fn dd_with_fsync_and_synchronous_writes(mode: Mode) {
    let Some(f) = mounted(mode, |src| fs::write(src.join("lower"), vec![7u8; 1 << 20]).unwrap()) else { return };
    let before = fingerprint(&f.src);
    sh(
        &f.mnt,
        "dd if=/dev/urandom of=new bs=64k count=32 conv=fsync status=none
         dd if=new of=lower bs=4k count=10 seek=3 conv=notrunc,fdatasync status=none
         dd if=new of=osync bs=4k count=16 oflag=sync status=none
         dd if=new of=odsync bs=4k count=16 oflag=dsync status=none
         dd if=new of=direct bs=4k count=16 oflag=direct,sync status=none
         cmp -n 65536 new osync && cmp -n 65536 new odsync && cmp -n 65536 new direct
         cmp -n 40960 new lower 0 12288",
    );
    finish(f, before);
}

fn cp_then_sync_and_an_editor_save(mode: Mode) {
    let Some(f) = mounted(mode, |src| fs::write(src.join("notes.txt"), b"version 1\n").unwrap()) else { return };
    let before = fingerprint(&f.src);
    sh(
        &f.mnt,
        "cp notes.txt copy.txt && sync copy.txt && sync -d copy.txt && sync -f copy.txt
         cmp notes.txt copy.txt",
    );
    // What editors do to save: write a temporary file, fsync it, rename it over, fsync the dir.
    python(
        &f,
        r#"
import os
for i in range(20):
    tmp = ".notes.txt.swp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, b"version %d\n" % (i + 2))
    os.fsync(fd)
    os.close(fd)
    os.rename(tmp, "notes.txt")
    d = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(d)
    os.close(d)
    assert open("notes.txt", "rb").read() == b"version %d\n" % (i + 2)
assert not os.path.exists(".notes.txt.swp")
print("ok")
"#,
    );
    finish(f, before);
}

fn make_and_cargo_build_a_project_in_the_lower_layer(mode: Mode) {
    let Some(f) = mounted(mode, |src| {
        let c = src.join("cproj");
        fs::create_dir_all(&c).unwrap();
        fs::write(c.join("util.c"), "int twice(int x) { return 2 * x; }\n").unwrap();
        fs::write(
            c.join("main.c"),
            "#include <stdio.h>\nint twice(int);\nint main(void) { printf(\"%d\\n\", twice(21)); return 0; }\n",
        )
        .unwrap();
        fs::write(c.join("Makefile"), "prog: main.o util.o\n\tcc -o $@ $^\n%.o: %.c\n\tcc -c -o $@ $<\n").unwrap();
        let r = src.join("rproj");
        fs::create_dir_all(r.join("src")).unwrap();
        fs::write(
            r.join("Cargo.toml"),
            "[package]\nname = \"rproj\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
        )
        .unwrap();
        fs::write(r.join("src/main.rs"), "fn main() { println!(\"{}\", 6 * 7); }\n").unwrap();
    }) else {
        return;
    };
    let before = fingerprint(&f.src);
    let c = f.mnt.join("cproj");
    assert_eq!(sh(&c, "make -s && ./prog").trim(), "42");
    // An incremental rebuild sees the change through the mount's times.
    sh(&c, "sleep 1.1; echo 'int twice(int x) { return x + x + 1; }' > util.c");
    assert_eq!(sh(&c, "make -s && ./prog").trim(), "43");
    let r = f.mnt.join("rproj");
    assert_eq!(sh(&r, "cargo build -q --offline && ./target/debug/rproj").trim(), "42");
    finish(f, before);
}

fn a_python_venv_with_pip_installs_many_small_files(mode: Mode) {
    let Some(f) = mounted(mode, |_| {}) else { return };
    let before = fingerprint(&f.src);
    // ensurepip installs pip from its bundled wheel: hundreds of small files, no network.
    sh(&f.mnt, "python3 -m venv venv && ./venv/bin/python -m pip --version >/dev/null");
    let files: usize = sh(&f.mnt, "find venv -type f | wc -l").trim().parse().unwrap();
    assert!(files > 500, "{files} files installed");
    sh(
        &f.mnt,
        "./venv/bin/python -c 'import pip, compileall' && ./venv/bin/python -m compileall -q venv/lib >/dev/null",
    );
    finish(f, before);
}
