//! Keeps the data of the object being sent out of API-server text.
//!
//! An admission webhook, a proxy in front of the API server or a typed-patch error
//! may quote the object it refused, `data` included. Before such text goes into an
//! error or a log line, every value of the object's `data`, `stringData` and
//! `binaryData` is cut out of it: as sent, base64-decoded, base64-encoded (the
//! server stores `stringData` encoded), each also JSON/Go-escaped (a PEM's newlines
//! become `\n` when quoted), and any run of [`WINDOW`] or more bytes of them.
//! The rest of the message (the field path, what is wrong) is kept: it is what an
//! operator needs. A value shorter than [`MIN_VALUE`] cannot be cut out without
//! cutting innocent words too, so then only the code and reason are kept.

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::error::ApplyError;
use super::failure::Failure;

/// Any run this long of a value is removed, wherever it starts.
const WINDOW: usize = 16;
/// Shorter values make the whole message be withheld.
const MIN_VALUE: usize = 8;
const REDACTED: &str = "[redacted]";
const WITHHELD: &str = "(message withheld: it could quote the object's data)";

/// What must not come back from the API server for one object. The default scrubs nothing.
#[derive(Default)]
pub(crate) struct Scrub {
    /// Values shorter than [`WINDOW`] (but not shorter than [`MIN_VALUE`]), matched whole.
    whole: Vec<Vec<u8>>,
    /// Every [`WINDOW`]-byte run of the longer values.
    windows: HashSet<[u8; WINDOW]>,
    /// Some value is too short to scrub: keep no server text at all.
    withhold: bool,
}

// Never shows what it holds.
impl std::fmt::Debug for Scrub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrub")
            .field("values", &(self.whole.len() + self.windows.len()))
            .field("withhold", &self.withhold)
            .finish()
    }
}

impl Scrub {
    /// The values `obj` carries in `data`, `stringData` and `binaryData`.
    pub fn of(obj: &Value) -> Scrub {
        let mut s = Scrub::default();
        for field in ["data", "stringData", "binaryData"] {
            let Some(map) = obj.get(field).and_then(Value::as_object) else {
                continue;
            };
            for value in map.values().filter_map(Value::as_str) {
                let raw = value.as_bytes();
                if raw.is_empty() {
                    continue;
                }
                if raw.len() < MIN_VALUE {
                    s.withhold = true;
                }
                s.add(raw);
                if let Ok(decoded) = STANDARD.decode(raw) {
                    s.add(&decoded);
                }
                s.add(STANDARD.encode(raw).as_bytes());
            }
        }
        s
    }

    /// `bytes` and, if it is text, its escaped form as JSON (and Go's `%q`) writes it.
    fn add(&mut self, bytes: &[u8]) {
        self.add_form(bytes);
        if let Ok(text) = std::str::from_utf8(bytes)
            && let Ok(quoted) = serde_json::to_string(text)
        {
            let escaped = &quoted[1..quoted.len() - 1];
            if escaped != text {
                self.add_form(escaped.as_bytes());
            }
        }
    }

    fn add_form(&mut self, bytes: &[u8]) {
        if bytes.len() < WINDOW {
            // A decoded short value can be shorter than MIN_VALUE; it is withheld then anyway.
            if bytes.len() >= MIN_VALUE {
                self.whole.push(bytes.to_vec());
            }
            return;
        }
        for w in bytes.windows(WINDOW) {
            if let Ok(w) = <[u8; WINDOW]>::try_from(w) {
                self.windows.insert(w);
            }
        }
    }

    fn is_empty(&self) -> bool {
        !self.withhold && self.whole.is_empty() && self.windows.is_empty()
    }

    /// `text` with every run of the object's values replaced by `[redacted]`.
    pub fn text(&self, text: &str) -> String {
        if self.is_empty() {
            return text.to_owned();
        }
        if self.withhold {
            return WITHHELD.to_owned();
        }
        let bytes = text.as_bytes();
        let mut hidden = vec![false; bytes.len()];
        let mut hide = |at: usize, len: usize| hidden[at..at + len].fill(true);
        for (at, w) in bytes.windows(WINDOW).enumerate() {
            if <[u8; WINDOW]>::try_from(w).is_ok_and(|w| self.windows.contains(&w)) {
                hide(at, WINDOW);
            }
        }
        for value in &self.whole {
            for (at, w) in bytes.windows(value.len()).enumerate() {
                if w == value.as_slice() {
                    hide(at, value.len());
                }
            }
        }
        // Whole characters: a char any of whose bytes is hidden is hidden.
        let mut out = String::with_capacity(text.len());
        let mut in_hidden = false;
        for (at, c) in text.char_indices() {
            if hidden[at..at + c.len_utf8()].contains(&true) {
                if !in_hidden {
                    out.push_str(REDACTED);
                }
                in_hidden = true;
            } else {
                out.push(c);
                in_hidden = false;
            }
        }
        out
    }

    /// A parse error of a reply with its text scrubbed: serde quotes the value it choked on.
    pub fn parsed<T>(&self, r: Result<T, ApplyError>) -> Result<T, ApplyError> {
        r.map_err(|e| match e {
            ApplyError::BadResponse { what, message } => ApplyError::BadResponse {
                what,
                message: self.text(&message),
            },
            other => other,
        })
    }

    /// A reason is a Kubernetes `StatusReason` (`Invalid`, `Forbidden`): one word,
    /// kept even when the message is withheld; anything else is scrubbed as text.
    fn reason(&self, reason: &str) -> String {
        let word = !reason.is_empty()
            && reason.len() <= 64
            && reason.bytes().all(|b| b.is_ascii_alphanumeric());
        if self.withhold && word {
            reason.to_owned()
        } else {
            self.text(reason)
        }
    }

    /// The failure with its server text scrubbed; code and reason are kept.
    pub fn failure(&self, f: Failure) -> Failure {
        if self.is_empty() {
            return f;
        }
        match f {
            Failure::Transient {
                status,
                message,
                retry_after,
            } => Failure::Transient {
                status: status.map(|(code, reason)| (code, self.reason(&reason))),
                message: self.text(&message),
                retry_after,
            },
            Failure::Permanent {
                code,
                reason,
                message,
            } => Failure::Permanent {
                code,
                reason: self.reason(&reason),
                message: self.text(&message),
            },
        }
    }
}

#[cfg(test)]
mod tests;
