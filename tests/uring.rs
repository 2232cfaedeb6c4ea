//! FUSE over io_uring: requests really travel through the ring (served by the daemon's queue
//! threads, one per CPU, while fuser's /dev/fuse threads stay idle); `--io-uring on` is refused
//! with one sentence where the kernel does not offer it, and `auto` falls back to the classic
//! transport; LSEEKs that wait for writeback never starve their queue. Every other mount test
//! runs in the io_uring mode too (`Mode::Uring` in the per-mode matrix).
//!
//! Tests here that change the module parameter hold [`PARAM`], as do the others, so none sees
//! it change under it.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use rustix::fs::{Mode as Perm, OFlags};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

static PARAM: Mutex<()> = Mutex::new(());

fn param_lock() -> MutexGuard<'static, ()> {
    PARAM.lock().unwrap_or_else(|e| e.into_inner())
}

fn populate(src: &Path) {
    fs::write(src.join("file"), b"lower content").unwrap();
    fs::create_dir(src.join("dir")).unwrap();
}

/// Context switches of the daemon's threads (voluntary and not), by thread name (summed over
/// threads of the same name): a thread that served a request was switched to and away from.
fn switches(pid: u32) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for t in fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let comm = fs::read_to_string(t.path().join("comm")).unwrap_or_default().trim().to_string();
        let status = fs::read_to_string(t.path().join("status")).unwrap_or_default();
        let n: u64 = status
            .lines()
            .filter_map(|l| {
                l.strip_prefix("voluntary_ctxt_switches:").or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:"))
            })
            .filter_map(|v| v.trim().parse::<u64>().ok())
            .sum();
        *out.entry(comm).or_insert(0) += n;
    }
    out
}

/// How many more switches threads whose name starts with `prefix` made between two counts.
fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>, prefix: &str) -> u64 {
    let sum = |m: &BTreeMap<String, u64>| m.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v).sum::<u64>();
    sum(after).saturating_sub(sum(before))
}

/// GETXATTR of a missing name, `n` times: a request that does nothing.
fn getxattr_loop(file: &Path, n: usize) {
    let mut buf = [0u8; 64];
    for _ in 0..n {
        let e = rustix::fs::getxattr(file, "user.missing", &mut buf).unwrap_err();
        assert_eq!(e, rustix::io::Errno::NODATA);
    }
}

fn pin_this_thread(cpu: usize) {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set).unwrap();
}

/// `num_possible_cpus()`, from a list like `0-3,8-11`.
fn possible_cpus() -> usize {
    let list = fs::read_to_string("/sys/devices/system/cpu/possible").unwrap();
    list.trim()
        .split(',')
        .map(|r| {
            let (lo, hi) = r.split_once('-').unwrap_or((r, r));
            hi.parse::<usize>().unwrap() - lo.parse::<usize>().unwrap() + 1
        })
        .sum()
}

/// The CPUs this process may run on are 0..cpus().
fn cpus() -> usize {
    let mut n = 0;
    for cpu in 0..rustix::thread::CpuSet::MAX_CPU {
        if rustix::thread::sched_getaffinity(None).unwrap().is_set(cpu) {
            n = cpu + 1;
        }
    }
    n
}

#[test]
fn requests_travel_through_the_queue_of_the_callers_cpu() {
    let _param = param_lock();
    if !fuse_available() || !uring_available() {
        return;
    }
    let f = Fixture::in_mode(Mode::Uring, populate);
    f.mount(&[]);
    let st = f.status();
    assert_eq!(st["transport"], "io_uring");
    assert!(st["transport_reason"].as_str().unwrap().contains("queues, one per CPU"), "{st}");
    let pid = f.daemon_pid().unwrap();
    let file = f.mnt.join("file");
    assert_eq!(fs::read(&file).unwrap(), b"lower content");
    let queues = switches(pid).into_keys().filter(|k| k.starts_with("uring-q")).count();
    assert_eq!(queues, possible_cpus(), "one queue thread per possible CPU");
    // From each CPU in turn: its queue's thread serves, and nothing reaches /dev/fuse.
    let n = 500;
    for cpu in 0..cpus() {
        let (file, before) = (file.clone(), switches(pid));
        std::thread::spawn(move || {
            pin_this_thread(cpu);
            getxattr_loop(&file, n);
        })
        .join()
        .unwrap();
        let after = switches(pid);
        let own = delta(&before, &after, &format!("uring-q{cpu}"));
        assert!(own >= n as u64 / 4, "queue {cpu}: {own} switches for {n} requests: {before:?} -> {after:?}");
        let classic = delta(&before, &after, "fuser-");
        assert!(classic < n as u64 / 10, "/dev/fuse threads woke {classic} times: {before:?} -> {after:?}");
    }
    f.unmount();
    f.assert_gone(Some(pid));
}

