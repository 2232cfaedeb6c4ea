//! Walking a tree cold, in every mode: walkers see the lower tree (names, kinds, inode numbers
//! that match what stat says), whichever listings carry attributes. In the io_uring mode a
//! thread's listings after its first leave the files' attributes out until files are looked
//! up in them (ops/walkers.rs): a `find` then makes the daemon stat only directories, and a
//! lister whose files get used, by itself or by another process, gets them back.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirEntryExt, MetadataExt};
use std::path::Path;
use std::process::{Command, Stdio};

per_mode!(
    walkers_see_the_lower_tree_and_inode_numbers_agree,
    only_walkers_that_use_attributes_get_them,
    a_listing_interrupted_by_a_drop_is_cached_again,
);

const DIRS: usize = 6;
const FILES: usize = 30;

fn tree(src: &Path) {
    fs::write(src.join("top"), b"top").unwrap();
    for d in 0..DIRS {
        let dir = src.join(format!("d{d}"));
        fs::create_dir_all(dir.join("sub")).unwrap();
        for i in 0..FILES {
            fs::write(dir.join(format!("f{i}")), vec![b'x'; i]).unwrap();
        }
        fs::write(dir.join(OsStr::from_bytes(b"odd \xff\n name")), b"odd").unwrap();
        std::os::unix::fs::symlink("f1", dir.join("link")).unwrap();
        fs::write(dir.join("sub/deep"), b"deep").unwrap();
    }
}

/// `find DIR -printf '%P %y\0'` (kinds from the listing's d_type), sorted.
fn find_kinds(dir: &Path) -> Vec<Vec<u8>> {
    let out = Command::new("find").arg(dir).args(["-printf", "%P %y\\0"]).output().unwrap();
    assert!(out.status.success());
    let mut v: Vec<Vec<u8>> = out.stdout.split(|b| *b == 0).map(<[u8]>::to_vec).collect();
    v.sort();
    v
}

/// Every entry's inode number and kind as listed, against what lstat says, in every directory.
fn assert_listing_agrees_with_stat(dir: &Path) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let md = fs::symlink_metadata(e.path()).unwrap();
        assert_eq!(e.ino(), md.ino(), "{}: listed and stat inode numbers differ", e.path().display());
        assert_eq!(e.file_type().unwrap(), md.file_type(), "{}", e.path().display());
        if md.is_dir() {
            assert_listing_agrees_with_stat(&e.path());
        }
    }
}

fn walkers_see_the_lower_tree_and_inode_numbers_agree(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(mode, tree);
    f.mount(&[]);
    assert_eq!(find_kinds(&f.mnt), find_kinds(&f.src));
    // After find: ls -l, then a walk that stats what it lists, then one of the content.
    let out = Command::new("ls").arg("-lR").arg(&f.mnt).stdout(Stdio::null()).status().unwrap();
    assert!(out.success());
    assert_listing_agrees_with_stat(&f.mnt);
    assert_eq!(view(&f.mnt), view(&f.src));
    f.unmount();
}

fn lookups(f: &Fixture) -> u64 {
    f.status()["requests"]["by_operation"]["lookup"].as_u64().unwrap_or(0)
}

fn nodes(f: &Fixture) -> u64 {
    f.status()["engine"]["nodes"].as_u64().unwrap()
}

/// Looks up every file of `dir` from another process; returns the lookups it cost.
fn stat_files_of(f: &Fixture, dir: &str) -> u64 {
    let before = lookups(f);
    let files: Vec<_> = (0..FILES).map(|i| f.mnt.join(dir).join(format!("f{i}"))).collect();
    let out = Command::new("stat").arg("-c%s").args(&files).stdout(Stdio::null()).status().unwrap();
    assert!(out.success());
    lookups(f) - before
}

/// No lookups were needed for names listed with attributes: their dentries are cached, in the
/// live mode for one second only (a loaded machine may take longer than that).
fn cached_for_a_while(mode: Mode, lookups: u64) {
    if mode != Mode::Live {
        assert_eq!(lookups, 0, "names listed with attributes were looked up again");
    }
}

/// Walks the whole mount from another process, lstat of every entry; returns the lookups it
/// cost. It waits a moment after the first directory with files, for the daemon's worker to
/// drop the listings find left (else a loaded machine decides how many it sees).
fn walk_and_stat(f: &Fixture) -> u64 {
    let before = lookups(f);
    let script = "import os, sys, time
waited = False
for d, dirs, files in os.walk(sys.argv[1]):
    for n in dirs + files:
        os.lstat(os.path.join(d, n))
    if files and d != sys.argv[1] and not waited:
        time.sleep(0.5)
        waited = True";
    let out = Command::new("python3").args(["-c", script]).arg(&f.mnt).status().unwrap();
    assert!(out.success());
    lookups(f) - before
}

