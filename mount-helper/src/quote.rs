//! Paths and messages for a terminal. A path is bytes: any byte but NUL may be in a name, and
//! most of them are not printable or not UTF-8, so whoever names a file in SRC must not be able
//! to move the cursor, clear the screen or make two names print alike.
//!
//! A path made of printable UTF-8 (no control character, no character that turns text around
//! or breaks a line, no backslash or double quote) prints as it is; any other path prints in
//! double quotes with C escapes (`\n`, `\t`, `\r`, `\"`, `\\`, and `\ooo` in octal for each byte
//! of every other such character and every byte that is not UTF-8), as `git` quotes paths. Two
//! different paths never print the same.

use std::ffi::OsStr;
use std::fmt::Write;
#[cfg(unix)]
use std::os::unix::ffi::OsStrExt;

/// The bytes of a path: as they are on Unix; on Windows, the form std keeps a name in (WTF-8:
/// UTF-8, unless the name holds a lone UTF-16 surrogate).
pub fn bytes_of(p: &OsStr) -> &[u8] {
    #[cfg(unix)]
    {
        p.as_bytes()
    }
    #[cfg(not(unix))]
    {
        p.as_encoded_bytes()
    }
}

/// Characters a terminal does not simply show: control characters, and the ones that break a
/// line or reorder text (line and paragraph separators, bidirectional overrides and isolates).
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A path for text output.
pub fn text(p: impl AsRef<OsStr>) -> String {
    let b = bytes_of(p.as_ref());
    match std::str::from_utf8(b) {
        Ok(s) if !s.chars().any(|c| unsafe_char(c) || c == '"' || c == '\\') => s.to_string(),
        _ => {
            let mut out = String::from("\"");
            escape_into(&mut out, b, true);
            out.push('"');
            out
        }
    }
}

/// A message for a terminal: printable text stays as it is, every character [`text`] would
/// escape is escaped the same way (a message may carry a path that was not quoted).
pub fn message(s: &str) -> String {
    if !s.chars().any(unsafe_char) {
        return s.to_string();
    }
    let mut out = String::new();
    escape_into(&mut out, s.as_bytes(), false);
    out
}

/// Escapes `b` into `out`; `quotes`: also escape `"` and `\` (inside a quoted path).
fn escape_into(out: &mut String, b: &[u8], quotes: bool) {
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '"' if quotes => out.push_str("\\\""),
                '\\' if quotes => out.push_str("\\\\"),
                c if unsafe_char(c) => {
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
}

/// Unix only: the tests make names of any bytes.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn text_quotes_what_is_not_plain_printable_utf8() {
        assert_eq!(text("src/main.rs"), "src/main.rs");
        assert_eq!(text("héllo wörld"), "héllo wörld");
        assert_eq!(text("a\nb"), "\"a\\nb\"");
        assert_eq!(text("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(text(OsStr::from_bytes(b"bad\xffname")), "\"bad\\377name\"");
        assert_eq!(text(OsStr::from_bytes(b"\x01")), "\"\\001\"");
        assert_eq!(text("a\u{202e}b"), "\"a\\342\\200\\256b\"");
        assert_eq!(text("a\u{2028}b"), "\"a\\342\\200\\250b\"");
        // Different names never print the same.
        assert_ne!(text(OsStr::from_bytes(b"\xff")), text(OsStr::from_bytes(b"\xfe")));
        assert_ne!(text("\\377"), text(OsStr::from_bytes(b"\xff")));
        assert_ne!(text(OsStr::from_bytes(b"amb\xff")), text("amb\u{fffd}"));
    }

    #[test]
    fn messages_lose_their_terminal_controls() {
        assert_eq!(message("cannot write /tmp/x: File exists"), "cannot write /tmp/x: File exists");
        assert_eq!(message("n\x1b[2J\nx \"q\""), "n\\033[2J\\nx \"q\"");
        assert_eq!(message("\u{202e}txt"), "\\342\\200\\256txt");
    }
}
