//! The `[xds]` table of the agent's config: the certificates Contour's xDS
//! server and envoy authenticate each other with.

use crate::tls::KeyAlgorithm;
use crate::tls::pki::Lifetime;

/// `[xds]` in the config; every key may be left out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct XdsConfig {
    /// Key type of the CA and both pairs (`ecdsa-p256`, `rsa-2048|3072|4096`).
    pub key_algorithm: KeyAlgorithm,
    /// Lifetime of Contour's and envoy's pairs (certgen's own: 365).
    pub lifetime_days: u32,
    /// A pair is renewed once fewer days than this are left.
    pub renew_before_days: u32,
    /// Lifetime of the CA.
    pub ca_lifetime_days: u32,
    /// The CA is renewed (with its key kept) once fewer days than this are left.
    pub ca_renew_before_days: u32,
    /// notBefore is this far before the minting, for a peer whose clock lags.
    pub backdate_minutes: u32,
}

/// Beyond this, a date arithmetic typo is likelier than intent.
const MAX_LIFETIME_DAYS: u32 = 3650;
const MAX_CA_LIFETIME_DAYS: u32 = 7300;

impl Default for XdsConfig {
    fn default() -> Self {
        XdsConfig {
            key_algorithm: KeyAlgorithm::EcdsaP256,
            lifetime_days: 365,
            renew_before_days: 30,
            ca_lifetime_days: 3650,
            ca_renew_before_days: 365,
            backdate_minutes: 5,
        }
    }
}

/// A config value that cannot be used, named as `xds.<key>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("xds.{key}: {problem}")]
pub struct XdsConfigError {
    pub key: &'static str,
    pub problem: String,
}

impl XdsConfig {
    /// The pairs' lifetime, as the PKI takes it.
    pub fn leaf_lifetime(&self) -> Lifetime {
        Lifetime {
            days: self.lifetime_days,
            renew_before_days: self.renew_before_days,
            backdate_minutes: self.backdate_minutes,
        }
    }

    /// The CA's lifetime, as the PKI takes it.
    pub fn ca_lifetime(&self) -> Lifetime {
        Lifetime {
            days: self.ca_lifetime_days,
            renew_before_days: self.ca_renew_before_days,
            backdate_minutes: self.backdate_minutes,
        }
    }

    pub fn validate(&self) -> Result<(), XdsConfigError> {
        let fail = |key, problem: String| Err(XdsConfigError { key, problem });
        if !(1..=MAX_LIFETIME_DAYS).contains(&self.lifetime_days) {
            return fail(
                "lifetime_days",
                format!(
                    "must be between 1 and {MAX_LIFETIME_DAYS}, got {}",
                    self.lifetime_days
                ),
            );
        }
        if self.renew_before_days >= self.lifetime_days {
            // Else a fresh pair is already due and every run would mint again.
            return fail(
                "renew_before_days",
                format!(
                    "must be less than xds.lifetime_days ({}), got {}",
                    self.lifetime_days, self.renew_before_days
                ),
            );
        }
        if !(1..=MAX_CA_LIFETIME_DAYS).contains(&self.ca_lifetime_days) {
            return fail(
                "ca_lifetime_days",
                format!(
                    "must be between 1 and {MAX_CA_LIFETIME_DAYS}, got {}",
                    self.ca_lifetime_days
                ),
            );
        }
        if self.ca_renew_before_days >= self.ca_lifetime_days {
            return fail(
                "ca_renew_before_days",
                format!(
                    "must be less than xds.ca_lifetime_days ({}), got {}",
                    self.ca_lifetime_days, self.ca_renew_before_days
                ),
            );
        }
        if self.lifetime_days > self.ca_lifetime_days - self.ca_renew_before_days {
            // A pair never outlives its CA: it would be cut short at the CA's
            // end, and its renewal window would come early.
            return fail(
                "lifetime_days",
                format!(
                    "must be at most xds.ca_lifetime_days - xds.ca_renew_before_days ({}), got {}",
                    self.ca_lifetime_days - self.ca_renew_before_days,
                    self.lifetime_days
                ),
            );
        }
        if self.backdate_minutes > 24 * 60 {
            return fail(
                "backdate_minutes",
                format!(
                    "must be at most 1440 (a day), got {}",
                    self.backdate_minutes
                ),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_gives_the_defaults_and_they_hold() {
        let config: XdsConfig = toml::from_str("").unwrap();
        assert_eq!(config, XdsConfig::default());
        assert_eq!(config.lifetime_days, 365);
        assert_eq!(config.renew_before_days, 30);
        assert_eq!(config.ca_lifetime_days, 3650);
        assert_eq!(config.ca_renew_before_days, 365);
        assert_eq!(config.key_algorithm, KeyAlgorithm::EcdsaP256);
        config.validate().unwrap();
    }

    #[test]
    fn each_bad_value_is_refused_naming_its_key() {
        type Change = fn(&mut XdsConfig);
        let cases: [(Change, &str); 6] = [
            (
                |c| c.lifetime_days = 0,
                "xds.lifetime_days: must be between 1 and 3650, got 0",
            ),
            (
                |c| c.renew_before_days = 365,
                "xds.renew_before_days: must be less than xds.lifetime_days (365), got 365",
            ),
            (
                |c| c.ca_lifetime_days = 9000,
                "xds.ca_lifetime_days: must be between 1 and 7300, got 9000",
            ),
            (
                |c| c.ca_renew_before_days = 3650,
                "xds.ca_renew_before_days: must be less than xds.ca_lifetime_days (3650), got 3650",
            ),
            (
                |c| c.lifetime_days = 3300,
                "xds.lifetime_days: must be at most xds.ca_lifetime_days - xds.ca_renew_before_days (3285), got 3300",
            ),
            (
                |c| c.backdate_minutes = 2000,
                "xds.backdate_minutes: must be at most 1440 (a day), got 2000",
            ),
        ];
        for (change, message) in cases {
            let mut config = XdsConfig::default();
            change(&mut config);
            assert_eq!(config.validate().unwrap_err().to_string(), message);
        }
    }
}
