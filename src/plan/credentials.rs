//! The credentials step's plan: root's password as a SHA-512-crypt hash in
//! `/etc/shadow`, and root's `~/.ssh/authorized_keys`. Pure but for the
//! salt's randomness: the caller reads the current shadow file and root's home.
//!
//! Idempotent: when the hash already in `/etc/shadow` verifies the password,
//! the file is planned exactly as it is (so the writer leaves it untouched)
//! rather than re-hashed with a new salt.

use std::path::{Path, PathBuf};

use crate::config::CredentialsConfig;
use sha_crypt::{CustomizedPasswordHasher, Params, PasswordVerifier, ShaCrypt};

use crate::plan::PlannedFile;
use crate::secret::Secret;
use crate::settings::credentials::{Credentials, KEY_ROOT_PASSWORD};

pub const SHADOW_PATH: &str = "/etc/shadow";
/// Used when the target has no `/etc/passwd` entry for root.
pub const DEFAULT_ROOT_HOME: &str = "/root";
/// SHA-512-crypt rounds: 20× glibc's default of 5 000 (about 25 ms per
/// login on the appliance's CPU), for a hash that leaks from a backup.
pub const HASH_ROUNDS: u32 = 100_000;
/// 12 random bytes: the 16 base64 characters SHA-crypt takes as salt.
const SALT_BYTES: usize = 12;

/// The target's `/etc/shadow` as read before planning.
#[derive(Debug, Clone, Default)]
pub enum ShadowFacts {
    /// No such file (only a problem when a password is to be set).
    #[default]
    Missing,
    /// Exists but could not be read (e.g. `render` not run as root); the reason.
    Unreadable(String),
    Present {
        /// The whole file: other accounts' hashes, so kept secret too.
        text: Secret<String>,
        /// Permission bits, kept (0640 on Debian).
        mode: u32,
    },
}

/// Why the credentials cannot be planned; names the property, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "{KEY_ROOT_PASSWORD}: is {given} characters long; at least {min} are required ([credentials] min_password_length)"
    )]
    TooShort { given: usize, min: usize },
    #[error("{KEY_ROOT_PASSWORD}: cannot be set: {SHADOW_PATH} {reason}")]
    Shadow { reason: String },
    #[error("{KEY_ROOT_PASSWORD}: hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Unhashable(#[from] crate::secret::Unhashable),
}

/// The files for `credentials`: `/etc/shadow` with root's hash (when a
/// password is given), then `authorized_keys` (when keys are given). Blank
/// properties plan nothing: the image's account stays as it is.
pub fn plan(
    credentials: &Credentials,
    config: &CredentialsConfig,
    shadow: &ShadowFacts,
    root_home: &Path,
    days_since_epoch: i64,
) -> Result<Vec<PlannedFile>, CredentialsError> {
    let mut files = Vec::new();
    check(credentials, config)?;
    if let Some(password) = &credentials.root_password {
        files.push(shadow_file(
            password,
            shadow,
            days_since_epoch,
            &random_salt()?,
        )?);
    }
    if !credentials.ssh_authorized_keys.is_empty() {
        let mut text = credentials.ssh_authorized_keys.join("\n");
        text.push('\n');
        files.push(
            PlannedFile::plain(authorized_keys_path(root_home), text, 0o600)
                .in_dir_with_mode(0o700),
        );
    }
    Ok(files)
}

/// The rules that need no file: the password's length, at least the
/// config's minimum and at most what the system's crypt() verifies.
pub fn check(
    credentials: &Credentials,
    config: &CredentialsConfig,
) -> Result<(), CredentialsError> {
    let Some(password) = &credentials.root_password else {
        return Ok(());
    };
    // The settings refused it already; checked again before any hashing.
    crate::secret::check_hashable(
        KEY_ROOT_PASSWORD,
        password.expose(),
        &crate::secret::SHA512_CRYPT,
    )?;
    let length = password.expose().chars().count();
    if length < config.min_password_length {
        return Err(CredentialsError::TooShort {
            given: length,
            min: config.min_password_length,
        });
    }
    Ok(())
}

