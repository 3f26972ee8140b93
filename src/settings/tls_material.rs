//! The admin's own TLS certificate chain and private key
//! (`guestinfo.tls_cert` + `guestinfo.tls_key`), decoded from pasted PEM into
//! DER. Whether the certificate is any good (key matches the leaf, names,
//! dates) is the TLS plan's question, not this module's.

use std::fmt;

use zeroize::Zeroizing;

use super::pem_text::{self, DerProblem, Exposure, ShownLabel};
use super::{SettingsError, keys};
use crate::secret::Secret;

/// TLS material supplied by the admin (`guestinfo.tls_cert` + `guestinfo.tls_key`),
/// decoded into DER but not yet checked as X.509 (that is the TLS plan's job).
#[derive(Clone)]
pub struct TlsMaterial {
    /// Certificates in the order they were pasted (DER).
    pub certificates: Vec<Vec<u8>>,
    pub private_key: PrivateKey,
}

/// An unencrypted private key as DER, in the encoding it came in.
#[derive(Debug, Clone)]
pub struct PrivateKey {
    pub format: KeyFormat,
    pub der: Secret<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum KeyFormat {
    /// `BEGIN PRIVATE KEY` (any algorithm).
    Pkcs8,
    /// `BEGIN RSA PRIVATE KEY`.
    Pkcs1Rsa,
    /// `BEGIN EC PRIVATE KEY`.
    Sec1Ec,
}

impl KeyFormat {
    fn from_label(label: &str) -> Option<Self> {
        match label {
            "PRIVATE KEY" => Some(KeyFormat::Pkcs8),
            "RSA PRIVATE KEY" => Some(KeyFormat::Pkcs1Rsa),
            "EC PRIVATE KEY" => Some(KeyFormat::Sec1Ec),
            _ => None,
        }
    }
}

impl TlsMaterial {
    /// Decodes a pasted certificate chain and private key.
    /// The error names the property at fault (`guestinfo.tls_cert` or `guestinfo.tls_key`).
    pub fn from_pem(certificate_chain: &str, private_key: &str) -> Result<Self, SettingsError> {
        let certificates = parse_certificate_chain(certificate_chain)
            .map_err(|p| SettingsError::new(keys::TLS_CERT, p))?;
        let private_key =
            parse_private_key(private_key).map_err(|p| SettingsError::new(keys::TLS_KEY, p))?;
        Ok(TlsMaterial {
            certificates,
            private_key,
        })
    }
}

/// Sizes only: certificates are not secret but thousands of bytes are noise in a log.
impl fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sizes: Vec<String> = self
            .certificates
            .iter()
            .map(|der| format!("<{} bytes of DER>", der.len()))
            .collect();
        f.debug_struct("TlsMaterial")
            .field("certificates", &sizes)
            .field("private_key", &self.private_key)
            .finish()
    }
}

