//! Test harness: real agentfs mounts of temporary trees, and checks that nothing is left.
#![allow(dead_code)]

pub mod hostile;
pub mod loopfs;
mod modes;

pub use modes::Mode;

use agentfs_mount_helper::{registry, runtime::mount_id};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub const AGENTFS: &str = env!("CARGO_BIN_EXE_agentfs");

/// Whether FUSE tests can run; with CI=true a missing /dev/fuse fails instead of skipping.
pub fn fuse_available() -> bool {
    let ok = Path::new("/dev/fuse").exists() && rustix::process::geteuid().is_root();
    if !ok && std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but FUSE is not usable here (need /dev/fuse and root)");
    }
    if !ok {
        eprintln!("skipping: FUSE tests need /dev/fuse and root");
    }
    ok
}

/// The module parameter that lets the kernel offer FUSE over io_uring.
pub const ENABLE_URING: &str = "/sys/module/fuse/parameters/enable_uring";

/// Whether the kernel offers FUSE over io_uring to new mounts.
pub fn uring_enabled() -> bool {
    fs::read_to_string(ENABLE_URING).is_ok_and(|v| matches!(v.trim(), "Y" | "1"))
}

/// Whether io_uring-mode tests can run: the fuse module parameter enable_uring must be on
/// (scripts/test turns it on for the run). With CI=true, off fails instead of skipping.
pub fn uring_available() -> bool {
    let on = uring_enabled();
    if !on && std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but FUSE over io_uring is off ({ENABLE_URING} is not Y); scripts/test turns it on as root");
    }
    if !on {
        eprintln!(
            "skipping the io_uring mode: {ENABLE_URING} is off (as root: echo 1 > {ENABLE_URING}, or run scripts/test)"
        );
    }
    on
}

/// Runs `agentfs` with `args`, isolated to `runtime` as its runtime directory (and the state
/// directory beside it).
pub fn agentfs(runtime: &Path, args: &[&OsStr]) -> Output {
    agentfs_cmd(runtime).args(args).output().expect("run agentfs")
}

/// The `agentfs` command, isolated like [`agentfs`].
pub fn agentfs_cmd(runtime: &Path) -> Command {
    let mut c = Command::new(AGENTFS);
    c.env("AGENTFS_RUNTIME_DIR", runtime).env("AGENTFS_STATE_DIR", runtime.with_file_name("state"));
    c
}

pub fn os<S: AsRef<OsStr> + ?Sized>(s: &S) -> &OsStr {
    s.as_ref()
}

/// A source tree, a mount point and a runtime directory in one temporary directory.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub src: PathBuf,
    pub mnt: PathBuf,
    pub runtime: PathBuf,
    /// The I/O mode every mount of this fixture asks for (none: the defaults).
    pub mode: Option<Mode>,
}

impl Fixture {
    pub fn new(populate: impl FnOnce(&Path)) -> Fixture {
        let dir = tempfile::Builder::new().prefix("agentfs-test").tempdir().unwrap();
        let src = dir.path().join("src");
        let mnt = dir.path().join("mnt");
        let runtime = dir.path().join("run");
        fs::create_dir(&src).unwrap();
        fs::create_dir(&mnt).unwrap();
        populate(&src);
        Fixture { dir, src: src.canonicalize().unwrap(), mnt: mnt.canonicalize().unwrap(), runtime, mode: None }
    }

    /// A fixture whose mounts run in `mode`.
    pub fn in_mode(mode: Mode, populate: impl FnOnce(&Path)) -> Fixture {
        let mut f = Fixture::new(populate);
        f.mode = Some(mode);
        f
    }

    /// A fixture whose SRC is `src` (made by `populate`, e.g. on a loop filesystem).
    pub fn with_src(src: &Path, populate: impl FnOnce(&Path)) -> Fixture {
        let dir = tempfile::Builder::new().prefix("agentfs-test").tempdir().unwrap();
        let mnt = dir.path().join("mnt");
        fs::create_dir(&mnt).unwrap();
        fs::create_dir_all(src).unwrap();
        populate(src);
        let runtime = dir.path().join("run");
        Fixture { src: src.canonicalize().unwrap(), mnt: mnt.canonicalize().unwrap(), runtime, dir, mode: None }
    }

