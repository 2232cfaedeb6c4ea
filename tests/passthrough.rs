//! FUSE passthrough (`--passthrough`) and partial copy-up, through real mounts: readers never
//! see stale data, reads of large files bypass the daemon, and writing into a large lower file
//! costs only what is written, in either I/O mode. FUSE passthrough is Linux's.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::Path;

const MIB: u64 = 1 << 20;

fn pattern(off: u64, n: usize) -> Vec<u8> {
    (0..n as u64).map(|i| ((off + i) % 251) as u8).collect()
}

fn populate(src: &Path) {
    fs::write(src.join("large"), pattern(0, 8 * MIB as usize)).unwrap();
    fs::write(src.join("small"), b"small lower file").unwrap();
    // 1 GiB, sparse: only the ends hold data.
    let f = File::create(src.join("huge")).unwrap();
    f.write_all_at(b"head", 0).unwrap();
    f.write_all_at(b"tail", (1 << 30) - 4).unwrap();
}

/// Bytes the daemon has read with system calls: the lower file's data it served, whichever
/// transport carried the replies (a reply written to /dev/fuse counts as written, one committed
/// through an io_uring queue as neither).
fn daemon_rchar(pid: u32) -> u64 {
    let io = fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    io.lines().find_map(|l| l.strip_prefix("rchar: ")).unwrap().trim().parse().unwrap()
}

fn mounted(opts: &[&str]) -> Option<Fixture> {
    if !fuse_available() {
        return None;
    }
    let f = Fixture::new(populate);
    f.mount(opts);
    Some(f)
}

#[test]
fn a_lower_file_read_through_passthrough_is_never_stale() {
    let Some(f) = mounted(&["--pin", "copy", "--passthrough"]) else { return };
    assert_eq!(f.status()["passthrough"], true, "the kernel granted passthrough");
    let pid = f.daemon_pid().unwrap();
    let path = f.mnt.join("large");
    let mut reader = File::open(&path).unwrap();
    let before = daemon_rchar(pid);
    let mut all = Vec::new();
    reader.read_to_end(&mut all).unwrap();
    assert_eq!(all, pattern(0, 8 * MIB as usize));
    assert!(daemon_rchar(pid) - before < MIB, "8 MiB read without the daemon serving the data");
    // While it is read from the lower file, nothing may change it: a writer is told so.
    let err = OpenOptions::new().write(true).open(&path).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ETXTBSY));
    let out = std::process::Command::new("truncate").args(["-s", "10"]).arg(&path).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("Text file busy"), "{out:?}");
    // Small lower files are read through the page cache and can be written meanwhile.
    let small_reader = File::open(f.mnt.join("small")).unwrap();
    fs::write(f.mnt.join("small"), b"rewritten").unwrap();
    let mut s = String::new();
    (&small_reader).read_to_string(&mut s).unwrap();
    assert_eq!(s, "rewritten");
    drop(small_reader);
    // Once the reader is gone, the file can be written, and new readers see the new data.
    drop(reader);
    let w = OpenOptions::new().write(true).open(&path).unwrap();
    w.write_all_at(b"NEW", MIB).unwrap();
    drop(w);
    let mut again = Vec::new();
    File::open(&path).unwrap().read_to_end(&mut again).unwrap();
    let mut want = pattern(0, 8 * MIB as usize);
    want[MIB as usize..MIB as usize + 3].copy_from_slice(b"NEW");
    assert_eq!(again, want);
    f.unmount();
    assert_eq!(fs::read(f.src.join("large")).unwrap(), pattern(0, 8 * MIB as usize));
}

fn requests(f: &Fixture, op: &str) -> u64 {
    f.status()["requests"]["by_operation"][op].as_u64().unwrap_or(0)
}

