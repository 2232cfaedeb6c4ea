//! For the commit tests: where SRC lives (the pinned I/O modes on this machine's /tmp, and
//! btrfs, XFS and ext4 loop images), decoy directories that must never change, another
//! filesystem to point symlinks at, and the exit code and message of a commit.

use super::loopfs::LoopFs;
use super::*;
use std::process::Command;

/// Where a commit test runs.
#[derive(Clone, Copy, Debug)]
pub enum Place {
    /// Under /tmp, mounted in this I/O mode (`--pin copy`, with or without passthrough).
    Tmp(Mode),
    /// On a fresh loop image of this filesystem: btrfs (SRC in a subvolume: snapshot pins), XFS
    /// (reflink pins), ext4 (copy pins).
    Loop(&'static str),
}

impl Place {
    pub const ALL: [Place; 5] = [
        Place::Tmp(Mode::Pinned),
        Place::Tmp(Mode::Passthrough),
        Place::Loop("btrfs"),
        Place::Loop("xfs"),
        Place::Loop("ext4"),
    ];

    pub fn name(&self) -> String {
        match self {
            Place::Tmp(m) => format!("/tmp ({m})"),
            Place::Loop(fs) => format!("{fs} image"),
        }
    }

    /// A fixture whose SRC `populate` fills; None if this machine cannot make the loop image.
    pub fn setup(&self, populate: impl FnOnce(&Path)) -> Option<Setup> {
        match *self {
            Place::Tmp(mode) => {
                let f = Fixture::in_mode(mode, populate);
                let outside = f.dir.path().join("outside");
                Some(Setup { extra: Default::default(), f, lfs: None, pin: Vec::new(), outside })
            }
            Place::Loop(kind) => {
                let lfs = LoopFs::new(kind, 400)?;
                let home = lfs.root.join("home");
                fs::create_dir(&home).unwrap();
                if kind == "btrfs" {
                    lfs.subvolume(&home.join("vol"));
                }
                let f = Fixture::with_src(&home.join("vol/project"), populate);
                let pin = match kind {
                    "btrfs" => vec!["--pin".to_string(), "snapshot".to_string()],
                    "xfs" => vec!["--pin".to_string(), "reflink".to_string()],
                    _ => vec!["--pin".to_string(), "copy".to_string()],
                };
                let outside = lfs.root.join("outside");
                Some(Setup { extra: Default::default(), f, lfs: Some(lfs), pin, outside })
            }
        }
    }
}

/// A fixture on its filesystem. Field order matters: the mounts go before the image.
pub struct Setup {
    /// Further mounts made by [`Setup::mount_at`], detached when dropped (a test that fails
    /// leaves none behind).
    extra: std::cell::RefCell<Vec<PathBuf>>,
    pub f: Fixture,
    pub lfs: Option<LoopFs>,
    /// The `--pin` option of this place (none on /tmp: the fixture's mode says it).
    pub pin: Vec<String>,
    /// A directory outside SRC on SRC's filesystem, for decoys.
    pub outside: PathBuf,
}

impl Setup {
    pub fn mount(&self) {
        let args: Vec<&str> = self.pin.iter().map(String::as_str).collect();
        self.f.mount(&args);
    }

    /// Mounts SRC a second time at `mnt` (with this place's options).
    pub fn mount_at(&self, mnt: &Path) {
        let mut args: Vec<&OsStr> = vec![os("mount")];
        args.extend(self.f.mode.map_or(&[][..], Mode::mount_args).iter().map(os));
        args.extend(self.pin.iter().map(os));
        args.push(self.f.src.as_os_str());
        args.push(mnt.as_os_str());
        let out = self.f.run(&args);
        assert!(out.status.success(), "mount at {}: {}", mnt.display(), String::from_utf8_lossy(&out.stderr));
        self.extra.borrow_mut().push(mnt.to_path_buf());
    }