    /// `agentfs status --json` of this mount.
    pub fn status(&self) -> serde_json::Value {
        let out = self.run(&[os("status"), os("--json"), self.mnt.as_os_str()]);
        assert!(out.status.success(), "status: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Mounts (in the fixture's mode, then `opts`); returns stderr (notices, warnings).
    pub fn mount_stderr(&self, opts: &[&str]) -> String {
        let mut args: Vec<&OsStr> = vec![os("mount")];
        args.extend(self.mode.map_or(&[][..], Mode::mount_args).iter().map(os));
        args.extend(opts.iter().map(os));
        args.push(self.src.as_os_str());
        args.push(self.mnt.as_os_str());
        let out = self.run(&args);
        assert!(out.status.success(), "mount failed: {}", String::from_utf8_lossy(&out.stderr));
        if let Some(mode) = self.mode {
            let st = self.status();
            assert_eq!(st["transport"], mode.transport(), "the {mode} mode's transport: {}", st["transport_reason"]);
        }
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub fn run(&self, args: &[&OsStr]) -> Output {
        agentfs(&self.runtime, args)
    }

    /// Mounts with extra `opts`; panics with the daemon's message if that fails.
    pub fn mount(&self, opts: &[&str]) {
        self.mount_stderr(opts);
    }

    /// The state `list --json` gives this fixture's mount ("" when it is not listed).
    pub fn list_state(&self) -> String {
        let out = self.run(&[os("list"), os("--json")]);
        let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mine = all.as_array().unwrap().iter().find(|m| m["mountpoint"] == self.mnt.display().to_string());
        mine.map(|m| m["state"].as_str().unwrap_or_default().to_string()).unwrap_or_default()
    }

    pub fn unmount(&self) {
        let out = self.run(&[os("unmount"), self.mnt.as_os_str()]);
        assert!(out.status.success(), "unmount failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The daemon's pid from its registry record.
    pub fn daemon_pid(&self) -> Option<u32> {
        let path = self.runtime.join("mounts").join(format!("{}.rec", mount_id(&self.mnt)));
        registry::decode(&fs::read(path).ok()?).ok().map(|r| r.pid)
    }

    /// A directory beside the mount, on the native filesystem, that other users can reach: the
    /// reference a test compares the mount with.
    pub fn native_dir(&self) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(self.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let native = self.dir.path().join("native");
        fs::create_dir(&native).unwrap();
        native
    }

    pub fn is_mounted(&self) -> bool {
        agentfs_mount_helper::mountinfo::mount_at(&self.mnt).is_some()
    }

    /// Asserts that nothing of the mount remains: no mount, no daemon, no record, no log, an
    /// empty mount point.
    pub fn assert_gone(&self, pid: Option<u32>) {
        assert!(!self.is_mounted(), "still mounted");
        if let Some(pid) = pid {
            assert!(wait_until(Duration::from_secs(10), || !alive(pid)), "daemon {pid} still running");
        }
        assert_eq!(fs::read_dir(&self.mnt).unwrap().count(), 0, "mount point not empty");
        for sub in ["mounts", "logs"] {
            let d = self.runtime.join(sub);
            let left: Vec<_> =
                fs::read_dir(&d).map(|r| r.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
            let contents: Vec<String> = left
                .iter()
                .map(|n| String::from_utf8_lossy(&fs::read(d.join(n)).unwrap_or_default()).into_owned())
                .collect();
            assert!(left.is_empty(), "left in {}: {left:?}\n{}", d.display(), contents.join("\n"));
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if self.is_mounted() {
            let _ = Command::new("umount").arg("-l").arg(&self.mnt).output();
        }
    }
}

/// Whether a live (not zombie) process has this pid.
pub fn alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')).unwrap_or(false),
        Err(_) => false,
    }
}

pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// Everything about a tree that writing to it would change: names, types, content, symlink
/// targets, mode, owner, size, mtime, ctime, inode numbers and link counts (not atime).
pub fn fingerprint(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        let md = fs::symlink_metadata(dir).unwrap();
        out.insert(dir.strip_prefix(root).unwrap().to_path_buf(), describe(dir, &md));
        if !md.is_dir() {
            return;
        }
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let md = fs::symlink_metadata(&p).unwrap();
            if md.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_path_buf(), describe(&p, &md));
            }
        }
    }
    fn describe(p: &Path, md: &fs::Metadata) -> String {
        let content = if md.is_file() {
            blake3::hash(&fs::read(p).unwrap()).to_hex().to_string()
        } else if md.file_type().is_symlink() {
            fs::read_link(p).unwrap().display().to_string()
        } else {
            String::new()
        };
        format!(
            "mode={:o} uid={} gid={} size={} mtime={}.{} ctime={}.{} ino={} nlink={} {content}",
            md.mode(),
            md.uid(),
            md.gid(),
            if md.is_dir() { 0 } else { md.size() },
            md.mtime(),
            md.mtime_nsec(),
            md.ctime(),
            md.ctime_nsec(),
            md.ino(),
            md.nlink()
        )
    }
    walk(root, root, &mut out);
    out
}

/// Runs a shell command, panicking with its output if it fails.
pub fn sh(dir: &Path, script: &str) -> String {
    let out = Command::new("bash").arg("-euo").arg("pipefail").arg("-c").arg(script).current_dir(dir).output().unwrap();
    assert!(
        out.status.success(),
        "`{script}` failed in {}:\nstdout: {}\nstderr: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The uid of the `tests` user that scripts/test creates, for tests that act as another user;
/// None, saying the test is skipped, where there is none.
pub fn tests_user() -> Option<u32> {
    let uid = user_id("tests");
    if uid.is_none() {
        eprintln!("skipping: no 'tests' user (scripts/test creates it)");
    }
    uid
}

/// The uid of user `name`, if it exists (scripts/test creates "tests").
pub fn user_id(name: &str) -> Option<u32> {
    let out = Command::new("id").arg("-u").arg(name).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// What a person sees of a tree: types, contents, symlink targets, modes, owners, file times
/// and link counts (not inode numbers, ctimes or directory times).
pub fn view(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let md = fs::symlink_metadata(&p).unwrap();
            let what = if md.is_dir() {
                format!("dir {:o} {}:{}", md.mode() & 0o7777, md.uid(), md.gid())
            } else if md.file_type().is_symlink() {
                format!("symlink -> {} mtime={}", fs::read_link(&p).unwrap().display(), md.mtime())
            } else if md.is_file() {
                format!(
                    "file {:o} {}:{} nlink={} mtime={}.{} {}",
                    md.mode() & 0o7777,
                    md.uid(),
                    md.gid(),
                    md.nlink(),
                    md.mtime(),
                    md.mtime_nsec(),
                    blake3::hash(&fs::read(&p).unwrap()).to_hex()
                )
            } else {
                format!("special {:o} rdev={}", md.mode(), md.rdev())
            };
            out.insert(p.strip_prefix(root).unwrap().to_path_buf(), what);
            if md.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    walk(root, root, &mut out);
    out
}

/// mount(8) finds its helper for `-t fuse.agentfs` in /sbin, which every test run on this
/// machine shares. This gives the calling thread (a test runs on a thread of its own) a mount
/// namespace of its own whose /sbin has an overlay holding `mount.fuse.agentfs` -> the agentfs
/// under test: the mounts the test makes, and the helper they use, are its own, whatever other
/// test runs install at the same time. Commands the thread starts inherit the namespace.
#[cfg(target_os = "linux")]
pub struct PrivateHelper {
    sbin: PathBuf,
    _dir: tempfile::TempDir,
}

#[cfg(target_os = "linux")]
impl PrivateHelper {
    pub fn install() -> PrivateHelper {
        use rustix::mount::{MountFlags, MountPropagationFlags, mount, mount_change};
        agentfs_platform::sys::namespace::unshare_mounts().expect("a mount namespace for the test thread");
        mount_change("/", MountPropagationFlags::REC | MountPropagationFlags::PRIVATE).unwrap();
        let dir = tempfile::Builder::new().prefix("agentfs-helper").tempdir().unwrap();
        let (upper, work) = (dir.path().join("upper"), dir.path().join("work"));
        fs::create_dir(&upper).unwrap();
        fs::create_dir(&work).unwrap();
        std::os::unix::fs::symlink(AGENTFS, upper.join("mount.fuse.agentfs")).unwrap();
        let sbin = fs::canonicalize("/sbin").unwrap();
        let data = format!("lowerdir={},upperdir={},workdir={}", sbin.display(), upper.display(), work.display());
        let data = std::ffi::CString::new(data).unwrap();
        mount("overlay", &sbin, "overlay", MountFlags::empty(), data.as_c_str()).expect("an overlay over /sbin");
        assert_eq!(fs::read_link("/sbin/mount.fuse.agentfs").unwrap(), Path::new(AGENTFS));
        PrivateHelper { sbin, _dir: dir }
    }
}

#[cfg(target_os = "linux")]
impl Drop for PrivateHelper {
    fn drop(&mut self) {
        let _ = rustix::mount::unmount(&self.sbin, rustix::mount::UnmountFlags::DETACH);
    }
}

/// The mount table line of `mnt` in this thread's namespace: (mount options, source, super
/// options).
pub fn mount_line(mnt: &Path) -> Option<(String, String, String)> {
    let m = agentfs_mount_helper::mountinfo::mount_at(mnt)?;
    Some((m.options, m.source.to_string_lossy().into_owned(), m.super_options))
}