/// `<home>/.ssh/authorized_keys`.
pub fn authorized_keys_path(root_home: &Path) -> PathBuf {
    root_home.join(".ssh/authorized_keys")
}

/// `/etc/shadow` with root's password field (and last-change day) replaced,
/// every other line as it was; or exactly as it was when root's hash already
/// verifies `password`.
fn shadow_file(
    password: &Secret<String>,
    shadow: &ShadowFacts,
    days_since_epoch: i64,
    salt: &[u8],
) -> Result<PlannedFile, CredentialsError> {
    let (text, mode) = match shadow {
        ShadowFacts::Present { text, mode } => (text.expose(), *mode),
        ShadowFacts::Missing => {
            return Err(CredentialsError::Shadow {
                reason: "does not exist".into(),
            });
        }
        ShadowFacts::Unreadable(reason) => {
            return Err(CredentialsError::Shadow {
                reason: format!("cannot be read ({reason})"),
            });
        }
    };
    // Split on LF alone: every other line keeps its bytes, a CR included.
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let Some(root) = lines.iter().position(|l| l.starts_with("root:")) else {
        return Err(CredentialsError::Shadow {
            reason: "has no line for root".into(),
        });
    };
    let (body, line_end) = match lines[root].strip_suffix('\r') {
        Some(body) => (body.to_owned(), "\r"),
        None => (lines[root].clone(), ""),
    };
    let mut fields: Vec<String> = body.split(':').map(str::to_owned).collect();
    if fields.len() < 3 {
        return Err(CredentialsError::Shadow {
            reason: "has a malformed line for root".into(),
        });
    }
    // A hash of more rounds than ovaboot makes is never checked: its cost is
    // the hash's to choose (up to 999 999 999 rounds, minutes of work).
    let verifies = rounds(&fields[1]).is_some_and(|rounds| rounds <= HASH_ROUNDS)
        && ShaCrypt::default()
            .verify_password(password.expose().as_bytes(), fields[1].as_str())
            .is_ok();
    if !verifies {
        let params = Params::new(HASH_ROUNDS).expect("HASH_ROUNDS is within SHA-crypt's range");
        let hash = ShaCrypt::SHA512
            .hash_password_customized(password.expose().as_bytes(), salt, None, None, params)
            .map_err(|e| CredentialsError::Hash(e.to_string()))?;
        fields[1] = hash.as_str().to_owned();
        fields[2] = days_since_epoch.to_string();
        lines[root] = fields.join(":") + line_end;
    }
    let contents = lines.join("\n");
    let mut body = body;
    zeroize::Zeroize::zeroize(&mut body);
    for field in &mut fields {
        zeroize::Zeroize::zeroize(field);
    }
    for line in &mut lines {
        zeroize::Zeroize::zeroize(line);
    }
    Ok(PlannedFile::secret(SHADOW_PATH, Secret::new(contents.into_bytes()), mode).keeping_owner())
}

/// The rounds a SHA-512-crypt hash names (`$6$rounds=N$...`; 5 000 when it
/// names none); `None` for another scheme.
fn rounds(hash: &str) -> Option<u32> {
    let rest = hash.strip_prefix("$6$")?;
    match rest.strip_prefix("rounds=") {
        Some(rest) => rest.split('$').next()?.parse().ok(),
        None => Some(5_000),
    }
}

/// From the OS's RNG (aws-lc-rs, the project's one crypto backend).
fn random_salt() -> Result<[u8; SALT_BYTES], CredentialsError> {
    let mut salt = [0u8; SALT_BYTES];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| CredentialsError::Hash("no randomness".into()))?;
    Ok(salt)
}

#[cfg(test)]
mod tests;
