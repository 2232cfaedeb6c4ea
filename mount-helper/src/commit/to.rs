//! `commit --to DIR`: the whole view of a mount as a new tree, built in a staging directory on
//! DIR's filesystem and renamed to DIR (or exchanged with an empty DIR) in one step.

use super::apply::Places;
use super::journal::{Journal, Op, Phase, Target, bytes};
use super::run::{self, Outcome};
use super::{Report, faults};
use crate::changeset::ChangeSet;
use crate::confined::{Dir, Identity, cause};
use crate::control::client::Client;
use crate::error::{Error, Result};
use crate::materialize::Tree;
use crate::owned::STAGING_DIR_NAME;
use crate::pin::location;
use crate::registry::MountRecord;
use crate::target;
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The tree's name in the staging directory.
const TREE: &str = "tree";

/// DIR, checked: its parent (canonical) and name.
fn resolve(mnt: &Path, dir: &Path) -> Result<(PathBuf, OsString)> {
    let parent = match dir.parent() {
        Some(p) if p.as_os_str().is_empty() => PathBuf::from("."),
        Some(p) => p.to_path_buf(),
        None => return Err(Error::Input(format!("{} cannot be the target; give a new directory", dir.display()))),
    };
    let parent = std::fs::canonicalize(&parent)
        .map_err(|e| Error::Input(format!("the parent of {} cannot be used ({e}); create it first", dir.display())))?;
    let name =
        dir.file_name().ok_or_else(|| Error::Input(format!("{} has no name; give a new directory", dir.display())))?;
    let inside_mount = std::fs::metadata(&parent).ok().map(|m| m.dev()) == std::fs::metadata(mnt).ok().map(|m| m.dev());
    if inside_mount {
        return Err(Error::Input(format!(
            "{} is inside the mount {} itself, which cannot take a copy of its own view; give a directory outside it",
            parent.join(name).display(),
            mnt.display()
        )));
    }
    let owned = crate::owned::registered();
    let own_dir = parent
        .ancestors()
        .any(|a| std::fs::symlink_metadata(a).is_ok_and(|m| owned.contains(&Identity { dev: m.dev(), ino: m.ino() })));
    if own_dir || crate::owned::owned_component(&parent.join(name)).is_some() {
        return Err(Error::Input(format!(
            "{} is inside agentfs's own directories (pins, snapshots or staging); give a directory elsewhere",
            parent.join(name).display()
        )));
    }
    Ok((parent, name.to_os_string()))
}

fn open(what: &str, p: &Path) -> Result<Dir> {
    Dir::open_root(p).map_err(|e| {
        Error::System(format!("cannot open {what} {} without following a symlink: {}", p.display(), cause(&e)))
    })
}

/// What is at DIR now: nothing, or an empty directory (replaced).
fn existing(parent: &Dir, name: &OsStr) -> Result<Option<Identity>> {
    let shown = parent.path_of(name);
    let Some(st) = parent.stat(name).map_err(|e| Error::io("cannot read", &shown, &e))? else { return Ok(None) };
    let empty = crate::confined::kind_of(&st) == rustix::fs::FileType::Directory
        && parent.open_dir(Path::new(name)).and_then(|d| crate::confined::entries(&d)).is_ok_and(|e| e.is_empty());
    if !empty {
        return Err(Error::Input(format!(
            "{} exists and is not an empty directory; give a new or empty directory to --to",
            shown.display()
        )));
    }
    Ok(Some(Identity::of(&st)))
}

