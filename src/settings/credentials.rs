//! The appliance's login: `guestinfo.root_password` (kept secret from here
//! on) and `guestinfo.ssh_authorized_keys` (each key parsed by `ssh-key`).
//! The password's length rule is the agent config's, so it is checked when
//! planning (`crate::plan::credentials`).

use crate::ovf::Properties;
use crate::secret::{SHA512_CRYPT, Secret, check_hashable};

use super::{Problem, SettingsError, given};

/// root's password; password-typed in the descriptor, secret by its name anyway.
pub const KEY_ROOT_PASSWORD: &str = "guestinfo.root_password";
/// OpenSSH public keys for root, one per line (any line-break form) or comma-separated.
pub const KEY_SSH_AUTHORIZED_KEYS: &str = "guestinfo.ssh_authorized_keys";

/// What the admin asked for; a blank property leaves that part of the image alone.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub root_password: Option<Secret<String>>,
    /// Each key as one `authorized_keys` line (`<type> <base64> [comment]`).
    pub ssh_authorized_keys: Vec<String>,
}

impl Credentials {
    pub fn from_properties(props: &Properties) -> Result<Credentials, SettingsError> {
        let root_password = given(props, KEY_ROOT_PASSWORD)
            .map(|v| Secret::new(v.expose().trim_end_matches(['\r', '\n']).to_owned()));
        if let Some(password) = &root_password {
            // Here, before anything hashes it (the credentials plan, a check
            // of the hash already in /etc/shadow): the time grows with the length.
            check_hashable(KEY_ROOT_PASSWORD, password.expose(), &SHA512_CRYPT)?;
        }
        let ssh_authorized_keys = match given(props, KEY_SSH_AUTHORIZED_KEYS) {
            Some(value) => parse_authorized_keys(value.expose())?,
            None => Vec::new(),
        };
        Ok(Credentials {
            root_password,
            ssh_authorized_keys,
        })
    }
}

/// What separates keys: a comma, and every line break a paste can carry
/// (LF, CR alone or before LF, NEL, the Unicode line and paragraph
/// separators, vertical tab, form feed). A lone CR once made two keys one
/// line, the second hidden in the first one's comment.
const SEPARATORS: [char; 8] = [
    ',', '\n', '\r', '\u{85}', '\u{2028}', '\u{2029}', '\u{0b}', '\u{0c}',
];

/// Splits on [`SEPARATORS`], skips blank pieces, and parses each as an
/// OpenSSH public key. Errors say which key (1-based) and never quote it: a
/// private key pasted into the wrong field must not reach a log. A DSA key
/// (which OpenSSH no longer accepts) and a comment holding a control
/// character (written to `authorized_keys` and shown by every tool that
/// lists keys) are refused.
fn parse_authorized_keys(value: &str) -> Result<Vec<String>, SettingsError> {
    let refuse =
        |problem: String| SettingsError::new(KEY_SSH_AUTHORIZED_KEYS, Problem::Invalid(problem));
    if value.contains("PRIVATE KEY") {
        return Err(refuse(
            "holds a private key; paste the public key (the .pub file) instead".into(),
        ));
    }
    value
        .split(SEPARATORS)
        .map(str::trim)
        .filter(|piece| !piece.is_empty())
        .enumerate()
        .map(|(index, piece)| {
            let position = index + 1;
            let key = ssh_key::PublicKey::from_openssh(piece).map_err(|e| {
                refuse(format!(
                    "key {position} is not an OpenSSH public key (`<type> <base64> [comment]`, e.g. ssh-ed25519 AAAA... admin@example.com): {}",
                    crate::show::escaped(&e.to_string())
                ))
            })?;
            if key.algorithm() == ssh_key::Algorithm::Dsa {
                return Err(refuse(format!(
                    "key {position} is an ssh-dss (DSA) key, which OpenSSH no longer accepts; use an ed25519, ECDSA or RSA key"
                )));
            }
            if key.comment().chars().any(|c| c != '\t' && crate::show::is_unsafe(c)) {
                return Err(refuse(format!(
                    "key {position}'s comment has a control character; write the comment in plain text"
                )));
            }
            key.to_openssh()
                .map_err(|e| refuse(format!("key {position} cannot be written back: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests;
