//! diff, snapshot, branches, commit and commit --to, through real mounts on btrfs (snapshot
//! pins), XFS (reflink pins) and ext4 (copy pins) loop images.
#![cfg(target_os = "linux")]

mod common;

use common::loopfs::LoopFs;
use common::*;
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// A small project with a bit of everything, and a 2 MiB file for partial copy-up.
fn project(src: &Path) {
    sh(
        src,
        "mkdir -p src docs assets/icons
         printf 'fn main() {}\\n' > src/main.rs
         printf 'pub fn util() {}\\n' > src/util.rs
         printf '# Project\\n' > README
         printf 'old\\n' > docs/old.md
         printf 'new\\n' > docs/new.md
         printf 'png' > assets/icons/a.png
         printf 'key = 1\\n' > config.toml
         ln -s src/main.rs entry
         ln docs/new.md docs/new-link.md
         head -c 2097152 /dev/urandom > big.bin
         printf Y | dd of=big.bin bs=1 seek=1048576 conv=notrunc status=none",
    );
}

/// A btrfs loop filesystem with the project as a subvolume of its own, and a fixture over it.
fn project_in_a_subvolume() -> Option<(LoopFs, Fixture)> {
    let lfs = LoopFs::new("btrfs", 512)?;
    let src = lfs.root.join("project");
    lfs.subvolume(&src);
    let f = Fixture::with_src(&src, project);
    Some((lfs, f))
}

/// The standard edits, and what diff must call them. The X written into big.bin replaces the
/// Y that `project` put there: random data would already hold an X there once in 256 runs,
/// and diff rightly reports a file rewritten with its own bytes as unchanged.
fn edit(m: &Path) {
    sh(
        m,
        "printf 'added\\n' > added.txt
         mkdir -p newdir/sub && printf deep > newdir/sub/f
         printf '// more\\n' >> src/main.rs
         cp README /tmp/agentfs-readme.$$ && cat /tmp/agentfs-readme.$$ > README && rm /tmp/agentfs-readme.$$
         rm docs/old.md
         mv src/util.rs src/helpers.rs
         mv assets assets2
         chmod 600 config.toml
         ln added.txt added-link.txt
         ln -s added.txt added-sym
         printf X | dd of=big.bin bs=1 seek=1048576 conv=notrunc status=none",
    );
}

fn expected() -> BTreeSet<(String, String)> {
    [
        ("added.txt", "added"),
        ("added-link.txt", "added"),
        ("added-sym", "added"),
        ("newdir", "added"),
        ("newdir/sub", "added"),
        ("newdir/sub/f", "added"),
        ("src/main.rs", "modified"),
        ("big.bin", "modified"),
        ("docs/old.md", "deleted"),
        ("src/helpers.rs", "renamed"),
        ("assets2", "renamed"),
        ("config.toml", "metadata"),
    ]
    .iter()
    .map(|(p, c)| (p.to_string(), c.to_string()))
    .collect()
}

