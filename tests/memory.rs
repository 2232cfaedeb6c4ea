//! The daemon's memory is bounded by what the user set: lower nodes leave memory when the
//! kernel forgets them, memory of deleted files goes back to the system, and the RAM budget
//! charges what upper files really cost, so the RSS stays within the budget plus a fixed base.
//! In the pinned mode, the default users get on btrfs and XFS.
#![cfg(unix)]

mod common;

use common::*;
use std::fs;
use std::time::Duration;

/// What the daemon uses besides the upper layer and its cache of lower nodes: code, thread
/// stacks, the allocator's arenas, the read-ahead memory (README, "Memory").
const BASE: u64 = 40 << 20;

per_mode!(a_write_past_the_budget_fails_where_the_mode_says);
per_mode!(files_the_daemon_holds_and_files_the_kernel_writes_share_the_budget);

fn rss(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap();
    kb << 10
}

/// Waits until the daemon's RSS is at most `limit` (memory goes back within seconds).
fn settles_below(pid: u32, limit: u64) -> bool {
    wait_until(Duration::from_secs(20), || rss(pid) <= limit)
}

fn drop_caches() {
    sh(std::path::Path::new("/"), "sync; echo 2 > /proc/sys/vm/drop_caches");
}

#[test]
fn a_walk_of_200k_lower_files_is_forgotten_with_the_kernel_cache() {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(Mode::Pinned, |src| {
        sh(
            src,
            "python3 -c \"import os\nfor d in range(200):\n os.mkdir(str(d))\n for i in range(1000):\n  open(f'{d}/{i}', 'w').close()\"",
        );
    });
    f.mount(&[]);
    let pid = f.daemon_pid().unwrap();
    let start = rss(pid);
    assert_eq!(sh(&f.mnt, "find . -type f | wc -l").trim(), "200000");
    let walked = rss(pid);
    assert!(walked > start + (20 << 20), "the walk cached nodes ({start} -> {walked})");
    drop_caches();
    assert!(settles_below(pid, start + (16 << 20)), "RSS after drop_caches: {} (start {start})", rss(pid));
    f.unmount();
}

#[test]
fn memory_of_deleted_files_goes_back_to_the_system() {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(Mode::Pinned, |_| {});
    f.mount(&["--size", "1G"]);
    let pid = f.daemon_pid().unwrap();
    let start = rss(pid);
    // 500 MB in 50k files of 10 KB, then all deleted.
    sh(
        &f.mnt,
        "python3 -c \"import os\nb = b'x' * 10000\nfor d in range(50):\n os.mkdir(str(d))\n for i in range(1000):\n  open(f'{d}/{i}', 'wb').write(b)\"",
    );
    assert!(rss(pid) > start + (200 << 20));
    sh(&f.mnt, "rm -rf ./*");
    drop_caches();
    assert!(settles_below(pid, start + (16 << 20)), "RSS after deleting: {} (start {start})", rss(pid));
    f.unmount();
}

#[test]
fn a_full_budget_of_small_or_large_files_stays_within_it() {
    if !fuse_available() {
        return;
    }
    const BUDGET: u64 = 64 << 20;
    for (what, size) in [("empty files", 0usize), ("100 B files", 100), ("1 MiB files", 1 << 20)] {
        let f = Fixture::in_mode(Mode::Pinned, |_| {});
        f.mount(&["--size", "64M"]);
        let pid = f.daemon_pid().unwrap();
        let script = format!(
            "import os, errno\nb = b'x' * {size}\nn = 0\ntry:\n while True:\n  d = str(n // 1000)\n  os.makedirs(d, exist_ok=True)\n  with open(f'{{d}}/{{n}}', 'wb') as f:\n   f.write(b)\n  n += 1\nexcept OSError as e:\n assert e.errno == errno.ENOSPC, e\nprint(n)"
        );
        let n: u64 = sh(&f.mnt, &format!("python3 -c \"{script}\"")).trim().parse().unwrap();
        assert!(n > 0);
        let used = rss(pid);
        assert!(used < BUDGET + BASE, "{what}: {n} files, RSS {used} past the budget and base");
        f.unmount();
    }
}

