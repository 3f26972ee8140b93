//! Typed, validated view of the OVF properties. Every error names the property
//! key at fault and what is wrong with it; no error ever carries a secret value.

pub mod network;
pub mod proxy;

use crate::secret::Secret;

/// The appliance's fully qualified host name: validated, lowercased, no trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Hostname(String);

/// Why a host name was refused (the caller names the property).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostnameError {
    #[error("is empty")]
    Empty,
    #[error("is {0} characters long; at most 253 are allowed")]
    TooLong(usize),
    #[error("must be a fully qualified domain name (at least two labels, e.g. veba01.example.com)")]
    NotQualified,
    #[error("has an empty label (two dots in a row, or a leading dot)")]
    EmptyLabel,
    #[error("has a label of {0} characters; at most 63 are allowed")]
    LabelTooLong(usize),
    #[error("has the character {0:?}; only letters, digits, '-' and '.' are allowed")]
    BadCharacter(char),
    #[error("has a label that starts or ends with '-'")]
    HyphenAtEdge,
    #[error("ends in an all-numeric label; a top-level domain is never numeric")]
    NumericTld,
}

impl std::str::FromStr for Hostname {
    type Err = HostnameError;

    /// RFC 1123 host name rules, FQDN required; lowercased; one trailing dot stripped.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let name = input.trim();
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() {
            return Err(HostnameError::Empty);
        }
        if name.len() > 253 {
            return Err(HostnameError::TooLong(name.len()));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
        {
            return Err(HostnameError::BadCharacter(c));
        }
        let labels: Vec<&str> = name.split('.').collect();
        for label in &labels {
            if label.is_empty() {
                return Err(HostnameError::EmptyLabel);
            }
            if label.len() > 63 {
                return Err(HostnameError::LabelTooLong(label.len()));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(HostnameError::HyphenAtEdge);
            }
        }
        if labels.len() < 2 {
            return Err(HostnameError::NotQualified);
        }
        if labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            // Also keeps an IPv4 address from passing as a host name.
            return Err(HostnameError::NumericTld);
        }
        Ok(Hostname(name.to_ascii_lowercase()))
    }
}

impl Hostname {
    /// The FQDN, e.g. `veba01.lab.example.com`.
    pub fn fqdn(&self) -> &str {
        &self.0
    }

    /// The first label, e.g. `veba01`.
    pub fn short(&self) -> &str {
        self.0.split('.').next().unwrap_or(&self.0)
    }
}

/// TLS material supplied by the admin (`guestinfo.tls_cert` + `guestinfo.tls_key`),
/// decoded into DER but not yet checked as X.509 (that is the TLS plan's job).
#[derive(Debug, Clone)]
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

#[cfg(test)]
mod hostname_tests {
    use super::*;

    fn parse(s: &str) -> Result<Hostname, HostnameError> {
        s.parse()
    }

    #[test]
    fn accepts_fqdn_lowercases_and_strips_one_trailing_dot() {
        let h = parse("VEBA01.Lab.Example.COM.").unwrap();
        assert_eq!(h.fqdn(), "veba01.lab.example.com");
        assert_eq!(h.short(), "veba01");
    }

    #[test]
    fn refuses_what_rfc_1123_forbids() {
        assert_eq!(parse(""), Err(HostnameError::Empty));
        assert_eq!(parse("veba01"), Err(HostnameError::NotQualified));
        assert_eq!(parse("veba01..example.com"), Err(HostnameError::EmptyLabel));
        assert_eq!(parse("example.com.."), Err(HostnameError::EmptyLabel));
        assert_eq!(parse("-veba.example.com"), Err(HostnameError::HyphenAtEdge));
        assert_eq!(parse("veba-.example.com"), Err(HostnameError::HyphenAtEdge));
        assert_eq!(
            parse("veba_01.example.com"),
            Err(HostnameError::BadCharacter('_'))
        );
        assert_eq!(parse("192.168.1.10"), Err(HostnameError::NumericTld));
        assert_eq!(
            parse(&format!("{}.com", "a".repeat(64))),
            Err(HostnameError::LabelTooLong(64))
        );
        let long = format!("{}.com", vec!["a".repeat(63); 4].join("."));
        assert_eq!(parse(&long), Err(HostnameError::TooLong(long.len())));
    }

    #[test]
    fn accepts_limits_exactly() {
        let label63 = "a".repeat(63);
        assert!(parse(&format!("{label63}.com")).is_ok());
        // 253 characters in all: 3 labels of 63, one of 61, and 3 dots.
        let name = format!("{label63}.{label63}.{label63}.{}", "b".repeat(61));
        assert_eq!(name.len(), 253);
        assert!(parse(&name).is_ok());
        assert!(parse("1and1.example.com").is_ok());
    }
}
