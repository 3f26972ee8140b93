//! The TLS plan step: which certificate the appliance serves.
//!
//! Pure: from the host name, the optional static IP, the admin's optional
//! certificate + key (`guestinfo.tls_cert` / `guestinfo.tls_key`, already
//! decoded to DER by `settings`) and the `[tls]` config, decide the chain and key
//! to serve, or refuse with one line that names the property at fault.
//!
//! - No material: the self-signed pair an earlier run installed, if it is still
//!   the one this run would make ([`installed`]); else a fresh one ([`self_signed`]).
//! - Material: checked and ordered ([`user`]): the key must match a leaf that
//!   covers the FQDN and is valid now; the other certificates must form that
//!   leaf's issuing chain.
//!
//! One crypto backend: aws-lc-rs (through rcgen and x509-parser, and directly
//! for digests, randomness and key parsing).

mod config;
mod installed;
mod key_kind;
mod kube_secret;
mod names;
mod pem;
pub mod pki;
mod profile;
mod self_signed;
mod user;

#[cfg(test)]
pub(crate) mod test_pki;

use std::net::IpAddr;

use time::OffsetDateTime;

use crate::secret::Secret;
use crate::settings::{Hostname, TlsMaterial};

pub use config::{KeyAlgorithm, TlsConfig};
pub use installed::{InstalledPair, NotReused, renewal};
pub use key_kind::{KeyKind, RSA_MAX_BITS, RSA_MIN_BITS, SUPPORTED};
pub use kube_secret::{ZeroizingJson, kubernetes_secret};
pub use names::san_covers;
pub use self_signed::self_signed;

/// The OVF property that carries the certificate chain.
pub const CERT_PROPERTY: &str = "guestinfo.tls_cert";
/// The OVF property that carries the private key.
pub const KEY_PROPERTY: &str = "guestinfo.tls_key";

/// Where the served certificate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertSource {
    /// Generated on this boot because the admin gave none.
    SelfSigned,
    /// Given by the admin in the OVF properties.
    User,
}

impl CertSource {
    /// As in `plan.json`: `self-signed` or `user`.
    pub fn as_str(self) -> &'static str {
        match self {
            CertSource::SelfSigned => "self-signed",
            CertSource::User => "user",
        }
    }
}

/// The certificate and key to serve. `Debug` and `Serialize` redact the key, so
/// the plan can be logged and written as the run's summary.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TlsPlan {
    pub source: CertSource,
    /// True when the self-signed pair installed by an earlier run was kept
    /// (`source` is then `SelfSigned`): the Secret and clients' trust stay as they were.
    pub reused: bool,
    /// PEM, leaf first, then each issuer in turn.
    pub chain_pem: String,
    /// PEM: PKCS#8 when generated; as given (PKCS#8, PKCS#1 or SEC1) otherwise.
    pub key_pem: Secret<String>,
    /// SHA-256 of the leaf's DER, `AB:CD:…` as browsers show it.
    pub leaf_sha256: String,
    /// The leaf's subjectAltName entries (DNS names, then IP addresses).
    pub sans: Vec<String>,
    /// The leaf's notAfter, RFC 3339 UTC.
    pub not_after: String,
    /// From when (RFC 3339 UTC) the leaf is within `expiry_warning_days` of
    /// its notAfter: a self-signed one is renewed then (day 2 records it, so a
    /// later run knows without the config), the admin's is warned about.
    pub expiry_warning_from: String,
    /// How many certificates `chain_pem` holds.
    pub chain_len: usize,
    /// Things the admin should know that do not stop the boot.
    pub warnings: Vec<String>,
}

/// The way out every refusal of the admin's certificate offers.
const OR_SELF_SIGNED: &str = "or leave both TLS fields blank for a self-signed one";

