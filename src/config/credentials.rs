//! `[credentials]` in the agent's config: the rules for root's password.

use serde::Deserialize;

/// `[credentials]` in the agent's config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CredentialsConfig {
    /// The fewest characters `guestinfo.root_password` may have
    /// (docs/credentials.md), from [`MIN_PASSWORD_FLOOR`] to
    /// [`crate::secret::SHA512_CRYPT`]'s limit.
    pub min_password_length: usize,
}

impl Default for CredentialsConfig {
    fn default() -> Self {
        CredentialsConfig {
            min_password_length: 12,
        }
    }
}

/// NIST SP 800-63B's floor for a memorized secret: 0 would let a one-letter
/// root password through.
pub const MIN_PASSWORD_FLOOR: usize = 8;

impl CredentialsConfig {
    /// A minimum some password can meet: at least [`MIN_PASSWORD_FLOOR`],
    /// at most what SHA-512-crypt verifies (`credentials.<key>: <problem>`).
    pub fn validate(&self) -> Result<(), String> {
        let min = self.min_password_length;
        let most = crate::secret::SHA512_CRYPT.max_bytes;
        if min < MIN_PASSWORD_FLOOR {
            return Err(format!(
                "credentials.min_password_length: {min} is below {MIN_PASSWORD_FLOOR} (NIST SP 800-63B's floor for a password)"
            ));
        }
        if min > most {
            return Err(format!(
                "credentials.min_password_length: {min} is over {most}, the longest password the system's crypt() verifies"
            ));
        }
        Ok(())
    }
}
