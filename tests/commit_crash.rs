//! A commit killed with SIGKILL at a random point, 200 times: after `agentfs gc`, SRC is always
//! either exactly as before the commit or exactly as the mount shows it, and nothing of the
//! commit is left behind.
#![cfg(unix)]

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const RUNS: usize = 200;

fn tree(src: &Path) {
    sh(
        src,
        "mkdir -p a/b c d
         for i in $(seq 1 40); do printf \"file $i\\n\" > a/f$i; done
         for i in $(seq 1 10); do printf \"deep $i\\n\" > a/b/g$i; done
         printf 'keep' > c/keep
         printf 'gone' > d/gone
         head -c 3000000 /dev/zero | tr '\\0' 'z' > big
         ln -s a/f1 link",
    );
}

fn changes(m: &Path) {
    sh(
        m,
        "for i in $(seq 1 40); do printf \"changed $i\\n\" > a/f$i; done
         mkdir -p new/x && for i in $(seq 1 20); do printf \"new $i\\n\" > new/x/n$i; done
         mv a/b renamed-b
         rm -r d
         chmod 700 c
         printf 'tail' >> big
         rm link && ln -s c/keep link",
    );
}

/// Copies `from` over `to` exactly (content, modes, times), emptying `to` first.
fn restore(from: &Path, to: &Path) {
    sh(to, &format!("find . -mindepth 1 -maxdepth 1 -exec rm -rf {{}} + && cp -a {}/. .", from.display()));
}

#[test]
fn a_commit_killed_anywhere_is_finished_or_rolled_back_by_gc() {
    if !fuse_available() {
        return;
    }
    let f = Fixture::new(tree);
    let pristine = f.dir.path().join("pristine");
    sh(f.dir.path(), &format!("cp -a {} {}", f.src.display(), pristine.display()));
    f.mount(&["--pin", "copy"]);
    changes(&f.mnt);
    let before = view(&f.src);
    let after = view(&f.mnt);
    assert_ne!(before, after);

    // One full commit, to learn how long one takes.
    let t = Instant::now();
    let out = f.run(&[os("commit"), f.mnt.as_os_str()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let full = t.elapsed();
    assert_eq!(view(&f.src), after);

    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let (mut rolled_back, mut finished) = (0, 0);
    for run in 0..RUNS {
        restore(&pristine, &f.src);
        assert_eq!(view(&f.src), before);
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let delay = Duration::from_micros(rng % (full.as_micros() as u64 * 12 / 10 + 1));
        let mut child = agentfs_cmd(&f.runtime)
            .arg("commit")
            .arg(&f.mnt)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let gc = f.run(&[os("gc")]);
        assert!(gc.status.success(), "run {run}: gc failed: {}", String::from_utf8_lossy(&gc.stderr));
        let now = view(&f.src);
        if now == before {
            rolled_back += 1;
        } else if now == after {
            finished += 1;
        } else {
            panic!("run {run} (killed after {delay:?}): SRC is neither before nor after the commit");
        }
        let journals = f.runtime.with_file_name("state").join("commits");
        let left = fs::read_dir(&journals).map(|r| r.count()).unwrap_or(0);
        assert_eq!(left, 0, "run {run}: a journal is left");
    }
    eprintln!("{RUNS} kills: {rolled_back} rolled back, {finished} finished (a full commit takes {full:?})");
    assert!(rolled_back > 0 && finished > 0, "the kills must land on both sides of the commit point");
    f.unmount();
}