/// Why the TLS step refused. Messages name the property or config key at fault
/// and never carry key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error("{CERT_PROPERTY}: a private key was given but no certificate")]
    NoCertificate,
    #[error(
        "{CERT_PROPERTY}: certificate {position} (in pasted order) is not an X.509 certificate: {reason}"
    )]
    NotACertificate { position: usize, reason: String },
    #[error(
        "{KEY_PROPERTY}: the private key could not be read as {format} ({reason}); supported keys are {SUPPORTED}"
    )]
    UnreadableKey { format: String, reason: String },
    /// A key envoy cannot serve (Ed25519, P-521, RSA outside the bounds, ...).
    #[error("{KEY_PROPERTY}: {reason}; the HTTPS listener can serve {SUPPORTED} keys only")]
    UnsupportedKey { kind: String, reason: String },
    #[error(
        "{KEY_PROPERTY}: the private key does not match the certificate in {CERT_PROPERTY} (checked {count} certificate(s); the leaf must be the certificate issued for this key)"
    )]
    KeyMatchesNoCertificate { count: usize },
    #[error(
        "{CERT_PROPERTY}: {count} certificates carry the public key of {KEY_PROPERTY} ({subjects}); paste only one leaf"
    )]
    SeveralLeaves { count: usize, subjects: String },
    #[error(
        "{CERT_PROPERTY}: the certificate ({subject}) has no DNS names in its subjectAltName; browsers ignore the common name, so SANs are required: issue a certificate whose subjectAltName includes {fqdn}, {OR_SELF_SIGNED}"
    )]
    SansRequired { subject: String, fqdn: String },
    #[error(
        "{CERT_PROPERTY}: the certificate's subjectAltName ({sans}) does not cover the appliance's host name {fqdn}: issue a certificate whose subjectAltName includes {fqdn}, {OR_SELF_SIGNED}"
    )]
    NameNotCovered { sans: String, fqdn: String },
    #[error(
        "{CERT_PROPERTY}: the certificate expired on {not_after} (now {now}): paste a renewed certificate and its key, {OR_SELF_SIGNED}"
    )]
    Expired { not_after: String, now: String },
    #[error(
        "{CERT_PROPERTY}: the certificate ({subject}) is a CA certificate (basicConstraints CA:TRUE), which browsers refuse as a server's certificate: issue a leaf certificate (CA:FALSE) for {fqdn}, {OR_SELF_SIGNED}"
    )]
    LeafIsCa { subject: String, fqdn: String },
    #[error(
        "{CERT_PROPERTY}: the certificate's extendedKeyUsage ({usages}) lacks serverAuth, so browsers refuse it for HTTPS: issue a certificate whose extendedKeyUsage includes serverAuth, {OR_SELF_SIGNED}"
    )]
    NoServerAuth { usages: String },
    #[error(
        "{CERT_PROPERTY}: the certificate has a critical extension browsers do not know ({oid}), so they refuse it: issue a certificate without it, {OR_SELF_SIGNED}"
    )]
    UnknownCriticalExtension { oid: String },
    #[error(
        "{CERT_PROPERTY}: the certificate is not valid until {not_before} (now {now}); check the appliance's clock or the certificate's dates"
    )]
    NotYetValid { not_before: String, now: String },
    #[error(
        "{CERT_PROPERTY}: certificate {position} (in pasted order, subject {subject}) is not part of the leaf's issuing chain{detail}; paste only the leaf and the certificates that issued it"
    )]
    Unrelated {
        position: usize,
        subject: String,
        detail: String,
    },
    #[error("tls.{key}: {problem}")]
    Config { key: &'static str, problem: String },
    #[error("tls: could not generate the self-signed certificate: {0}")]
    Generate(String),
}

/// Decide the certificate to serve. `installed` is the pair an earlier run
/// left on the target, if any: without admin material it is kept when it is
/// still what this run would generate, else replaced (the reason is logged).
/// Admin material always wins. `now` is passed in so the plan stays pure and
/// tests can move the clock.
pub fn plan(
    hostname: &Hostname,
    static_ip: Option<IpAddr>,
    material: Option<&TlsMaterial>,
    installed: Option<&InstalledPair>,
    config: &TlsConfig,
    now: OffsetDateTime,
) -> Result<TlsPlan, TlsError> {
    config.validate()?;
    let plan = match (material, installed) {
        (Some(material), _) => user::from_material(hostname, material, config, now)?,
        (None, None) => self_signed(hostname, static_ip, config, now)?,
        (None, Some(installed)) => {
            match installed::reuse(installed, hostname, static_ip, config, now) {
                Ok(plan) => plan,
                Err(why) => {
                    tracing::info!(
                        reason = %why,
                        "not reusing the installed self-signed certificate; generating a new one"
                    );
                    self_signed(hostname, static_ip, config, now)?
                }
            }
        }
    };
    tracing::info!(
        source = ?plan.source,
        reused = plan.reused,
        leaf_sha256 = %plan.leaf_sha256,
        not_after = %plan.not_after,
        chain_len = plan.chain_len,
        "TLS certificate planned"
    );
    for warning in &plan.warnings {
        tracing::warn!("{warning}");
    }
    Ok(plan)
}

/// Every check [`plan`] makes of the admin's material and the config, without
/// generating anything: what `props` runs. The same errors, in the same
/// order, as [`plan`]; the warnings it would log are logged too.
pub fn check(
    hostname: &Hostname,
    material: Option<&TlsMaterial>,
    config: &TlsConfig,
    now: OffsetDateTime,
) -> Result<(), TlsError> {
    config.validate()?;
    let warnings = match material {
        Some(material) => user::from_material(hostname, material, config, now)?.warnings,
        None => self_signed::config_warnings(config),
    };
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    Ok(())
}

/// `AB:CD:…`: SHA-256 of the DER, the way browsers and `openssl x509 -fingerprint` show it.
pub fn sha256_fingerprint(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// [`TlsPlan::expiry_warning_from`] for a leaf expiring at `not_after`.
fn expiry_warning_from(not_after: OffsetDateTime, config: &TlsConfig) -> String {
    rfc3339(not_after - time::Duration::days(i64::from(config.expiry_warning_days)))
}

/// RFC 3339 in UTC, whole seconds (what X.509 times can say).
fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}