#[test]
fn the_classic_mode_has_no_queues_and_its_dev_fuse_threads_serve() {
    let _param = param_lock();
    if !fuse_available() {
        return;
    }
    let f = Fixture::in_mode(Mode::Pinned, populate);
    f.mount(&[]);
    let st = f.status();
    assert_eq!((st["transport"].as_str(), st["transport_reason"].as_str()), (Some("classic"), Some("--io-uring off")));
    let pid = f.daemon_pid().unwrap();
    let before = switches(pid);
    assert!(!before.keys().any(|k| k.starts_with("uring-")), "{before:?}");
    getxattr_loop(&f.mnt.join("file"), 300);
    let after = switches(pid);
    assert!(delta(&before, &after, "fuser-") >= 75, "{before:?} -> {after:?}");
    f.unmount();
}

/// Sets the module parameter for the life of the guard, then puts the old value back.
struct Param {
    old: String,
}

impl Param {
    fn set(value: &str) -> Option<Param> {
        let old = fs::read_to_string(ENABLE_URING).ok()?.trim().to_string();
        if old == value {
            return Some(Param { old });
        }
        fs::write(ENABLE_URING, value).ok()?;
        Some(Param { old })
    }
}

impl Drop for Param {
    fn drop(&mut self) {
        let _ = fs::write(ENABLE_URING, if self.old == "Y" { "1" } else { "0" });
    }
}