pub fn commit_to(mnt: &Path, rec: &MountRecord, dir: &Path, dry_run: bool) -> Result<Report> {
    let (parent_path, name) = resolve(mnt, dir)?;
    let parent = open("the parent of", &parent_path)?;
    let old = existing(&parent, &name)?;
    let lower = open("the pin", &rec.pin.lower_root())?;
    target::flush(mnt)?;
    let mut client = Client::connect(&rec.id, mnt)?;
    client.freeze()?;
    let set = ChangeSet::from_wire(client.changes()?)?;
    let lines: Vec<String> =
        set.items.iter().map(|i| format!("{:?} {}", i.what, crate::quote::text(&i.path))).collect();
    let target_path = parent_path.join(&name);
    if dry_run {
        client.thaw()?;
        return Ok(Report { lines, target: target_path, ..Report::default() });
    }
    let place = location::place_for_rename(&parent_path, STAGING_DIR_NAME).ok_or_else(|| {
        Error::Permission(format!(
            "there is no place to build the tree on the filesystem of {}: make a writable directory `{STAGING_DIR_NAME}` on it",
            parent_path.display()
        ))
    })?;
    let staging_parent = open("the staging directory", &place.dir)?;
    let root_id =
        parent.stat_self().map(|st| Identity::of(&st)).map_err(|e| Error::io("cannot read", &parent_path, &e))?;
    let t = Target { root: &parent_path, root_id, staging_parent: &place.dir, mount: Path::new("") };
    let mut j = Journal::begin(super::new_id(), &t)?;
    let built = build(&mut client, &set, rec, &lower, &staging_parent, &j);
    let (staging, tree_id, bytes_written) = match built {
        Ok(x) => x,
        Err(e) => {
            run::clean_up(&j, &parent, &staging_parent);
            return Err(e);
        }
    };
    client.thaw()?;
    j.ops = vec![Op::Put { staged: bytes(Path::new(TREE)), new: tree_id, at: bytes(Path::new(&name)), old }];
    j.phase = Phase::Applying;
    if let Err(e) = j.save() {
        run::clean_up(&j, &parent, &staging_parent);
        return Err(e);
    }
    faults::hold_at_commit_point();
    let places = Places::new(parent.reopen().map_err(|e| Error::io("cannot open", &parent_path, &e))?, staging, &j.ops);
    match run::forward(&mut j, &places) {
        Outcome::Finished => {
            let note = run::clean_up(&j, &parent, &staging_parent);
            Ok(Report {
                lines,
                ops: 1,
                staged_bytes: bytes_written,
                target: target_path,
                notes: note.into_iter().collect(),
                millis: 0,
            })
        }
        Outcome::RolledBack(why) => {
            run::clean_up(&j, &parent, &staging_parent);
            Err(Error::System(format!(
                "the tree could not be put at {}: {why}; nothing was left there",
                target_path.display()
            )))
        }
        // Kept for `agentfs gc` (the journal, and the staging directory with what it holds).
        Outcome::Stuck(why) => Err(Error::System(format!(
            "the tree could not be put at {}, nor taken back: {why}; `agentfs gc` will try once more",
            target_path.display()
        ))),
    }
}

/// Builds the whole view in a new staging directory: a copy (or clone) of the pin with the
/// changes applied, synced. Returns the staging directory, the tree's identity and the bytes
/// of file data written for the changes.
fn build(
    client: &mut Client,
    set: &ChangeSet,
    rec: &MountRecord,
    lower: &Dir,
    staging_parent: &Dir,
    j: &Journal,
) -> Result<(Dir, Identity, u64)> {
    let id = OsStr::new(&j.id);
    let fail = |e: std::io::Error| Error::io("cannot build the tree in", &staging_parent.path_of(id), &e);
    staging_parent.mkdir(id, 0o700).map_err(fail)?;
    let staging = staging_parent.open_dir(Path::new(id)).map_err(fail)?;
    // On the pin's btrfs filesystem the tree is a snapshot of the pin: O(1) in the tree's size.
    let copy = crate::lower_copy::make(rec, lower, &staging, OsStr::new(TREE), true).map_err(fail)?;
    let mode = copy.data;
    let root = staging.open_dir(Path::new(TREE)).map_err(fail)?;
    let w = Tree { client, lower, root: &root, data_mode: mode }.apply(set)?;
    staging.syncfs().map_err(fail)?;
    let tree_id =
        staging.identity(OsStr::new(TREE)).map_err(fail)?.ok_or_else(|| fail(std::io::ErrorKind::NotFound.into()))?;
    Ok((staging, tree_id, w.bytes))
}

/// Whether files in `dir` can be cloned (FICLONE on Linux, clonefile on macOS).
pub fn can_clone(dir: &Dir) -> bool {
    let (a, b) = (OsStr::new(".probe-a"), OsStr::new(".probe-b"));
    let r = (|| -> std::io::Result<()> {
        let fa = dir.create_file(a, 0o600)?;
        rustix::io::write(&fa, &[0x5a; 4096])?;
        rustix::fs::fsync(&fa)?;
        #[cfg(target_os = "linux")]
        {
            let fb = dir.create_file(b, 0o600)?;
            agentfs_platform::os::fs::clone_into(&fb, &fa)?;
        }
        #[cfg(target_os = "macos")]
        agentfs_platform::os::fs::clone_to_name(&fa, dir.fd(), b)?;
        Ok(())
    })();
    let _ = dir.unlink(a);
    let _ = dir.unlink(b);
    r.is_ok()
}