#[test]
fn upper_files_are_written_by_the_kernel_within_the_budget() {
    let Some(f) = mounted(&["--pin", "copy", "--size", "64M", "--passthrough"]) else { return };
    let path = f.mnt.join("upper");
    let writes = requests(&f, "write");
    fs::write(&path, vec![b'a'; 4 * MIB as usize]).unwrap();
    assert_eq!(requests(&f, "write"), writes, "4 MiB written without a WRITE reaching the daemon");
    assert_eq!(fs::metadata(&path).unwrap().len(), 4 * MIB);
    let reader = File::open(&path).unwrap();
    let mut buf = vec![0u8; 4 * MIB as usize];
    reader.read_exact_at(&mut buf, 0).unwrap();
    assert!(buf.iter().all(|b| *b == b'a'));
    // A writer beside the reader: allowed, and the reader sees the write at once.
    let mut writer = OpenOptions::new().write(true).open(&path).unwrap();
    writer.write_all(b"XYZ").unwrap();
    let mut three = [0u8; 3];
    reader.read_exact_at(&mut three, 0).unwrap();
    assert_eq!(&three, b"XYZ");
    // The kernel's writes show in the file's times, and a time set afterwards stays.
    let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(946_684_800);
    writer.set_modified(old).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), old);
    writer.write_all_at(b"!", 10).unwrap();
    let after = fs::metadata(&path).unwrap().modified().unwrap();
    assert!(after > old + std::time::Duration::from_secs(3600 * 24 * 365), "{after:?}");
    // Set-id bits given while the kernel writes the file directly stay for a writer with
    // CAP_FSETID, as on Linux (tests/privileges.rs has the writers without it).
    fs::set_permissions(&path, fs::Permissions::from_mode(0o4755)).unwrap();
    writer.write_all_at(b"#", 11).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o7777, 0o4755);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    // The kernel itself refuses bytes past the budget.
    let big = vec![1u8; 16 * MIB as usize];
    let mut err = None;
    for i in 0..8u64 {
        if let Err(e) = writer.write_all_at(&big, 4 * MIB + i * 16 * MIB) {
            err = Some(e);
            break;
        }
    }
    assert_eq!(err.and_then(|e| e.raw_os_error()), Some(libc::ENOSPC));
    assert_eq!(requests(&f, "write"), writes, "no WRITE reached the daemon");
    // A freeze cannot stop the kernel's writes: snapshot, diff and commit refuse meanwhile.
    let out = f.run(&[os("diff"), f.mnt.as_os_str()]);
    assert_eq!(out.status.code(), Some(5), "diff while the kernel writes: busy");
    assert!(String::from_utf8_lossy(&out.stderr).contains("open for writing"), "{out:?}");
    drop((reader, writer));
    assert!(wait_until(std::time::Duration::from_secs(5), || f.run(&[os("diff"), f.mnt.as_os_str()]).status.success()));
    let used = f.status()["upper"]["used_bytes"].as_u64().unwrap();
    // The private tmpfs holds at most the budget; the daemon's own bookkeeping of the file
    // (under a kilobyte) comes on top.
    assert!((48 * MIB..=64 * MIB + 64 * 1024).contains(&used), "what the kernel wrote is charged: {used}");
    // A mapping outlives its file and writes without anyone being told: the next stat
    // still sees the new time.
    File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
    let script = "import mmap, os, sys\n\
        fd = os.open('upper', os.O_RDWR)\n\
        m = mmap.mmap(fd, 4096)\n\
        os.close(fd)\n\
        print(os.stat('upper').st_mtime)\n\
        sys.stdout.flush()\n\
        m[0:1] = b'M'\n\
        m.close()";
    let before: f64 = sh(&f.mnt, &format!("python3 -c \"{script}\"")).trim().parse().unwrap();
    assert_eq!(before, 946_684_800.0, "the time set before the mapping");
    assert!(fs::metadata(&path).unwrap().modified().unwrap() > old, "a write through a mapping after close");
    assert_eq!(fs::read(&path).unwrap()[0], b'M');
    fs::remove_file(&path).unwrap();
    assert!(f.status()["upper"]["used_bytes"].as_u64().unwrap() < MIB, "its memory came back");
    f.unmount();
    assert!(!f.src.join("upper").exists());
}

#[test]
fn appending_a_byte_to_a_1gib_lower_file_uses_kilobytes_of_ram() {
    for mode in [&["--pin", "copy"][..], &["--pin", "copy", "--passthrough"]] {
        let Some(f) = mounted(mode) else { return };
        append_one_byte(&f);
    }
}

fn append_one_byte(f: &Fixture) {
    let path = f.mnt.join("huge");
    OpenOptions::new().append(true).open(&path).unwrap().write_all(b"!").unwrap();
    let used = f.status()["upper"]["used_bytes"].as_u64().unwrap();
    assert!(used < 256 * 1024, "appending one byte took {used} bytes of RAM");
    let file = File::open(&path).unwrap();
    assert_eq!(file.metadata().unwrap().len(), (1 << 30) + 1);
    let mut b = [0u8; 5];
    file.read_exact_at(&mut b, (1 << 30) - 4).unwrap();
    assert_eq!(&b, b"tail!");
    file.read_exact_at(&mut b[..4], 0).unwrap();
    assert_eq!(&b[..4], b"head");
    drop(file);
    f.unmount();
    assert_eq!(fs::metadata(f.src.join("huge")).unwrap().len(), 1 << 30);
}