fn only_walkers_that_use_attributes_get_them(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(mode, tree);
    f.mount(&[]);
    let entries = (DIRS * (FILES + 4)) as u64;
    let out = Command::new("find").arg(&f.mnt).stdout(Stdio::null()).status().unwrap();
    assert!(out.success());
    let after_find = nodes(&f);
    // find's first listing, of the root, carried everything: `top` needs no lookup.
    let before = lookups(&f);
    fs::symlink_metadata(f.mnt.join("top")).unwrap();
    cached_for_a_while(mode, lookups(&f) - before);
    // A walker that stats everything after find: the listings find left in the kernel's
    // cache lack the files' attributes, and the first lookups drop them from there, so the
    // walker's next listings come to the daemon and carry the attributes.
    let by_walker = walk_and_stat(&f);
    if mode == Mode::Uring {
        // The root and `top` (listed first, with everything), its directories and their sub
        // directories.
        assert!(after_find <= 2 + 2 * DIRS as u64 + 2, "find made {after_find} nodes for {entries} entries");
        assert!(
            (8..entries / 2).contains(&by_walker),
            "{by_walker} lookups by a walker after find: the first files of listings find left, not all {entries}"
        );
    } else {
        // The classic transport lists everything with attributes.
        assert!(after_find >= entries, "find made {after_find} nodes for {entries} entries");
        cached_for_a_while(mode, by_walker);
    }
    f.unmount();

    // One process lists d0 (its first listing), then d1; another stats d1's files; the lister's
    // next listing, of d2, carries its files' attributes again.
    f.mount(&[]);
    let script = "import os, subprocess, sys
m = sys.argv[1]
os.listdir(m + '/d0')
names = sorted(n for n in os.listdir(m + '/d1') if n.startswith('f'))
subprocess.run(['stat', '-c%s'] + [m + '/d1/' + n for n in names], stdout=subprocess.DEVNULL, check=True)
os.listdir(m + '/d2')";
    let before = lookups(&f);
    let out = Command::new("python3").args(["-c", script]).arg(&f.mnt).status().unwrap();
    assert!(out.success());
    let by_script = lookups(&f) - before;
    if mode == Mode::Uring {
        assert!(by_script >= FILES as u64, "d1's files were listed without attributes: {by_script} lookups");
    }
    // d2 was listed with its files' attributes.
    cached_for_a_while(mode, stat_files_of(&f, "d2"));
    f.unmount();
}

fn readdirplus_count(f: &Fixture) -> u64 {
    f.status()["requests"]["by_operation"]["readdirplus"].as_u64().unwrap_or(0)
}

/// A listing whose files get looked up while its reader is still reading it (so that it
/// learns and a drop of listings is due) is dropped from the kernel's cache only once it has
/// ended: dropped half way, the kernel would never cache that directory again.
fn a_listing_interrupted_by_a_drop_is_cached_again(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(mode, |src| {
        fs::create_dir(src.join("a")).unwrap();
        fs::create_dir(src.join("big")).unwrap();
        for i in 0..300 {
            fs::write(src.join(format!("big/f{i:03}")), b"x").unwrap();
        }
    });
    f.mount(&[]);
    // Lists the root (its first listing), reads 30 entries of big (many pages in all), has
    // another process stat 10 files of big, then reads big to its end.
    let script = "import os, subprocess, sys
m = sys.argv[1]
os.listdir(m)
it = os.scandir(m + '/big')
first = [next(it).name for _ in range(30)]
subprocess.run(['stat', '-c%s'] + [m + '/big/f%03d' % i for i in range(290, 300)], stdout=subprocess.DEVNULL, check=True)
rest = [e.name for e in it]
assert len(first) + len(rest) == 300, len(first) + len(rest)";
    let out = Command::new("python3").args(["-c", script]).arg(&f.mnt).status().unwrap();
    assert!(out.success());
    // Listed once more (through the daemon if its listing was dropped), then from the cache.
    let ls = || {
        let out = Command::new("ls").arg("-f").arg(f.mnt.join("big")).stdout(Stdio::null()).status().unwrap();
        assert!(out.success());
    };
    ls();
    std::thread::sleep(std::time::Duration::from_millis(200));
    ls();
    let before = readdirplus_count(&f);
    ls();
    let after = readdirplus_count(&f);
    if mode != Mode::Live {
        assert_eq!(after - before, 0, "big is listed from the kernel's cache again");
    }
    f.unmount();
}
