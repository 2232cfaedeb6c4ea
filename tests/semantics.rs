//! The engine's semantics, checked again through a real mount with std::fs.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirEntryExt, FileExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

per_mode!(
    nothing_done_on_the_mount_reaches_src,
    inode_numbers_match_readdir_and_survive_copy_up_and_rename,
    deletes_hide_lower_entries_and_recreated_directories_are_opaque,
    a_lower_directory_with_upper_children_renames_without_exdev,
    sparse_files_big_offsets_append_trunc_excl,
    the_ram_budget_gives_enospc_and_space_comes_back,
    symlinks_fsync_and_xattrs,
    many_threads_at_once,
    a_hundred_thousand_files_meet_no_fd_limit,
    renaming_every_entry_while_listing_ends,
    reading_updates_access_times_as_relatime_says_but_never_in_src,
    file_handles_open_files_after_the_kernel_forgot_them,
    rename_whiteout_leaves_a_whiteout,
);

fn populate(src: &Path) {
    fs::create_dir_all(src.join("proj/src")).unwrap();
    fs::create_dir_all(src.join("proj/empty")).unwrap();
    fs::write(src.join("proj/src/main.rs"), b"fn main() {}\n").unwrap();
    fs::write(src.join("proj/README"), b"readme\n").unwrap();
    fs::write(src.join("big"), vec![7u8; 3 << 20]).unwrap();
    fs::write(src.join("linked"), b"shared").unwrap();
    fs::hard_link(src.join("linked"), src.join("proj/linked2")).unwrap();
    std::os::unix::fs::symlink("../../../../etc/passwd", src.join("proj/escape")).unwrap();
}

fn mounted(mode: Mode) -> Option<Fixture> {
    if !fuse_available() {
        return None;
    }
    let f = Fixture::in_mode(mode, populate);
    f.mount(&[]);
    Some(f)
}

fn nothing_done_on_the_mount_reaches_src(mode: Mode) {
    let Some(f) = mounted(mode) else { return };
    let before = fingerprint(&f.src);
    let m = &f.mnt;
    fs::write(m.join("proj/README"), b"rewritten").unwrap();
    OpenOptions::new().append(true).open(m.join("big")).unwrap().write_all(b"tail").unwrap();
    fs::set_permissions(m.join("proj/src/main.rs"), fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(m.join("linked"), Some(1234), Some(1234)).unwrap();
    File::options().write(true).open(m.join("proj/linked2")).unwrap().set_len(2).unwrap();
    fs::rename(m.join("proj"), m.join("moved")).unwrap();
    fs::remove_file(m.join("moved/src/main.rs")).unwrap();
    fs::create_dir(m.join("newdir")).unwrap();
    rustix::fs::setxattr(m.join("big").as_path(), "user.tag", b"v", rustix::fs::XattrFlags::empty()).unwrap();
    assert_eq!(fs::read(m.join("moved/README")).unwrap(), b"rewritten");
    assert_eq!(fs::metadata(m.join("big")).unwrap().len(), (3 << 20) + 4);
    assert_eq!(fs::read(m.join("linked")).unwrap(), b"sh", "hardlinked names share the copy-up");
    f.unmount();
    assert_eq!(fingerprint(&f.src), before);
    f.assert_gone(None);
}

fn inode_numbers_match_readdir_and_survive_copy_up_and_rename(mode: Mode) {
    let Some(f) = mounted(mode) else { return };
    let m = &f.mnt;
    let ino = fs::metadata(m.join("proj/README")).unwrap().ino();
    let d_ino = fs::read_dir(m.join("proj")).unwrap().flatten().find(|e| e.file_name() == "README").unwrap().ino();
    assert_eq!(ino, d_ino);
    if mode == Mode::Live {
        // A copy pin's files have inode numbers of their own; SRC itself is the lower layer here.
        assert_eq!(
            ino,
            fs::metadata(f.src.join("proj/README")).unwrap().ino(),
            "lower objects keep their inode number"
        );
    }
    fs::write(m.join("proj/README"), b"x").unwrap();
    assert_eq!(fs::metadata(m.join("proj/README")).unwrap().ino(), ino);
    fs::rename(m.join("proj/README"), m.join("README")).unwrap();
    assert_eq!(fs::metadata(m.join("README")).unwrap().ino(), ino);
    let a = fs::metadata(m.join("linked")).unwrap();
    let b = fs::metadata(m.join("proj/linked2")).unwrap();
    assert_eq!((a.ino(), a.nlink()), (b.ino(), 2));
    f.unmount();
}

fn deletes_hide_lower_entries_and_recreated_directories_are_opaque(mode: Mode) {
    let Some(f) = mounted(mode) else { return };
    let m = &f.mnt;
    fs::remove_dir_all(m.join("proj")).unwrap();
    assert!(!m.join("proj").exists());
    fs::create_dir(m.join("proj")).unwrap();
    assert_eq!(fs::read_dir(m.join("proj")).unwrap().count(), 0);
    fs::write(m.join("proj/README"), b"new").unwrap();
    assert_eq!(fs::read(m.join("proj/README")).unwrap(), b"new");
    assert_eq!(fs::metadata(m.join("linked")).unwrap().nlink(), 1, "the other name of the hardlink went");
    let names: Vec<String> =
        fs::read_dir(m).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into()).collect();
    assert_eq!(names.iter().filter(|n| *n == "proj").count(), 1);
    f.unmount();
    assert!(f.src.join("proj/src/main.rs").exists());
}

