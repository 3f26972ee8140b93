//! The digest of the OVF properties first boot (and each reconfigure) applied,
//! so a later boot can tell which properties changed without keeping them.
//!
//! `/var/lib/ovaboot/properties.json` holds one digest per property the agent
//! reads (blank ones left out, as the settings count them absent) and one of
//! the TLS pair last put into the Secret. Never a value: a digest is keyed with
//! a random per-appliance key in `/var/lib/ovaboot/properties.key` (0600).
//!
//! Why keyed, and why slow for secrets: a plain SHA-256 of a password-typed
//! value is an offline-guessable copy of it (hash the candidates, compare), so
//! the file would leak what `/etc/shadow` protects with 100 000 rounds. With the
//! key, the file alone tells nothing. Whoever can read the key (root, or a
//! copied disk) could still guess, so secret values are digested with
//! PBKDF2-HMAC-SHA256 at the same 100 000 rounds, salted with the key: no
//! faster to guess from here than from `/etc/shadow`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_lc_rs::{hmac, pbkdf2};
use serde::{Deserialize, Serialize};

use crate::apply::files::{FilesError, write_files};
use crate::ovf::Properties;
use crate::plan::PlannedFile;
use crate::root::{ReadFileError, read_file, under};
use crate::secret::Secret;
use crate::settings::keys;

use super::json;

/// The applied digest, under the target root.
pub const DIGEST_PATH: &str = "/var/lib/ovaboot/properties.json";
/// The per-appliance key the digests are made with (0600).
pub const KEY_PATH: &str = "/var/lib/ovaboot/properties.key";
/// PBKDF2 rounds for secret values: as many as the shadow hash's.
pub const SECRET_ROUNDS: u32 = crate::plan::credentials::HASH_ROUNDS;
const KEY_BYTES: usize = 32;
/// What `scheme` says, so a later version can tell an older digest file.
const SCHEME: &str = "v1: hmac-sha256; secret values pbkdf2-hmac-sha256 100000 rounds";

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Files(#[from] FilesError),
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no randomness for the digest key {KEY_PATH}")]
    Random,
}

/// The key digests are made with. Never shown.
pub struct DigestKey(Secret<Vec<u8>>);

impl DigestKey {
    /// The key already under `root`, if there is one of the right size.
    pub fn load(root: &Path) -> Result<Option<DigestKey>, DigestError> {
        match read_file(root, KEY_PATH, KEY_BYTES as u64) {
            Ok(Some(read)) if read.bytes.len() == KEY_BYTES => {
                Ok(Some(DigestKey(Secret::new(read.bytes.to_vec()))))
            }
            Ok(None) => Ok(None),
            Err(ReadFileError::Io { path, source }) => Err(DigestError::Read { path, source }),
            // Too short, too long, not a file: made anew when the digest is recorded.
            Ok(Some(_)) | Err(_) => {
                tracing::warn!(path = %under(root, KEY_PATH).display(), "the digest key is not a key of the right size; a new one is made when the digest is recorded");
                Ok(None)
            }
        }
    }

    /// The key under `root`, made (random, 0600) if there is none yet.
    pub fn load_or_create(root: &Path) -> Result<DigestKey, DigestError> {
        if let Some(key) = DigestKey::load(root)? {
            return Ok(key);
        }
        let mut bytes = vec![0u8; KEY_BYTES];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| DigestError::Random)?;
        let key = Secret::new(bytes);
        write_files(root, &[PlannedFile::secret(KEY_PATH, key.clone(), 0o600)])?;
        Ok(DigestKey(key))
    }

    fn hmac(&self, parts: &[&[u8]]) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.0.expose());
        let mut context = hmac::Context::with_key(&key);
        for part in parts {
            // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part);
        }
        hex(context.sign().as_ref())
    }

    fn slow(&self, name: &str, value: &[u8]) -> String {
        let mut salt = self.0.expose().clone();
        salt.extend_from_slice(name.as_bytes());
        let mut out = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            std::num::NonZeroU32::new(SECRET_ROUNDS).expect("non-zero"),
            &salt,
            value,
            &mut out,
        );
        hex(&out)
    }

    /// One digest per property the agent reads; blank values are absent.
    pub fn properties(&self, properties: &Properties) -> BTreeMap<String, String> {
        properties
            .iter()
            .filter(|(key, value)| {
                keys::READ.contains(&key.as_str()) && !value.expose().trim().is_empty()
            })
            .map(|(key, value)| {
                let digest = if value.is_secret() || keys::SECRET.contains(&key.as_str()) {
                    format!("pbkdf2:{}", self.slow(key, value.expose().as_bytes()))
                } else {
                    format!(
                        "hmac:{}",
                        self.hmac(&[b"property", key.as_bytes(), value.expose().as_bytes()])
                    )
                };
                (key.clone(), digest)
            })
            .collect()
    }

    /// The digest of a TLS pair (what the Secret carries). The key is random,
    /// not guessable, so a keyed HMAC is enough.
    pub fn tls_pair(&self, chain_pem: &str, key_pem: &Secret<String>) -> String {
        format!(
            "hmac:{}",
            self.hmac(&[b"tls", chain_pem.as_bytes(), key_pem.expose().as_bytes()])
        )
    }
}