fn run_ok(f: &Fixture, args: &[&str]) -> String {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(os).collect();
    let out = f.run(&args);
    assert!(out.status.success(), "agentfs {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn code(f: &Fixture, args: &[&str]) -> (i32, String) {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(os).collect();
    let out = f.run(&args);
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Every command of the workflow on one filesystem.
fn workflow(fs_kind: &str, pin: &[&str]) {
    if !fuse_available() {
        return;
    }
    let Some(lfs) = LoopFs::new(fs_kind, 512) else { return };
    let src_parent = lfs.root.join("home");
    fs::create_dir(&src_parent).unwrap();
    if fs_kind == "btrfs" {
        lfs.subvolume(&src_parent.join("vol"));
    }
    let f = Fixture::with_src(&src_parent.join("vol/project"), project);
    let pristine = fingerprint(&f.src);
    f.mount(pin);
    edit(&f.mnt);
    let m = f.mnt.to_str().unwrap();

    // diff
    let json: serde_json::Value = serde_json::from_str(&run_ok(&f, &["diff", "--json", m])).unwrap();
    let got: BTreeSet<(String, String)> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["path"].as_str().unwrap().to_string(), c["change"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(got, expected(), "{fs_kind}: {json:#}");
    let renamed = json.as_array().unwrap().iter().find(|c| c["path"] == "src/helpers.rs").unwrap();
    assert_eq!(renamed["from"], "src/util.rs");
    let stat = run_ok(&f, &["diff", "--stat", m]);
    assert!(stat.starts_with("6 added, 2 modified, 1 deleted, 2 renamed, 1 metadata only"), "{stat}");

    // snapshot: the view as it is, read-only, listed
    run_ok(&f, &["snapshot", m, "s1"]);
    let list: serde_json::Value = serde_json::from_str(&run_ok(&f, &["snapshots", "--json"])).unwrap();
    let s1 = &list.as_array().unwrap()[0];
    assert_eq!(s1["name"], "s1");
    assert_eq!(s1["read_only"], true);
    let snap_root = Path::new(s1["path"].as_str().unwrap()).to_path_buf();
    assert_eq!(view(&snap_root), view(&f.mnt), "{fs_kind}: the snapshot shows what the mount shows");
    assert!(fs::write(snap_root.join("README"), b"x").is_err(), "{fs_kind}: a snapshot is read-only");
    assert!(fs::write(snap_root.join("new-file"), b"x").is_err(), "{fs_kind}: a snapshot is read-only");
    let (c, err) = code(&f, &["snapshot", m, "s1"]);
    assert_eq!(c, 3, "a second snapshot of the same name: {err}");
    let (c, err) = code(&f, &["snapshot", m, "../escape"]);
    assert!(c == 3 && err.contains("not allowed"), "{c} {err}");

    // branches: each a fresh upper over the snapshot, isolated from the others
    let b1 = f.dir.path().join("b1");
    let b2 = f.dir.path().join("b2");
    fs::create_dir(&b1).unwrap();
    fs::create_dir(&b2).unwrap();
    run_ok(&f, &["mount", "@s1", b1.to_str().unwrap()]);
    run_ok(&f, &["mount", "@s1", b2.to_str().unwrap()]);
    assert_eq!(view(&b1), view(&f.mnt));
    fs::write(b1.join("only-in-b1"), b"1").unwrap();
    fs::write(b1.join("README"), b"changed in b1").unwrap();
    assert!(!b2.join("only-in-b1").exists());
    assert_eq!(fs::read(b2.join("README")).unwrap(), fs::read(f.mnt.join("README")).unwrap());
    assert!(!snap_root.join("only-in-b1").exists());
    let (c, err) = code(&f, &["snapshot", "rm", "s1"]);
    assert!(c == 5 && err.contains("in use"), "{c} {err}");
    let (c, err) = code(&f, &["commit", b1.to_str().unwrap()]);
    assert!(c == 3 && err.contains("--to"), "a branch has no SRC to commit to: {c} {err}");
    run_ok(&f, &["unmount", b1.to_str().unwrap()]);
    run_ok(&f, &["unmount", b2.to_str().unwrap()]);
    run_ok(&f, &["snapshot", "rm", "s1"]);
    assert!(!snap_root.exists(), "the snapshot is gone");

    // commit --to: the whole view as a new tree
    let out = f.dir.path().join("exported");
    run_ok(&f, &["commit", m, "--to", out.to_str().unwrap()]);
    assert_eq!(view(&out), view(&f.mnt));

    // commit: a dry run writes nothing; the commit makes SRC what the mount shows
    let dry = run_ok(&f, &["commit", "--dry-run", m]);
    assert!(dry.contains("would move src/util.rs to src/helpers.rs"), "{dry}");
    assert_eq!(fingerprint(&f.src), pristine, "a dry run writes nothing");
    run_ok(&f, &["commit", m]);
    assert_eq!(view(&f.src), view(&f.mnt), "{fs_kind}: SRC after the commit");
    let pid = f.daemon_pid();
    f.unmount();
    f.assert_gone(pid);
    let staging: Vec<_> = walk_names(&lfs.root).into_iter().filter(|n| n.contains("agentfs-staging")).collect();
    assert!(staging.iter().all(|n| !Path::new(n).exists()), "{staging:?}");
}

fn walk_names(root: &Path) -> Vec<String> {
    fs::read_dir(root).map(|r| r.flatten().map(|e| e.path().display().to_string()).collect()).unwrap_or_default()
}

#[test]
fn the_workflow_on_btrfs_with_snapshot_pins() {
    workflow("btrfs", &[]);
}

#[test]
fn the_workflow_on_xfs_with_reflink_pins() {
    workflow("xfs", &["--pin", "reflink"]);
}

#[test]
fn the_workflow_on_ext4_with_copy_pins() {
    workflow("ext4", &["--pin", "copy"]);
}

#[test]
fn commit_refuses_when_src_changed_under_a_change_and_writes_nothing() {
    if !fuse_available() {
        return;
    }
    let f = Fixture::new(project);
    let pristine_readme = f.dir.path().join("README.orig");
    sh(f.dir.path(), &format!("cp -a {}/README {}", f.src.display(), pristine_readme.display()));
    f.mount(&["--pin", "copy"]);
    let m = f.mnt.to_str().unwrap();
    fs::write(f.mnt.join("README"), b"from the mount\n").unwrap();
    fs::write(f.mnt.join("docs/new.md"), b"also from the mount\n").unwrap();
    // Meanwhile someone edits SRC itself.
    std::thread::sleep(std::time::Duration::from_millis(20));
    fs::write(f.src.join("README"), b"edited outside\n").unwrap();
    let before = fingerprint(&f.src);
    let (c, err) = code(&f, &["commit", m]);
    assert_eq!(c, 7, "{err}");
    assert!(err.contains("README") && err.contains("nothing was written"), "{err}");
    assert_eq!(fingerprint(&f.src), before);
    // Once README is back as it was, a change elsewhere in SRC is no conflict, and stays.
    sh(f.dir.path(), &format!("cp -a {} {}/README", pristine_readme.display(), f.src.display()));
    fs::write(f.src.join("unrelated.txt"), b"outside").unwrap();
    run_ok(&f, &["commit", m]);
    assert_eq!(fs::read(f.src.join("README")).unwrap(), b"from the mount\n");
    assert_eq!(fs::read(f.src.join("docs/new.md")).unwrap(), b"also from the mount\n");
    assert_eq!(fs::read(f.src.join("unrelated.txt")).unwrap(), b"outside");
    f.unmount();
}

#[test]
fn a_live_mount_diffs_and_commits_elsewhere_but_not_into_src_under_it() {
    if !fuse_available() {
        return;
    }
    let f = Fixture::new(project);
    f.mount(&["--pin", "live"]);
    edit(&f.mnt);
    let m = f.mnt.to_str().unwrap();
    let changes: serde_json::Value = serde_json::from_str(&run_ok(&f, &["diff", "--json", m])).unwrap();
    assert_eq!(changes.as_array().unwrap().len(), expected().len());
    let before = fingerprint(&f.src);
    let (c, err) = code(&f, &["commit", m]);
    assert!(c == 3 && err.contains("--pin copy"), "{c} {err}");
    assert_eq!(fingerprint(&f.src), before);
    let out = f.dir.path().join("out");
    run_ok(&f, &["commit", m, "--to", out.to_str().unwrap()]);
    assert_eq!(view(&out), view(&f.mnt));
    f.unmount();
}

#[test]
fn a_mount_commits_again_and_again_as_work_goes_on() {
    if !fuse_available() {
        return;
    }
    let f = Fixture::new(project);
    f.mount(&["--pin", "copy"]);
    let m = f.mnt.to_str().unwrap();
    edit(&f.mnt);
    run_ok(&f, &["commit", m]);
    assert_eq!(view(&f.src), view(&f.mnt));
    // More work on the same files, and a commit of that: no conflict with our own last commit.
    sh(
        &f.mnt,
        "printf 'again\\n' >> src/main.rs && mv src/helpers.rs src/h2.rs && rm added.txt && printf 2 > newdir/sub/f",
    );
    run_ok(&f, &["commit", m]);
    assert_eq!(view(&f.src), view(&f.mnt));
    // Nothing new: a commit changes nothing.
    let before = fingerprint(&f.src);
    let out = run_ok(&f, &["commit", "--dry-run", m]);
    assert!(out.contains("(0 changes)"), "{out}");
    run_ok(&f, &["commit", m]);
    let after = fingerprint(&f.src);
    let differ: Vec<_> = after.iter().filter(|(k, v)| before.get(*k) != Some(v)).map(|(k, _)| k).collect();
    assert!(differ.is_empty(), "changed by a commit with nothing to do: {differ:?}");
    f.unmount();
}

/// On btrfs, when SRC is a subvolume of its own, `commit --to` on the same filesystem makes the
/// tree as a snapshot of the pin plus the changes (O(changes), like `snapshot`): DIR is a
/// subvolume, shows exactly the view, and holds none of agentfs's own directories.
#[test]
fn commit_to_next_to_a_subvolume_src_is_a_snapshot_of_the_pin() {
    if !fuse_available() {
        return;
    }
    let Some((lfs, f)) = project_in_a_subvolume() else { return };
    f.mount(&["--pin", "snapshot"]);
    edit(&f.mnt);
    let m = f.mnt.to_str().unwrap();
    let out = lfs.root.join("exported");
    let report = run_ok(&f, &["commit", m, "--to", out.to_str().unwrap()]);
    assert_eq!(view(&out), view(&f.mnt), "{report}");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(fs::metadata(&out).unwrap().ino(), 256, "DIR is a subvolume (a snapshot of the pin)");
    let names: Vec<String> = walk_names(&out);
    assert!(names.iter().all(|n| !n.contains(".agentfs-")), "{names:?}");
    assert!(fs::write(out.join("writable"), b"1").is_ok(), "DIR is the user's to change");
    // Into a directory on another filesystem the same command copies (reflink or bytes).
    let elsewhere = f.dir.path().join("exported");
    run_ok(&f, &["commit", m, "--to", elsewhere.to_str().unwrap()]);
    assert_eq!(view(&elsewhere), view(&f.mnt));
    f.unmount();
    let staging: Vec<_> = walk_names(&lfs.root).into_iter().filter(|n| n.contains("agentfs-staging")).collect();
    assert!(staging.iter().all(|n| !Path::new(n).exists()), "{staging:?}");
}

/// A snapshot whose filesystem was unmounted and mounted again elsewhere: `snapshot rm` cannot
/// find its data, says so and where it was, forgets the record, and does not claim it removed
/// the data (which still uses space on that filesystem).
#[test]
fn snapshot_rm_after_its_filesystem_moved_says_the_data_was_not_found() {
    if !fuse_available() {
        return;
    }
    let Some((mut lfs, f)) = project_in_a_subvolume() else { return };
    f.mount(&[]);
    edit(&f.mnt);
    run_ok(&f, &["snapshot", f.mnt.to_str().unwrap(), "moved"]);
    f.unmount();
    let before = lfs.subvolumes();
    assert!(before.iter().any(|s| s.contains("moved")), "{before:?}");
    let was = lfs.root.join(".agentfs-snapshots/moved");
    lfs.remount_at("elsewhere");
    let said = run_ok(&f, &["snapshot", "rm", "moved"]);
    let names_it = said.contains(&format!("no longer at {}", was.display()));
    assert!(names_it && !said.starts_with("removed the snapshot"), "{said}");
    assert!(!run_ok(&f, &["snapshots"]).contains("moved"), "the record is gone");
    assert_eq!(lfs.subvolumes(), before, "the data on the moved filesystem is left as it was");
}

/// A snapshot whose data was moved away and replaced by a symlink: `snapshot rm` deletes
/// nothing through it or at it, and says that something else is there now.
#[test]
fn snapshot_rm_leaves_alone_what_replaced_the_snapshot() {
    if !fuse_available() {
        return;
    }
    let Some((lfs, f)) = project_in_a_subvolume() else { return };
    f.mount(&[]);
    run_ok(&f, &["snapshot", f.mnt.to_str().unwrap(), "swapped"]);
    f.unmount();
    let data = lfs.root.join(".agentfs-snapshots/swapped");
    let moved = lfs.root.join("moved");
    let precious = f.dir.path().join("precious");
    fs::create_dir(&precious).unwrap();
    fs::write(precious.join("keep"), b"mine").unwrap();
    sh(&lfs.root, "btrfs property set .agentfs-snapshots/swapped ro false >/dev/null");
    fs::rename(&data, &moved).unwrap();
    std::os::unix::fs::symlink(&precious, &data).unwrap();
    let said = run_ok(&f, &["snapshot", "rm", "swapped"]);
    assert!(said.contains("something else") && said.contains("btrfs subvolume delete"), "{said}");
    assert_eq!(fs::read(precious.join("keep")).unwrap(), b"mine");
    assert!(fs::symlink_metadata(&data).unwrap().file_type().is_symlink(), "the symlink is left alone");
    let kept: Vec<String> = walk_names(&moved);
    assert!(kept.iter().any(|n| n.ends_with("README")), "the moved data is left alone: {kept:?}");
    assert!(!run_ok(&f, &["snapshots"]).contains("swapped"));
}