    /// A fixture made elsewhere (e.g. on an image of the test's own), with this place's pin.
    pub fn from_fixture(f: Fixture, pin: Vec<String>, outside: PathBuf) -> Setup {
        Setup { extra: Default::default(), f, lfs: None, pin, outside }
    }
}

/// Detaches the mount at its path when dropped, if it is still mounted.
pub struct Detach(pub PathBuf);

impl Drop for Detach {
    fn drop(&mut self) {
        if agentfs_mount_helper::mountinfo::mount_at(&self.0).is_some() {
            let _ = Command::new("umount").arg("-l").arg(&self.0).output();
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        for m in self.extra.borrow().iter() {
            if agentfs_mount_helper::mountinfo::mount_at(m).is_some() {
                let _ = Command::new("umount").arg("-l").arg(m).output();
            }
        }
    }
}

/// The agentfs processes each fixture (by runtime directory) started: staging directories
/// carry their pid.
static STARTED: std::sync::Mutex<Vec<(PathBuf, u32)>> = std::sync::Mutex::new(Vec::new());

/// Starts `c`, an agentfs command of the fixture whose runtime directory is `runtime`,
/// remembering its pid.
pub fn spawn_tracked(runtime: &Path, c: &mut Command) -> std::process::Child {
    let child = c.spawn().unwrap();
    STARTED.lock().unwrap().push((runtime.to_path_buf(), child.id()));
    child
}

/// Runs `agentfs ARGS` with `env` set: its exit code, stdout and stderr.
pub fn agentfs_env(f: &Fixture, args: &[&OsStr], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = agentfs_cmd(&f.runtime);
    c.args(args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let out = spawn_tracked(&f.runtime, &mut c).wait_with_output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// Runs `agentfs commit MNT` with `env` set: its exit code and stderr.
pub fn commit_code(f: &Fixture, mnt: &Path, env: &[(&str, &str)]) -> (i32, String) {
    let (code, _, err) = agentfs_env(f, &[os("commit"), mnt.as_os_str()], env);
    (code, err)
}

/// `agentfs gc` with `env` set: its exit code and all its output.
pub fn gc_code(f: &Fixture, env: &[(&str, &str)]) -> (i32, String) {
    let (code, out, err) = agentfs_env(f, &[os("gc")], env);
    (code, format!("{out}{err}"))
}

/// A decoy tree at `dir`: files of several modes, a subdirectory, a symlink.
pub fn decoy(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    sh(
        dir,
        "printf 'decoy\\n' > keep && chmod 640 keep && mkdir -p sub && printf x > sub/x && chmod 700 sub
         ln -sf keep link",
    );
}

/// A tmpfs mounted at a directory of its own (another filesystem), unmounted when dropped.
pub struct OtherFs {
    pub dir: tempfile::TempDir,
}

impl OtherFs {
    pub fn new() -> OtherFs {
        let dir = tempfile::Builder::new().prefix("agentfs-otherfs").tempdir().unwrap();
        let out =
            Command::new("mount").args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"]).arg(dir.path()).output().unwrap();
        assert!(out.status.success(), "mount tmpfs: {}", String::from_utf8_lossy(&out.stderr));
        OtherFs { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for OtherFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).output();
    }
}

/// What the commits of fixture `f` left in the staging directories they could have used (on
/// SRC's device, from the top of its filesystem down to SRC).
pub fn staging_left(f: &Fixture) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let src = &f.src;
    let dev = fs::metadata(src).unwrap().dev();
    let mut left = Vec::new();
    for a in src.ancestors().filter(|a| fs::metadata(a).is_ok_and(|m| m.dev() == dev)) {
        let d = a.join(".agentfs-staging");
        if let Ok(r) = fs::read_dir(&d) {
            // Only those of our commits (other tests may commit on this filesystem meanwhile).
            let ours: Vec<u32> =
                STARTED.lock().unwrap().iter().filter(|(r, _)| *r == f.runtime).map(|(_, p)| *p).collect();
            let mine = |n: &str| {
                n.rsplit_once('-').and_then(|(_, p)| p.parse::<u32>().ok()).is_some_and(|p| ours.contains(&p))
            };
            left.extend(r.flatten().filter(|e| mine(&e.file_name().to_string_lossy())).map(|e| e.path()));
        }
    }
    left
}

/// Whether some process holds a flock on the directory `dir` (from /proc/locks).
pub fn flocked(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let md = fs::metadata(dir).unwrap();
    let want = format!(":{}", md.ino());
    let locks = fs::read_to_string("/proc/locks").unwrap_or_default();
    locks.lines().any(|l| l.contains("FLOCK") && l.split_whitespace().any(|w| w.ends_with(&want)))
}

/// Asserts two fingerprints are equal, showing only what differs.
#[track_caller]
pub fn assert_same(
    got: &std::collections::BTreeMap<PathBuf, String>,
    want: &std::collections::BTreeMap<PathBuf, String>,
    what: &str,
) {
    let mut diff = Vec::new();
    for k in got.keys().chain(want.keys()).collect::<std::collections::BTreeSet<_>>() {
        if got.get(k) != want.get(k) {
            diff.push(format!("{}: now {:?}, expected {:?}", k.display(), got.get(k), want.get(k)));
        }
    }
    assert!(diff.is_empty(), "{what}:\n{}", diff.join("\n"));
}
