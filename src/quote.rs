//! Paths in output. A path is bytes: any byte but NUL may be in a name, and most of them are
//! not printable or not UTF-8.
//!
//! - Text: a path made of printable UTF-8 (no control character, backslash or double quote)
//!   prints as it is; any other path prints in double quotes with C escapes (`\n`, `\t`, `\"`,
//!   `\\`, and `\ooo` in octal for every other control character and every byte that is not
//!   UTF-8), as `git` quotes paths. Two different paths never print the same.
//! - JSON: `"path"` holds the path as a string, with every byte that is not UTF-8 written as
//!   `\xNN` (so it reads well but can be ambiguous); exactly when the path is not valid UTF-8,
//!   `"path_bytes"` holds its exact bytes as an array of numbers. A consumer takes `path_bytes`
//!   when present, else `path`.

use serde_json::{Value, json};
use std::ffi::OsStr;
use std::fmt::Write;
#[cfg(unix)]
use std::os::unix::ffi::OsStrExt;

/// The bytes of a path: as they are on Unix; on Windows, the form std keeps a name in (WTF-8:
/// UTF-8, unless the name holds a lone UTF-16 surrogate).
fn bytes_of(p: &OsStr) -> &[u8] {
    #[cfg(unix)]
    {
        p.as_bytes()
    }
    #[cfg(not(unix))]
    {
        p.as_encoded_bytes()
    }
}

/// A path for text output.
pub fn text(p: impl AsRef<OsStr>) -> String {
    let b = bytes_of(p.as_ref());
    match std::str::from_utf8(b) {
        Ok(s) if !s.chars().any(|c| c.is_control() || c == '"' || c == '\\') => s.to_string(),
        _ => quoted(b),
    }
}

fn quoted(b: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for byte in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(out, "\\{byte:03o}");
                    }
                }
                c => out.push(c),
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\{byte:03o}");
        }
    }
    out.push('"');
    out
}

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

    #[test]
    fn text_quotes_what_is_not_plain_printable_utf8() {
        assert_eq!(text("src/main.rs"), "src/main.rs");
        assert_eq!(text("héllo wörld"), "héllo wörld");
        assert_eq!(text("a\nb"), "\"a\\nb\"");
        assert_eq!(text("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(text(OsStr::from_bytes(b"bad\xffname")), "\"bad\\377name\"");
        assert_eq!(text(OsStr::from_bytes(b"\x01")), "\"\\001\"");
        // Different names never print the same.
        assert_ne!(text(OsStr::from_bytes(b"\xff")), text(OsStr::from_bytes(b"\xfe")));
        assert_ne!(text("\\377"), text(OsStr::from_bytes(b"\xff")));
    }

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
