//! The `[tls]` table of the agent's config.

use super::{KeyKind, TlsError};

/// Key type of a generated (self-signed) certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
pub enum KeyAlgorithm {
    /// ECDSA on P-256 with SHA-256: small, fast, accepted everywhere.
    #[default]
    #[serde(rename = "ecdsa-p256")]
    EcdsaP256,
    #[serde(rename = "rsa-2048")]
    Rsa2048,
    #[serde(rename = "rsa-3072")]
    Rsa3072,
    #[serde(rename = "rsa-4096")]
    Rsa4096,
}

impl KeyAlgorithm {
    pub const ALL: [KeyAlgorithm; 4] = [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa3072,
        KeyAlgorithm::Rsa4096,
    ];

    /// The config spelling, e.g. `rsa-3072`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::EcdsaP256 => "ecdsa-p256",
            KeyAlgorithm::Rsa2048 => "rsa-2048",
            KeyAlgorithm::Rsa3072 => "rsa-3072",
            KeyAlgorithm::Rsa4096 => "rsa-4096",
        }
    }

    /// The key type this algorithm generates.
    pub fn kind(self) -> KeyKind {
        match self {
            KeyAlgorithm::EcdsaP256 => KeyKind::EcdsaP256,
            KeyAlgorithm::Rsa2048 => KeyKind::Rsa { bits: 2048 },
            KeyAlgorithm::Rsa3072 => KeyKind::Rsa { bits: 3072 },
            KeyAlgorithm::Rsa4096 => KeyKind::Rsa { bits: 4096 },
        }
    }

    pub fn is_rsa(self) -> bool {
        !matches!(self, KeyAlgorithm::EcdsaP256)
    }
}

/// `[tls]` in the config; every key may be left out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// Key type of the self-signed certificate (`ecdsa-p256`, `rsa-2048|3072|4096`).
    pub key_algorithm: KeyAlgorithm,
    /// Lifetime of the self-signed certificate.
    pub validity_days: u32,
    /// Warn when the admin's certificate expires within this many days; the
    /// self-signed one is renewed this long before it expires.
    pub expiry_warning_days: u32,
    /// The self-signed certificate's notBefore is this far in the past, for clients whose clocks lag.
    pub backdate_minutes: u32,
}

/// Apple platforms refuse TLS server certificates valid for longer than this.
pub const APPLE_MAX_VALIDITY_DAYS: u32 = 825;
/// Beyond this, a date arithmetic typo is likelier than intent.
const MAX_VALIDITY_DAYS: u32 = 3650;

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            key_algorithm: KeyAlgorithm::EcdsaP256,
            validity_days: APPLE_MAX_VALIDITY_DAYS,
            expiry_warning_days: 30,
            backdate_minutes: 5,
        }
    }
}

impl TlsConfig {
    pub fn validate(&self) -> Result<(), TlsError> {
        if !(1..=MAX_VALIDITY_DAYS).contains(&self.validity_days) {
            return Err(TlsError::Config {
                key: "validity_days",
                problem: format!(
                    "must be between 1 and {MAX_VALIDITY_DAYS}, got {}",
                    self.validity_days
                ),
            });
        }
        if self.expiry_warning_days >= self.validity_days {
            // Else a fresh self-signed certificate is already "expiring" and
            // every rerun would replace it.
            return Err(TlsError::Config {
                key: "expiry_warning_days",
                problem: format!(
                    "must be less than tls.validity_days ({}), got {}",
                    self.validity_days, self.expiry_warning_days
                ),
            });
        }
        if self.backdate_minutes > 24 * 60 {
            return Err(TlsError::Config {
                key: "backdate_minutes",
                problem: format!(
                    "must be at most 1440 (a day), got {}",
                    self.backdate_minutes
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_gives_the_defaults() {
        let config: TlsConfig = toml::from_str("").unwrap();
        assert_eq!(config, TlsConfig::default());
        assert_eq!(config.key_algorithm, KeyAlgorithm::EcdsaP256);
        assert_eq!(config.validity_days, 825);
        assert_eq!(config.expiry_warning_days, 30);
        assert_eq!(config.backdate_minutes, 5);
    }

    #[test]
    fn every_key_algorithm_spelling_parses() {
        for alg in KeyAlgorithm::ALL {
            let config: TlsConfig =
                toml::from_str(&format!("key_algorithm = \"{}\"", alg.as_str())).unwrap();
            assert_eq!(config.key_algorithm, alg);
        }
    }

    #[test]
    fn unknown_keys_and_algorithms_are_refused_by_name() {
        let err = toml::from_str::<TlsConfig>("validity = 10").unwrap_err();
        assert!(
            err.to_string().contains("unknown field `validity`"),
            "{err}"
        );
        let err = toml::from_str::<TlsConfig>("key_algorithm = \"rsa-1024\"").unwrap_err();
        assert!(err.to_string().contains("rsa-1024"), "{err}");
    }

    #[test]
    fn zero_validity_is_refused_naming_the_key() {
        let config = TlsConfig {
            validity_days: 0,
            ..TlsConfig::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "tls.validity_days: must be between 1 and 3650, got 0"
        );
    }
}
