//! Files that must never be trusted when torn or corrupt: `MAGIC | blake3(payload) | payload`,
//! with a bincode payload, written atomically and durably.

use crate::error::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

fn config() -> impl bincode::config::Config {
    bincode::config::standard()
}

/// `value` with its magic and checksum.
pub fn seal<T: bincode::Encode>(magic: &[u8; 8], value: &T) -> Result<Vec<u8>> {
    let payload =
        bincode::encode_to_vec(value, config()).map_err(|e| Error::System(format!("cannot encode a record: {e}")))?;
    let mut out = Vec::with_capacity(8 + 32 + payload.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(blake3::hash(&payload).as_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// The value in `bytes`, refusing anything whose magic or checksum is wrong.
pub fn unseal<T: bincode::Decode<()>>(magic: &[u8; 8], bytes: &[u8]) -> std::result::Result<T, String> {
    if bytes.len() < 40 || &bytes[..8] != magic {
        return Err("bad magic or truncated".into());
    }
    let (sum, payload) = bytes[8..].split_at(32);
    if blake3::hash(payload).as_bytes() != sum {
        return Err("checksum mismatch (torn or corrupt)".into());
    }
    let (value, used) = bincode::decode_from_slice(payload, config()).map_err(|e| format!("undecodable: {e}"))?;
    if used != payload.len() {
        return Err("trailing bytes".into());
    }
    Ok(value)
}

/// Writes `bytes` to `path` atomically and durably (temp file, fsync, rename, fsync of the
/// directory).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().ok_or_else(|| Error::System(format!("{} has no parent directory", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp.{}",
        path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io("cannot write", path, &e)
    })
}