/// What is wrong with a pasted certificate chain or key. The Display is the
/// "what" half of a settings error; it never contains a body or header from
/// the value, and a label from the key field only if it is a well-known one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemProblem {
    #[error(
        "is not PEM: it has no \"-----BEGIN ...-----\" line, and it is not base64-encoded PEM either"
    )]
    NotPem,
    #[error(
        "looks like base64-encoded PEM but is not valid base64 (cut short or changed when pasting?)"
    )]
    InvalidBase64,
    #[error(
        "is valid base64, but what it encodes is not PEM text; paste the PEM itself, or base64 of the whole PEM file"
    )]
    Base64NotPem,
    #[error(
        "has an \"-----END ...-----\" line without a \"-----BEGIN ...-----\" line before it (was the start cut off?)"
    )]
    EndWithoutBegin,
    #[error(
        "block {block}: the \"-----BEGIN ...-----\" line is malformed (no closing \"-----\", or a bad label)"
    )]
    MalformedBegin { block: usize },
    #[error("block {block} ({label}) has no \"-----END ...-----\" line (was the end cut off?)")]
    MissingEnd { block: usize, label: ShownLabel },
    #[error(
        "block {block} begins with \"-----BEGIN {begin}-----\" but ends with \"-----END {end}-----\""
    )]
    MismatchedEnd {
        block: usize,
        begin: ShownLabel,
        end: ShownLabel,
    },
    #[error(
        "block {block} ({label}) has header lines (\"Name: value\") before its data, which are not supported; remove them"
    )]
    Headers { block: usize, label: ShownLabel },
    #[error("block {block} ({label}) is empty: there is nothing between its BEGIN and END lines")]
    EmptyBody { block: usize, label: ShownLabel },
    #[error(
        "block {block} ({label}) is not valid base64 between its BEGIN and END lines (a character lost or changed when pasting?)"
    )]
    BadBody { block: usize, label: ShownLabel },
    #[error("block {block} ({label}) does not hold one DER value: {problem}")]
    NotDer {
        block: usize,
        label: ShownLabel,
        problem: DerProblem,
    },
    #[error("block {block} ({label}) is not a kind this field accepts")]
    Unexpected { block: usize, label: ShownLabel },
    #[error(
        "contains a private key (block {block}, {label}); only CERTIFICATE blocks belong here, the key goes into {key_field}",
        key_field = keys::TLS_KEY
    )]
    KeyInCertificateField { block: usize, label: ShownLabel },
    #[error(
        "block {block} is {label}, not a CERTIFICATE; only CERTIFICATE blocks belong here, leaf first"
    )]
    NotACertificate { block: usize, label: ShownLabel },
    #[error(
        "block {block} is a CERTIFICATE; only the private key belongs here, certificates go into {cert_field}",
        cert_field = keys::TLS_CERT
    )]
    CertificateInKeyField { block: usize },
    #[error(
        "is encrypted; provide an unencrypted key (`openssl pkey -in key.pem -out key-plain.pem` asks for the passphrase and writes the key without it)"
    )]
    Encrypted,
    #[error(
        "block {block} is an unsupported kind of key ({label}); provide PKCS#8 (PRIVATE KEY), PKCS#1 (RSA PRIVATE KEY) or SEC1 (EC PRIVATE KEY)"
    )]
    UnsupportedKey { block: usize, label: ShownLabel },
    #[error("block {block} is {label}, not a private key; only the private key belongs here")]
    NotAKey { block: usize, label: ShownLabel },
    #[error(
        "contains no private key (expected a PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block)"
    )]
    NoKey,
    #[error("contains {0} private keys; provide exactly one")]
    SeveralKeys(usize),
}

/// Decodes `guestinfo.tls_cert`: one or more CERTIFICATE blocks, nothing else.
pub fn parse_certificate_chain(value: &str) -> Result<Vec<Vec<u8>>, PemProblem> {
    let blocks = pem_text::blocks(value, Exposure::Public)?;
    // Refuse a misplaced key before decoding anything, so its body is never touched.
    for block in &blocks {
        if block.label == "CERTIFICATE" {
            continue;
        }
        let (index, label) = (block.index, block.shown_label());
        return Err(if block.label.ends_with("PRIVATE KEY") {
            PemProblem::KeyInCertificateField {
                block: index,
                label,
            }
        } else {
            PemProblem::NotACertificate {
                block: index,
                label,
            }
        });
    }
    blocks
        .iter()
        .map(|block| block.decode().map(|mut der| std::mem::take(&mut *der)))
        .collect()
}

/// Decodes `guestinfo.tls_key`: exactly one unencrypted private key block,
/// optionally after the `EC PARAMETERS` block `openssl ecparam -genkey` prints.
pub fn parse_private_key(value: &str) -> Result<PrivateKey, PemProblem> {
    let blocks = pem_text::blocks(value, Exposure::Secret)?;
    if blocks
        .iter()
        .any(|b| b.label == "ENCRYPTED PRIVATE KEY" || b.legacy_encrypted)
    {
        return Err(PemProblem::Encrypted);
    }
    let mut found = Vec::new();
    for block in &blocks {
        let (index, label) = (block.index, block.shown_label());
        match block.label.as_str() {
            // Curve parameters are also inside the SEC1 key itself.
            "EC PARAMETERS" => continue,
            "CERTIFICATE" => return Err(PemProblem::CertificateInKeyField { block: index }),
            other => match KeyFormat::from_label(other) {
                Some(format) => found.push((format, block)),
                None if other.ends_with("PRIVATE KEY") => {
                    return Err(PemProblem::UnsupportedKey {
                        block: index,
                        label,
                    });
                }
                None => {
                    return Err(PemProblem::NotAKey {
                        block: index,
                        label,
                    });
                }
            },
        }
    }
    let (format, block) = match found.as_slice() {
        [] => return Err(PemProblem::NoKey),
        [one] => *one,
        several => return Err(PemProblem::SeveralKeys(several.len())),
    };
    let mut der: Zeroizing<Vec<u8>> = block.decode()?;
    Ok(PrivateKey {
        format,
        der: Secret::new(std::mem::take(&mut *der)),
    })
}

#[cfg(test)]
mod tests;
