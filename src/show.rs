//! What may be shown of text that came from outside (an OVF property, a
//! record under `/var/lib/ovaboot` someone edited, a parser's own message, a
//! certificate's name, an SSH key's comment) wherever it reaches a terminal,
//! the journal, the console banner or a record: the one rule for every
//! command.
//!
//! - [`escaped`]: control characters, line and paragraph separators and
//!   bidirectional overrides written as escapes (`\u{1b}`, `\r`), so no
//!   value can move the cursor, recolour the terminal, fake a second log
//!   line or reorder what is read. Everything else is kept as it is.
//! - [`quoted`]: a value in an error, `"…"` and escaped.
//! - [`looks_like_credential`] and [`quoted_unless_credential`]: a value
//!   pasted into the wrong field may carry a password (`user:pass@host` in
//!   `guestinfo.ntp`): such a value is never quoted, only named.

use std::borrow::Cow;

/// Whether `c` is written as an escape by [`escaped`]: C0 and C1 controls and
/// DEL, the line and paragraph separators (U+2028, U+2029), and the
/// bidirectional formatting characters (U+061C, U+200E/F, U+202A–E,
/// U+2066–9), which reorder what a terminal shows.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every [`is_unsafe`] character escaped as Rust writes it
/// (`\n`, `\r`, `\t`, `\0`, `\u{1b}`); borrowed when there is none. Other
/// characters, backslashes included, are kept.
pub fn escaped(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `text` in double quotes, [`escaped`] (a quote inside is escaped too).
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            c if is_unsafe(c) => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `value` as pretty-printed JSON with every [`is_unsafe`] character inside a
/// string written `\uXXXX`: serde_json escapes the C0 controls itself but
/// writes DEL, the C1 controls, U+2028/9 and the bidirectional overrides as
/// they are. Still the same JSON value.
pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    let text = serde_json::to_string_pretty(value).expect("plain data serializes");
    if !text.chars().any(|c| c > '\u{7e}' && is_unsafe(c)) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        // All of these are in the BMP and, in serde_json's output, only
        // inside strings (structure is ASCII).
        if c > '\u{7e}' && is_unsafe(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `value` looks like it carries a credential, anywhere in it: an
/// `@` (the userinfo of a URL, `user:pass@host`), a `user:password` pair (a
/// colon that is neither part of an IPv6 address nor before a port number), a
/// word such as "password", "secret" or "token", or a PEM private key.
/// Deliberately wide: a value it wrongly matches is only named, not quoted.
pub fn looks_like_credential(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    value.contains('@')
        || ["pass", "pwd", "secret", "token", "private key"]
            .iter()
            .any(|word| lower.contains(word))
        || value
            .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
            .any(is_user_password_pair)
}

/// `user:pass` (or `http://user:pass`, which a URL parser reads as host
/// `user`, port `pass`). Not `[fe80::1]:123`, `fe80::1%eth0`, `10.0.0.1:123`
/// or `ntp.example.com:123`.
fn is_user_password_pair(word: &str) -> bool {
    let word = word.split_once("://").map_or(word, |(_, rest)| rest);
    let Some((before, after)) = word.rsplit_once(':') else {
        return false;
    };
    let is_port =
        !after.is_empty() && after.len() <= 5 && after.bytes().all(|b| b.is_ascii_digit());
    let is_host = before.contains('.') || before.ends_with(']');
    !(looks_like_ipv6(word) || (is_port && is_host))
}

/// Only what an IPv6 address (with brackets, a prefix or a zone) is made of.
fn looks_like_ipv6(word: &str) -> bool {
    let address = word
        .split_once('%')
        .map_or(word, |(address, _zone)| address);
    (address.contains("::") || address.matches(':').count() >= 2)
        && address
            .chars()
            .all(|c| c.is_ascii_hexdigit() || ":.[]/".contains(c))
}

/// Why a value is not quoted (see [`withheld`]).
pub const NOT_SHOWN: &str = "not shown: it looks like it carries a credential";

/// What stands in an error for a value that is not quoted ([`withheld`]).
pub const WITHHELD: &str = "the value (not shown: it looks like it carries a credential)";

/// Whether no piece of `whole` (a property's value) may be quoted: it looks
/// like it carries a credential ([`looks_like_credential`]) or holds one of
/// `secrets` (another property's password pasted into this one). The whole
/// value is judged, never a piece alone: a password with a space in it
/// splits into pieces that each look harmless.
pub fn withheld<'a>(whole: &str, secrets: impl IntoIterator<Item = &'a str>) -> bool {
    looks_like_credential(whole) || holds_secret(whole, secrets)
}

/// Whether `text` holds one of `secrets` (of six characters or more:
/// shorter ones would match ordinary text by chance).
pub fn holds_secret<'a>(text: &str, secrets: impl IntoIterator<Item = &'a str>) -> bool {
    const MIN_SECRET_CHARS: usize = 6;
    secrets
        .into_iter()
        .map(str::trim)
        .filter(|secret| secret.chars().count() >= MIN_SECRET_CHARS)
        .any(|secret| text.contains(secret))
}

/// `token` (a piece of `whole`) [`quoted`] for an error, or [`WITHHELD`]
/// when `whole` is [`withheld`].
pub fn quoted_unless_credential<'a>(
    whole: &str,
    token: &str,
    secrets: impl IntoIterator<Item = &'a str>,
) -> String {
    if withheld(whole, secrets) {
        WITHHELD.to_owned()
    } else {
        quoted(token)
    }
}

#[cfg(test)]
mod tests;