/// 100 MiB written into a 64 MiB budget. Without the writeback cache (passthrough, live) the
/// write(2) that passes the budget gets ENOSPC (in passthrough mode from the kernel itself). With it (pinned, io_uring: the kernel takes
/// writes into its page cache), every write(2) succeeds and ENOSPC comes at fsync and at close,
/// as the README says; the file keeps the size the writer wrote on both sides of the mount
/// (what did not fit reads as zeros), and the memory is back once it is deleted.
fn a_write_past_the_budget_fails_where_the_mode_says(mode: Mode) {
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(mode, |_| {});
    f.mount(&["--size", "64M"]);
    let script = "import os, errno\n\
        fd = os.open('big', os.O_WRONLY | os.O_CREAT, 0o644)\n\
        written, at_write, at_fsync = 0, False, False\n\
        try:\n    for i in range(100): written += os.write(fd, bytes([65 + i % 26]) * (1 << 20))\n\
        except OSError as e:\n    assert e.errno == errno.ENOSPC, e\n    at_write = True\n\
        try:\n    os.fsync(fd)\n\
        except OSError as e:\n    assert e.errno == errno.ENOSPC, e\n    at_fsync = True\n\
        os.close(fd)\n\
        print(written, at_write, at_fsync)";
    let out = sh(&f.mnt, &format!("python3 -c \"{script}\""));
    let fields: Vec<&str> = out.split_whitespace().collect();
    let written: u64 = fields[0].parse().unwrap();
    if mode.no_open() {
        assert_eq!(fields[1..], ["False", "True"], "{mode}: write() succeeds, fsync reports ENOSPC");
        assert_eq!(written, 100 << 20);
        sh(std::path::Path::new("/"), "sync; echo 3 > /proc/sys/vm/drop_caches");
        let size = fs::metadata(f.mnt.join("big")).unwrap().len();
        assert_eq!(size, 100 << 20, "{mode}: the size the writer wrote, after the kernel forgot its own");
        let data = fs::read(f.mnt.join("big")).unwrap();
        assert_eq!(data[0], b'A');
        assert_eq!(data[(99 << 20) + 5], 0, "{mode}: what did not fit reads as zeros");
    } else {
        assert_eq!(fields[1], "True", "{mode}: the write past the budget fails: {out}");
        // In passthrough mode the kernel writes the file into a private tmpfs the size of the
        // budget, which holds all 64 MiB; elsewhere the daemon's bookkeeping counts too.
        let most = if mode == Mode::Passthrough { 64 << 20 } else { (64 << 20) - 1 };
        assert!(written <= most, "{mode}: {written} bytes written");
    }
    fs::remove_file(f.mnt.join("big")).unwrap();
    // The memory goes when the kernel forgets the deleted file (FORGET may come a moment later).
    let free = || rustix::fs::statvfs(&f.mnt).map(|st| st.f_bfree * st.f_frsize).unwrap_or(0);
    assert!(wait_until(Duration::from_secs(10), || free() > 60 << 20), "{mode}: the budget is free again");
    f.unmount();
}

/// 8.6 MiB of small lower files copied up (the daemon keeps them on its heap), then 16 MiB
/// written into a new file, under a 16 MiB budget: what is used stays within the budget. In
/// passthrough mode the new file is written by the kernel into the private tmpfs, whose size
/// follows what the rest of the budget uses, a step (64 KiB here) behind; before it did, the
/// kernel could fill the whole budget on top of the heap (24.6 MiB used).
fn files_the_daemon_holds_and_files_the_kernel_writes_share_the_budget(mode: Mode) {
    if !fuse_available() {
        return;
    }
    const BUDGET: u64 = 16 << 20;
    let f = Fixture::in_mode(mode, |src| {
        for i in 0..150 {
            fs::write(src.join(format!("s{i}")), vec![b'a' + (i % 26) as u8; 61_438]).unwrap();
        }
    });
    f.mount(&["--size", "16M"]);
    let script = "import os\n\
        for i in range(150):\n    with open(f's{i}', 'ab') as f: f.write(b'x')\n\
        fd = os.open('new', os.O_WRONLY | os.O_CREAT, 0o644)\n\
        written = 0\n\
        try:\n    for i in range(16): written += os.write(fd, b'n' * (1 << 20))\n    os.fsync(fd)\n\
        except OSError as e:\n    assert e.errno == 28, e\n\
        os.fstat(fd)\n\
        os.close(fd)\n\
        print(written)";
    let written: u64 = sh(&f.mnt, &format!("python3 -c \"{script}\"")).trim().parse().unwrap();
    assert!(written > 0, "{mode}: nothing written");
    let used = f.status()["upper"]["used_bytes"].as_u64().unwrap();
    let lag = if mode == Mode::Passthrough { 1 << 20 } else { 0 };
    assert!(used <= BUDGET + lag, "{mode}: {used} bytes used of {BUDGET} ({written} written)");
    let copied = fs::read(f.mnt.join("s7")).unwrap();
    assert_eq!((copied.len(), copied[0], copied[61_438]), (61_439, b'h', b'x'), "{mode}: a copied-up file");
    // Opened for writing again, the copied-up files move from the heap into the private tmpfs
    // (passthrough), which must grow by what they bring: 4 MiB more still fit after them.
    fs::remove_file(f.mnt.join("new")).unwrap();
    let again = "import os\n\
        for i in range(150):\n    with open(f's{i}', 'ab') as f: f.write(b'y')\n\
        with open('four', 'wb') as f:\n    f.write(b'f' * (4 << 20))\n    f.flush()\n    os.fsync(f.fileno())\n\
        print('ok')";
    assert_eq!(sh(&f.mnt, &format!("python3 -c \"{again}\"")).trim(), "ok", "{mode}: 4 MiB into 7 MiB free");
    let used = f.status()["upper"]["used_bytes"].as_u64().unwrap();
    assert!(used <= BUDGET + lag, "{mode}: {used} bytes used of {BUDGET}");
    f.unmount();
}
