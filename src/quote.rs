//! Paths in output. A path is bytes: any byte but NUL may be in a name, and most of them are
//! not printable or not UTF-8.
//!
//! - Text: [`text`] (from `agentfs_mount_helper::quote`): printable UTF-8 as it is, anything
//!   else in double quotes with C escapes, as `git` quotes paths. Two different paths never
//!   print the same.
//! - JSON: `"path"` holds the path as a string, with every byte that is not UTF-8 written as
//!   `\xNN` (so it reads well but can be ambiguous); exactly when the path is not valid UTF-8,
//!   `"path_bytes"` holds its exact bytes as an array of numbers. A consumer takes `path_bytes`
//!   when present, else `path`.

use agentfs_mount_helper::quote::bytes_of;
pub use agentfs_mount_helper::quote::{message, text};
use serde_json::{Value, json};
use std::ffi::OsStr;
use std::fmt::Write;

/// The path as a JSON string: UTF-8 as it is, other bytes as `\xNN`.
fn lossless_string(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

/// Puts path `p` into `obj` as `key` (and `key_bytes` when it is not UTF-8).
pub fn put(obj: &mut Value, key: &str, p: impl AsRef<OsStr>) {
    let b = bytes_of(p.as_ref());
    obj[key] = json!(lossless_string(b));
    if std::str::from_utf8(b).is_err() {
        obj[format!("{key}_bytes")] = json!(b);
    }
}

/// Unix only: the tests make names of any bytes.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[cfg(unix)]
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn json_gives_the_exact_bytes_when_they_are_not_utf8() {
        let mut v = json!({});
        put(&mut v, "path", "plain/é");
        assert_eq!(v, json!({"path": "plain/é"}));
        let mut v = json!({});
        put(&mut v, "path", OsStr::from_bytes(b"a\xffb\n"));
        assert_eq!(v["path"], "a\\xffb\n");
        assert_eq!(v["path_bytes"], json!([97, 255, 98, 10]));
    }
}