#[test]
fn a_partly_copied_file_reads_right_after_writes_truncates_and_punches() {
    for mode in [&["--pin", "copy"][..], &["--pin", "copy", "--passthrough"]] {
        let Some(f) = mounted(mode) else { return };
        partly_copied(&f);
    }
}

fn partly_copied(f: &Fixture) {
    let path = f.mnt.join("large");
    let mut want = pattern(0, 8 * MIB as usize);
    let file = OpenOptions::new().read(true).write(true).open(&path).unwrap();
    for (off, data) in [(3 * MIB + 17, &b"middle"[..]), (0, b"start"), (8 * MIB - 2, b"over the end")] {
        file.write_all_at(data, off).unwrap();
        let end = off as usize + data.len();
        if want.len() < end {
            want.resize(end, 0);
        }
        want[off as usize..end].copy_from_slice(data);
    }
    let mut got = Vec::new();
    File::open(&path).unwrap().read_to_end(&mut got).unwrap();
    assert_eq!(got, want);
    // Shrink, then grow: the lower bytes past the shrink must not come back.
    file.set_len(2 * MIB).unwrap();
    file.set_len(5 * MIB).unwrap();
    want.truncate(2 * MIB as usize);
    want.resize(5 * MIB as usize, 0);
    // Punch a hole across written and lower bytes.
    rustix::fs::fallocate(
        &file,
        rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE,
        0,
        MIB,
    )
    .unwrap();
    want[..MIB as usize].fill(0);
    drop(file);
    let mut got = Vec::new();
    File::open(&path).unwrap().read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "content differs after truncate and punch");
    let used = f.status()["upper"]["used_bytes"].as_u64().unwrap();
    assert!(used < MIB, "only written bytes are in RAM: {used}");
    f.unmount();
    assert_eq!(fs::read(f.src.join("large")).unwrap(), pattern(0, 8 * MIB as usize));
}

#[test]
fn by_default_every_byte_goes_through_the_daemon_and_writers_never_wait() {
    let Some(f) = mounted(&["--pin", "copy"]) else { return };
    assert_eq!(f.status()["passthrough"], false);
    let pid = f.daemon_pid().unwrap();
    let reader = File::open(f.mnt.join("large")).unwrap();
    let before = daemon_rchar(pid);
    let mut buf = vec![0u8; 8 * MIB as usize];
    reader.read_exact_at(&mut buf, 0).unwrap();
    assert!(daemon_rchar(pid) - before >= 8 * MIB, "the daemon served the data");
    let w = OpenOptions::new().write(true).open(f.mnt.join("large")).unwrap();
    w.write_all_at(b"W", 0).unwrap();
    drop(w);
    let mut one = [0u8; 1];
    reader.read_exact_at(&mut one, 0).unwrap();
    assert_eq!(&one, b"W");
    drop(reader);
    f.unmount();
}

/// A program running from the mount keeps its file: opening it for writing or with O_TRUNC is
/// ETXTBSY and leaves it whole. (With ATOMIC_O_TRUNC the daemon would truncate during OPEN,
/// before the kernel checks for a running executable.)
fn a_running_program_keeps_its_file(opts: &[&str]) {
    let Some(f) = mounted(opts) else { return };
    let exe = f.mnt.join("sleeper");
    let original = fs::read("/bin/sleep").unwrap();
    fs::write(&exe, &original).unwrap();
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
    for _ in 0..5 {
        let mut child = std::process::Command::new(&exe).arg("10").spawn().unwrap();
        for (write, truncate) in [(true, false), (true, true), (false, true)] {
            let mut o = OpenOptions::new();
            o.read(true).write(write);
            if truncate {
                use std::os::unix::fs::OpenOptionsExt;
                o.custom_flags(libc::O_TRUNC);
            }
            let Err(err) = o.open(&exe) else { panic!("{opts:?}: opened a running program (trunc={truncate})") };
            assert_eq!(err.raw_os_error(), Some(libc::ETXTBSY), "{opts:?} write={write} trunc={truncate}");
        }
        assert_eq!(child.try_wait().unwrap(), None, "{opts:?}: the program still runs");
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(fs::read(&exe).unwrap() == original, "{opts:?}: the program's file is whole");
    }
    f.unmount();
}

#[test]
fn a_running_program_keeps_its_file_in_either_io_mode() {
    a_running_program_keeps_its_file(&["--pin", "copy"]);
    a_running_program_keeps_its_file(&["--pin", "copy", "--passthrough"]);
}
