//! One record per live mount, so that commands can find the daemon of a mount point.
//!
//! A record is written atomically (temp file, fsync, rename, fsync of the directory) as
//! `MAGIC | blake3(payload) | payload`, with a bincode payload. A torn or corrupt record fails
//! the checksum: it is reported and set aside, never trusted.

use crate::error::{Error, Result};
use crate::runtime::{ensure_private_dir, records_dir};
use crate::sealed;
use std::fs;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"AGFSREC4";

/// Where a mount is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum MountState {
    /// `agentfs mount` (the record's pid) is making the pin.
    Pinning,
    /// The daemon (the record's pid) serves the mount.
    Mounted,
}

/// What the registry knows about one mount.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct MountRecord {
    /// Id derived from the mount point; names the record, log and pin.
    pub id: String,
    /// The process responsible for the mount now, and its start time (so a reused pid does not
    /// pass for it).
    pub pid: u32,
    pub pid_start: u64,
    pub state: MountState,
    pub uid: u32,
    pub source: Vec<u8>,
    pub mountpoint: Vec<u8>,
    /// Seconds since the epoch.
    pub started: i64,
    pub budget_bytes: u64,
    pub allow_other: bool,
    pub read_only: bool,
    pub log: Vec<u8>,
    pub pin: crate::pin::Pin,
    /// The pins directory chosen for this mount (empty if none): while pinning, `gc` removes
    /// any `<id>.<kind>` there, whatever kind was being made.
    pub pins_dir: Vec<u8>,
    /// Whether the kernel granted FUSE passthrough.
    pub passthrough: bool,
    /// How requests travel: "io_uring" or "classic" (empty while pinning).
    pub transport: String,
    /// Why that transport, in a few words.
    pub transport_reason: String,
}

fn bytes_to_path(b: &[u8]) -> PathBuf {
    crate::runtime::bytes_path(b)
}

impl MountRecord {
    pub fn source_path(&self) -> PathBuf {
        bytes_to_path(&self.source)
    }

    pub fn mountpoint_path(&self) -> PathBuf {
        bytes_to_path(&self.mountpoint)
    }

    pub fn log_path(&self) -> PathBuf {
        bytes_to_path(&self.log)
    }

    pub fn pins_dir_path(&self) -> PathBuf {
        bytes_to_path(&self.pins_dir)
    }

    /// Whether the process responsible for this mount still runs.
    pub fn owner_alive(&self) -> bool {
        crate::process::alive(self.pid, self.pid_start)
    }
}

fn record_path(id: &str) -> PathBuf {
    records_dir().join(format!("{id}.rec"))
}

/// Encodes a record with its magic and checksum.
pub fn encode(rec: &MountRecord) -> Result<Vec<u8>> {
    sealed::seal(MAGIC, rec)
}

/// Decodes a record, refusing anything whose magic or checksum is wrong.
pub fn decode(bytes: &[u8]) -> std::result::Result<MountRecord, String> {
    sealed::unseal(MAGIC, bytes)
}

pub use sealed::write_atomic;

/// Saves a record (replacing the one of the same id).
pub fn save(rec: &MountRecord) -> Result<()> {
    let dir = records_dir();
    ensure_private_dir(&dir)?;
    write_atomic(&record_path(&rec.id), &encode(rec)?)
}

/// Removes the record of `id`, if any, and the control socket beside it.
pub fn remove(id: &str) {
    let _ = fs::remove_file(record_path(id));
    crate::control::remove_endpoint(id);
    #[cfg(unix)]
    crate::commit::base::remove(id);
}

/// The record of mount `id`: `Ok(None)` if there is none; a corrupt one is set aside and reported.
pub fn load(id: &str) -> Result<Option<MountRecord>> {
    let path = record_path(id);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("cannot read the mount record", &path, &e)),
    };
    match decode(&bytes) {
        Ok(r) => Ok(Some(r)),
        Err(why) => {
            set_aside(&path, &why);
            Ok(None)
        }
    }
}

/// All valid records; corrupt ones are set aside (renamed to `*.corrupt`) with a warning.
pub fn list() -> Vec<MountRecord> {
    let Ok(entries) = fs::read_dir(records_dir()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().and_then(|x| x.to_str()) != Some("rec") {
            continue;
        }
        match fs::read(&path).map_err(|e| e.to_string()).and_then(|b| decode(&b)) {
            Ok(r) => out.push(r),
            Err(why) => set_aside(&path, &why),
        }
    }
    out.sort_by(|a, b| a.mountpoint.cmp(&b.mountpoint));
    out
}

fn set_aside(path: &Path, why: &str) {
    let aside = path.with_extension("corrupt");
    eprintln!("agentfs: warning: ignoring mount record {}: {why}; moved to {}", path.display(), aside.display());
    let _ = fs::rename(path, &aside);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> MountRecord {
        MountRecord {
            id: "abc".into(),
            pid: 42,
            pid_start: 7,
            state: MountState::Mounted,
            uid: 1000,
            source: b"/src".to_vec(),
            mountpoint: b"/mnt".to_vec(),
            started: 1_700_000_000,
            budget_bytes: 4 << 30,
            allow_other: false,
            read_only: true,
            log: b"/run/x.log".to_vec(),
            pin: crate::pin::Pin {
                kind: crate::pin::PinKind::Reflink,
                path: b"/p/.agentfs-pins/abc.reflink".to_vec(),
                lower_root: b"/p/.agentfs-pins/abc.reflink".to_vec(),
                hide: vec![],
                files: 3,
                bytes: 4,
                millis: 5,
            },
            pins_dir: b"/p/.agentfs-pins".to_vec(),
            passthrough: true,
            transport: "io_uring".into(),
            transport_reason: "2 queues, one per CPU (--io-uring auto)".into(),
        }
    }

    #[test]
    fn records_round_trip() {
        let bytes = encode(&rec()).unwrap();
        assert_eq!(decode(&bytes).unwrap(), rec());
    }

    #[test]
    fn every_torn_or_flipped_record_is_refused() {
        let bytes = encode(&rec()).unwrap();
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "truncated at {cut}");
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(decode(&b).is_err(), "flipped byte {i}");
        }
    }

    #[test]
    fn atomic_write_replaces_whole_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("r.rec");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1, "no temp file left");
    }
}