fn a_lower_directory_with_upper_children_renames_without_exdev(mode: Mode) {
    let Some(f) = mounted(mode) else { return };
    let m = &f.mnt;
    fs::write(m.join("proj/src/new.rs"), b"upper").unwrap();
    fs::create_dir(m.join("elsewhere")).unwrap();
    // The rename(2) that kernel overlayfs and fuse-overlayfs answer with EXDEV.
    fs::rename(m.join("proj"), m.join("elsewhere/proj")).unwrap();
    assert_eq!(fs::read(m.join("elsewhere/proj/src/main.rs")).unwrap(), b"fn main() {}\n");
    assert_eq!(fs::read(m.join("elsewhere/proj/src/new.rs")).unwrap(), b"upper");
    let mut names: Vec<String> = fs::read_dir(m.join("elsewhere/proj"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into())
        .collect();
    names.sort();
    assert_eq!(names, ["README", "empty", "escape", "linked2", "src"]);
    // mv back and over an empty lower directory.
    fs::rename(m.join("elsewhere/proj/src"), m.join("elsewhere/proj/empty")).unwrap();
    assert_eq!(fs::read(m.join("elsewhere/proj/empty/new.rs")).unwrap(), b"upper");
    f.unmount();
}

fn sparse_files_big_offsets_append_trunc_excl(mode: Mode) {
    let Some(f) = mounted(mode) else { return };
    let m = &f.mnt;
    let p = m.join("sparse");
    let file = File::options().create_new(true).read(true).write(true).open(&p).unwrap();
    file.write_all_at(b"end", 5 << 30).unwrap();
    let md = fs::metadata(&p).unwrap();
    assert_eq!(md.len(), (5 << 30) + 3);
    assert!(md.blocks() * 512 < 1 << 20, "holes cost nothing: {} blocks", md.blocks());
    let mut buf = [1u8; 16];
    file.read_exact_at(&mut buf, 4 << 30).unwrap();
    assert_eq!(buf, [0; 16]);
    assert_eq!(rustix::fs::seek(&file, rustix::fs::SeekFrom::Data(0)).unwrap(), (5 << 30) & !0xfff);
    assert_eq!(rustix::fs::seek(&file, rustix::fs::SeekFrom::Hole(0)).unwrap(), 0);
    drop(file);
    // O_APPEND from two handles.
    let mut a = OpenOptions::new().append(true).open(m.join("proj/README")).unwrap();
    let mut b = OpenOptions::new().append(true).open(m.join("proj/README")).unwrap();
    a.write_all(b"A").unwrap();
    b.write_all(b"B").unwrap();
    a.write_all(b"C").unwrap();
    drop((a, b));
    assert_eq!(fs::read(m.join("proj/README")).unwrap(), b"readme\nABC");
    // O_TRUNC and O_EXCL.
    File::options().write(true).truncate(true).open(m.join("big")).unwrap();
    assert_eq!(fs::metadata(m.join("big")).unwrap().len(), 0);
    let e = File::options().write(true).create_new(true).open(m.join("big")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
    // Reading while seeking around a lower file.
    let mut r = File::open(m.join("proj/src/main.rs")).unwrap();
    r.seek(SeekFrom::Start(3)).unwrap();
    let mut s = String::new();
    r.read_to_string(&mut s).unwrap();
    assert_eq!(s, "main() {}\n");
    drop(r);
    f.unmount();
}

fn the_ram_budget_gives_enospc_and_space_comes_back(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(mode, populate);
    f.mount(&["--size", "8M"]);
    let st = rustix::fs::statvfs(&f.mnt).unwrap();
    assert_eq!(st.f_blocks * st.f_frsize, 8 << 20, "statfs reports the budget");
    let chunk = vec![1u8; 1 << 20];
    let mut w = File::create(f.mnt.join("fill")).unwrap();
    let mut err = None;
    for _ in 0..16 {
        if let Err(e) = w.write_all(&chunk).and_then(|_| w.sync_all()) {
            err = Some(e);
            break;
        }
    }
    assert_eq!(err.map(|e| e.raw_os_error()), Some(Some(libc::ENOSPC)));
    drop(w);
    let st = rustix::fs::statvfs(&f.mnt).unwrap();
    assert!(st.f_bfree * st.f_frsize < 1 << 20, "statfs reports the use");
    fs::remove_file(f.mnt.join("fill")).unwrap();
    // close() sends its release to the daemon asynchronously: the space comes back right after.
    let free = || {
        let st = rustix::fs::statvfs(&f.mnt).unwrap();
        st.f_bfree * st.f_frsize
    };
    assert!(wait_until(std::time::Duration::from_secs(5), || free() > 7 << 20), "deleted and closed: space is back");
    fs::write(f.mnt.join("again"), vec![2u8; 6 << 20]).unwrap();
    f.unmount();
}

fn symlinks_fsync_and_xattrs(mode: Mode) {
    let Some(f) = mounted(mode) else { return };
    let m = &f.mnt;
    assert_eq!(fs::read_link(m.join("proj/escape")).unwrap(), Path::new("../../../../etc/passwd"));
    std::os::unix::fs::symlink("README", m.join("proj/l")).unwrap();
    assert_eq!(fs::read(m.join("proj/l")).unwrap(), b"readme\n");
    let file = File::create(m.join("synced")).unwrap();
    file.sync_all().unwrap();
    file.sync_data().unwrap();
    drop(file);
    rustix::fs::setxattr(m.join("synced").as_path(), "user.k", b"v1", rustix::fs::XattrFlags::empty()).unwrap();
    let mut buf = [0u8; 16];
    let n = rustix::fs::getxattr(m.join("synced").as_path(), "user.k", &mut buf[..]).unwrap();
    assert_eq!(&buf[..n], b"v1");
    f.unmount();
}

fn many_threads_at_once(mode: Mode) {
    let Some(f) = mounted(mode) else { return };
    let root = Arc::new(f.mnt.clone());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let root = Arc::clone(&root);
            std::thread::spawn(move || {
                let mine = root.join(format!("t{t}"));
                fs::create_dir(&mine).unwrap();
                for i in 0..300 {
                    let p = mine.join(format!("f{i}"));
                    fs::write(&p, format!("{t}-{i}")).unwrap();
                    assert_eq!(fs::read_to_string(&p).unwrap(), format!("{t}-{i}"));
                    if i % 3 == 0 {
                        fs::rename(&p, mine.join(format!("r{i}"))).unwrap();
                    }
                    if i % 5 == 0 {
                        let _ = fs::remove_file(mine.join(format!("r{i}")));
                    }
                    // Everyone also works on the shared lower tree.
                    let _ = fs::read(root.join("proj/src/main.rs")).unwrap();
                    let _ = fs::read_dir(root.join("proj")).unwrap().count();
                    let mut log = OpenOptions::new().append(true).open(root.join("proj/README")).unwrap();
                    log.write_all(format!("{t}:{i}\n").as_bytes()).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let readme = fs::read_to_string(f.mnt.join("proj/README")).unwrap();
    assert_eq!(readme.lines().count(), 1 + 8 * 300, "every append landed once");
    for t in 0..8 {
        // 300 files, 100 renamed (i % 3 == 0), 20 of those removed (i % 15 == 0).
        assert_eq!(fs::read_dir(f.mnt.join(format!("t{t}"))).unwrap().count(), 280);
    }
    f.unmount();
}

fn a_hundred_thousand_files_meet_no_fd_limit(mode: Mode) {
    let Some(f) = mounted(mode) else { return };
    let d = f.mnt.join("many");
    fs::create_dir(&d).unwrap();
    for i in 0..100_000 {
        if i % 1000 == 0 {
            fs::create_dir(d.join(format!("d{}", i / 1000))).unwrap();
        }
        fs::write(d.join(format!("d{}/f{i}", i / 1000)), b"0123456789").unwrap();
    }
    // Larger files go to memfds, each an fd; their number stays bounded too.
    for i in 0..300 {
        fs::write(d.join(format!("large{i}")), vec![1u8; 100 * 1024]).unwrap();
    }
    let pid = f.daemon_pid().unwrap();
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum.unwrap_or(u64::MAX);
    assert!((fds as u64) < limit / 2 + 100, "{fds} fds open, limit {limit}");
    assert_eq!(fs::read(d.join("d99/f99999")).unwrap(), b"0123456789");
    f.unmount();
}

/// Renaming each entry while the directory is read (to a temporary name and back) must not make
/// the listing go on forever (xfstests generic/736; btrfs once did).
fn renaming_every_entry_while_listing_ends(mode: Mode) {
    let Some(f) = mounted(mode) else { return };
    let d = f.mnt.join("renames");
    fs::create_dir(&d).unwrap();
    const N: usize = 2000;
    for i in 0..N {
        File::create(d.join(i.to_string())).unwrap();
    }
    let mut listed = 0;
    for e in fs::read_dir(&d).unwrap() {
        let name = e.unwrap().file_name();
        listed += 1;
        assert!(listed <= 3 * N, "listed {listed} entries of a directory of {N}");
        fs::rename(d.join(&name), d.join("TEMPFILE")).unwrap();
        fs::rename(d.join("TEMPFILE"), d.join(&name)).unwrap();
    }
    assert!(listed >= N, "every entry present all along was listed: {listed}");
    assert_eq!(fs::read_dir(&d).unwrap().count(), N);
    f.unmount();
}

/// A read that reaches the daemon updates the access time as relatime says (once, then not while
/// the access time is newer than the last change); SRC's own access times never move. (Reads
/// the kernel serves from its page cache reach no daemon: FUSE inodes are S_NOATIME.)
fn reading_updates_access_times_as_relatime_says_but_never_in_src(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(mode, |src| {
        fs::write(src.join("old"), b"read me").unwrap();
        let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        File::options()
            .write(true)
            .open(src.join("old"))
            .unwrap()
            .set_times(fs::FileTimes::new().set_accessed(t))
            .unwrap();
    });
    f.mount(&[]);
    let before = fs::metadata(f.src.join("old")).unwrap().atime();
    assert_eq!(fs::metadata(f.mnt.join("old")).unwrap().atime(), 1_000_000_000);
    assert_eq!(fs::read(f.mnt.join("old")).unwrap(), b"read me");
    let after = fs::metadata(f.mnt.join("old")).unwrap().atime();
    assert!(after > 1_000_000_000, "a read renews a day-old access time ({mode})");
    assert_eq!(fs::metadata(f.src.join("old")).unwrap().atime(), before, "SRC is read without touching atime");
    f.unmount();
}

/// name_to_handle_at / open_by_handle_at (what NFS export and fanotify-based tools use) work
/// after the kernel dropped its inodes: the daemon finds the node a handle names again.
fn file_handles_open_files_after_the_kernel_forgot_them(mode: Mode) {
    let Some(f) = mounted(mode) else { return };
    fs::write(f.mnt.join("upper.txt"), b"upper").unwrap();
    let script = r#"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
class Handle(ctypes.Structure):
    _fields_ = [("bytes", ctypes.c_uint), ("type", ctypes.c_int), ("f", ctypes.c_ubyte * 128)]
def handle(path):
    h = Handle(bytes=128)
    mount_id = ctypes.c_int()
    if libc.name_to_handle_at(-100, path.encode(), ctypes.byref(h), ctypes.byref(mount_id), 0) != 0:
        sys.exit("name_to_handle_at %s: %s" % (path, os.strerror(ctypes.get_errno())))
    return h
paths = ["proj/README", "proj/src/main.rs", "upper.txt", "proj/src"]
handles = [handle(p) for p in paths]
os.sync()
with open("/proc/sys/vm/drop_caches", "w") as d:
    d.write("2")
root = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
for path, h in zip(paths, handles):
    fd = libc.open_by_handle_at(root, ctypes.byref(h), os.O_RDONLY)
    if fd < 0:
        sys.exit("open_by_handle_at %s: %s" % (path, os.strerror(ctypes.get_errno())))
    if os.path.isdir(path):
        assert os.fstat(fd).st_ino == os.stat(path).st_ino
    else:
        assert os.read(fd, 100) == open(path, "rb").read(), path
    os.close(fd)
os.unlink("upper.txt")
fd = libc.open_by_handle_at(root, ctypes.byref(handles[2]), os.O_RDONLY)
assert fd < 0 and ctypes.get_errno() == 116, "a deleted file's handle is stale"
print("ok")
"#;
    assert_eq!(sh(&f.mnt, &format!("python3 - <<'PY'\n{script}\nPY")).trim(), "ok", "{mode}");
    f.unmount();
}

/// renameat2(RENAME_WHITEOUT) (overlayfs's own way of deleting a name) leaves a 0:0 character
/// device where the source was.
fn rename_whiteout_leaves_a_whiteout(mode: Mode) {
    let Some(f) = mounted(mode) else { return };
    let script = r#"
import ctypes, os, stat, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.renameat2(-100, b"proj/README", -100, b"moved", 4) != 0:
    sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
st = os.lstat("proj/README")
assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0, st
assert open("moved").read() == "readme\n"
print("ok")
"#;
    assert_eq!(sh(&f.mnt, &format!("python3 - <<'PY'\n{script}\nPY")).trim(), "ok", "{mode}");
    f.unmount();
}