#[test]
fn io_uring_on_is_refused_with_one_sentence_where_the_kernel_does_not_offer_it_and_auto_falls_back() {
    let _param = param_lock();
    if !fuse_available() {
        return;
    }
    let Some(_off) = Param::set("N") else {
        eprintln!("skipping: {ENABLE_URING} cannot be read or turned off here");
        return;
    };
    let f = Fixture::new(populate);
    let out = f.run(&[
        os("mount"),
        os("--pin"),
        os("copy"),
        os("--io-uring"),
        os("on"),
        f.src.as_os_str(),
        f.mnt.as_os_str(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");
    assert!(err.contains("echo 1 > /sys/module/fuse/parameters/enable_uring"), "{err}");
    assert!(err.contains("--io-uring auto"), "{err}");
    f.assert_gone(None);
    let id = agentfs_mount_helper::runtime::mount_id(&f.mnt);
    if let Some(loc) = agentfs_mount_helper::pin::location::pins_dir(&f.src) {
        let left: Vec<_> = fs::read_dir(&loc.dir)
            .map(|r| r.flatten().map(|e| e.file_name()).filter(|n| n.to_string_lossy().starts_with(&id)).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "no pin was made: {left:?}");
    }
    // The same through mount(8)'s helper: -o io_uring=on.
    let out = agentfs_cmd(&f.runtime)
        .arg0("mount.fuse.agentfs")
        .args([f.src.as_os_str(), f.mnt.as_os_str(), os("-o"), os("pin=copy,io_uring=on")])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("echo 1 > /sys/module/fuse/parameters/enable_uring"), "{err}");
    f.assert_gone(None);
    // auto (the default) falls back to the classic transport and says why.
    let out = f.run(&[os("mount"), os("--pin"), os("copy"), f.src.as_os_str(), f.mnt.as_os_str()]);
    assert!(out.status.success(), "auto falls back: {}", String::from_utf8_lossy(&out.stderr));
    let st = f.status();
    assert_eq!(st["transport"], "classic");
    assert!(st["transport_reason"].as_str().unwrap().contains("enable_uring"), "{st}");
    assert_eq!(fs::read(f.mnt.join("file")).unwrap(), b"lower content");
    f.unmount();
    f.assert_gone(None);
}

/// Bytes the daemon read with system calls (the lower data it served).
fn daemon_rchar(pid: u32) -> u64 {
    let io = fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    io.lines().find_map(|l| l.strip_prefix("rchar: ")).unwrap().trim().parse().unwrap()
}

#[test]
fn passthrough_opens_answered_through_the_ring_carry_their_backing_file() {
    let _param = param_lock();
    if !fuse_available() || !uring_available() {
        return;
    }
    let f = Fixture::new(|src| {
        let data: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
        fs::write(src.join("large"), data).unwrap();
    });
    f.mount(&["--pin", "copy", "--passthrough", "--io-uring", "on"]);
    let st = f.status();
    assert_eq!((st["transport"].as_str(), st["passthrough"].as_bool()), (Some("io_uring"), Some(true)), "{st}");
    let pid = f.daemon_pid().unwrap();
    let before = daemon_rchar(pid);
    let got = fs::read(f.mnt.join("large")).unwrap();
    assert_eq!(got, fs::read(f.src.join("large")).unwrap());
    assert!(daemon_rchar(pid) - before < 1 << 20, "4 MiB read by the kernel from the backing file, not by the daemon");
    f.unmount();
    f.assert_gone(Some(pid));
}

#[test]
fn when_a_queue_cannot_be_set_up_auto_serves_through_dev_fuse_and_on_mounts_nothing() {
    let _param = param_lock();
    if !fuse_available() || !uring_available() {
        return;
    }
    // The last queue fails after the others registered their entries: requests, which wait
    // for a complete ring, must be let through /dev/fuse.
    let last = (possible_cpus() - 1).to_string();
    let f = Fixture::new(populate);
    let mount = |mode: &str| {
        agentfs_cmd(&f.runtime)
            .args([
                os("mount"),
                os("--pin"),
                os("copy"),
                os("--io-uring"),
                os(mode),
                f.src.as_os_str(),
                f.mnt.as_os_str(),
            ])
            .env("AGENTFS_FAULT_URING_QID", &last)
            .output()
            .unwrap()
    };
    let out = mount("on");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("io_uring queues could not be set up") && err.contains("fault injected"), "{err}");
    // A daemon that failed to mount keeps its log (the same error, for whoever looks later).
    for log in fs::read_dir(f.runtime.join("logs")).unwrap().flatten() {
        assert!(fs::read_to_string(log.path()).unwrap().contains("fault injected"));
        fs::remove_file(log.path()).unwrap();
    }
    f.assert_gone(None);
    let out = mount("auto");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let st = f.status();
    assert_eq!(st["transport"], "classic", "{st}");
    assert!(st["transport_reason"].as_str().unwrap().contains("fault injected"), "{st}");
    assert_eq!(fs::read(f.mnt.join("file")).unwrap(), b"lower content");
    fs::write(f.mnt.join("dir/new"), b"written").unwrap();
    assert_eq!(fs::read(f.mnt.join("dir/new")).unwrap(), b"written");
    let pid = f.daemon_pid().unwrap();
    f.unmount();
    f.assert_gone(Some(pid));
}

#[test]
fn lseeks_waiting_for_writeback_never_starve_their_queue() {
    let _param = param_lock();
    if !fuse_available() || !uring_available() {
        return;
    }
    let f = Fixture::in_mode(Mode::Uring, populate);
    f.mount(&[]);
    // Many more SEEK_DATA/SEEK_HOLE at once than a queue has entries, each on a file whose
    // data is still dirty in the writeback cache (so each waits for the flush worker, whose
    // writes are requests too), from every CPU.
    let threads = 48;
    let (tx, rx) = std::sync::mpsc::channel();
    for i in 0..threads {
        let (dir, tx) = (f.mnt.clone(), tx.clone());
        std::thread::spawn(move || {
            pin_this_thread(i % cpus());
            let p = dir.join(format!("sparse{i}"));
            let file = fs::File::options().create_new(true).read(true).write(true).open(&p).unwrap();
            for round in 0..4u64 {
                let at = (round + 1) << 20;
                std::os::unix::fs::FileExt::write_all_at(&file, b"data", at).unwrap();
                let data = rustix::fs::seek(&file, rustix::fs::SeekFrom::Data(0)).unwrap();
                let hole = rustix::fs::seek(&file, rustix::fs::SeekFrom::Hole(at)).unwrap();
                assert_eq!((data, hole), (1 << 20, at + 4));
            }
            drop(file);
            tx.send(i).unwrap();
        });
    }
    drop(tx);
    for _ in 0..threads {
        rx.recv_timeout(Duration::from_secs(60)).expect("an lseek never came back");
    }
    f.unmount();
    f.assert_gone(None);
}

#[test]
fn unmounting_while_requests_are_in_flight_ends_every_queue_thread() {
    let _param = param_lock();
    if !fuse_available() || !uring_available() {
        return;
    }
    let f = Fixture::in_mode(Mode::Uring, populate);
    f.mount(&[]);
    let pid = f.daemon_pid().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // Workers hold the mount's root open and go on through it after it is detached.
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let root = rustix::fs::open(&f.mnt, OFlags::DIRECTORY | OFlags::RDONLY, Perm::empty()).unwrap();
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                pin_this_thread(i % cpus());
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let name = format!("w{i}-{}", n % 16);
                    let file = rustix::fs::openat(&root, &name, OFlags::CREATE | OFlags::RDWR, Perm::RUSR | Perm::WUSR);
                    if let Ok(file) = file {
                        let _ = rustix::io::pwrite(&file, &[7u8; 64 << 10], 0);
                        let _ = rustix::io::pread(&file, &mut [0u8; 4096], 0);
                        let _ = rustix::fs::fsync(&file);
                    }
                    let _ = rustix::fs::statat(&root, &name, rustix::fs::AtFlags::empty());
                    n += 1;
                }
                n
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let out = f.run(&[os("unmount"), os("--lazy"), f.mnt.as_os_str()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Detached, the mount still serves its open directory through the ring.
    std::thread::sleep(Duration::from_millis(300));
    assert!(alive(pid));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        assert!(w.join().unwrap() > 0);
    }
    // The last reference gone, the kernel ends the connection: every entry completes with an
    // error, every queue thread ends, the daemon cleans up and exits.
    assert!(wait_until(Duration::from_secs(20), || !alive(pid)), "the daemon ended");
    f.assert_gone(Some(pid));
}
