//! `[credentials]` in the agent's config: the rules for root's password.

use serde::Deserialize;

/// `[credentials]` in the agent's config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CredentialsConfig {
    /// The fewest characters `guestinfo.root_password` may have (docs/credentials.md).
    pub min_password_length: usize,
}

impl Default for CredentialsConfig {
    fn default() -> Self {
        CredentialsConfig {
            min_password_length: 12,
        }
    }
}