/// What `properties.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedDigest {
    pub scheme: String,
    /// RFC 3339, UTC.
    pub recorded_at: String,
    /// Property key → digest.
    pub properties: BTreeMap<String, String>,
    /// The digest of the TLS pair the Secret was last given.
    pub tls: String,
    /// That pair's certificate: who made it and when it nears expiry, so a
    /// later run can tell a self-signed one is due for renewal without
    /// planning. `None` in a digest from an older ovaboot.
    #[serde(default)]
    pub certificate: Option<AppliedCertificate>,
}

/// Public facts about the certificate last applied (never key material):
/// both its dates, so every day-2 run can tell one minted while the guest's
/// clock was wrong (not valid yet, or expired, once the clock is right).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedCertificate {
    pub source: crate::tls::CertSource,
    /// The leaf's notBefore, RFC 3339 UTC. `None` in a digest from an older
    /// ovaboot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// The leaf's notAfter, RFC 3339 UTC.
    pub not_after: String,
    /// From when it is within `[tls] expiry_warning_days` of `not_after`
    /// (the config of the run that recorded it), RFC 3339 UTC.
    pub expiry_warning_from: String,
}

impl AppliedCertificate {
    /// The certificate `tls` plans.
    pub fn of(tls: &crate::tls::TlsPlan) -> AppliedCertificate {
        AppliedCertificate {
            source: tls.source,
            not_before: leaf_not_before(&tls.chain_pem),
            not_after: tls.not_after.clone(),
            expiry_warning_from: tls.expiry_warning_from.clone(),
        }
    }
}

/// The notBefore of the first certificate (the leaf) in `chain_pem`.
fn leaf_not_before(chain_pem: &str) -> Option<String> {
    let block = x509_parser::pem::Pem::iter_from_buffer(chain_pem.as_bytes())
        .next()?
        .ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(&block.contents).ok()?;
    Some(super::rfc3339(cert.validity().not_before.to_datetime()))
}

impl AppliedDigest {
    pub fn new(
        properties: BTreeMap<String, String>,
        tls: String,
        now: time::OffsetDateTime,
    ) -> AppliedDigest {
        AppliedDigest {
            scheme: SCHEME.to_owned(),
            recorded_at: super::rfc3339(now),
            properties,
            tls,
            certificate: None,
        }
    }

    /// The applied digest under `root`. Missing, damaged or of another scheme: `None`
    /// (with a warning), so every property counts as changed: applying is
    /// idempotent, so the cost is only work.
    pub fn load(root: &Path) -> Result<Option<AppliedDigest>, DigestError> {
        match json::read::<AppliedDigest>(root, DIGEST_PATH) {
            Ok(Some(digest)) if digest.scheme == SCHEME => Ok(Some(digest)),
            Ok(Some(_)) => {
                tracing::warn!(path = %under(root, DIGEST_PATH).display(), "the properties' digest was made another way; every property counts as changed");
                Ok(None)
            }
            Ok(None) => Ok(None),
            Err(json::ReadError::Io { path, source }) => Err(DigestError::Read { path, source }),
            Err(e) => {
                tracing::warn!(path = %e.path().display(), error = %e.message(), "the properties' digest is unreadable; every property counts as changed");
                Ok(None)
            }
        }
    }

    /// Writes the applied digest under `root` (atomically, 0600).
    pub fn store(&self, root: &Path) -> Result<(), DigestError> {
        json::write(root, DIGEST_PATH, self, 0o600)?;
        Ok(())
    }
}

/// The keys whose digest differs between `old` and `new` (added, removed or
/// changed), sorted.
pub fn changed(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Vec<String> {
    let mut keys: Vec<String> = old
        .keys()
        .chain(new.keys())
        .filter(|k| old.get(*k) != new.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
