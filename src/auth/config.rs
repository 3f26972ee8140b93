//! `[auth]` in the agent's config: the pinned auth server and how the
//! endpoint password is hashed.

use serde::{Deserialize, Serialize};

/// `[auth]`; every key may be left out.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The contour-authserver image, `registry/name:tag`.
    pub image: String,
    /// Its digest (`sha256:` and 64 hex digits), pinned beside the tag when set.
    pub image_digest: Option<String>,
    /// bcrypt's cost for the endpoint password (2^cost rounds).
    pub bcrypt_cost: u32,
    /// The auth server's namespace (it reads Secrets there only).
    pub namespace: String,
    /// The basic-authentication realm the browser shows.
    pub realm: String,
    /// How long envoy waits for the auth server's answer, in seconds.
    pub response_timeout_secs: u32,
}

/// The image ovaboot pins: contour-authserver v4 (its README: "There are no
/// versioned releases or container images yet" was written before the
/// ghcr.io releases; v4 is the tag the project publishes there).
pub const DEFAULT_IMAGE: &str = "ghcr.io/projectcontour/contour-authserver:v4";

/// The lowest cost accepted: OWASP's floor for bcrypt.
pub const MIN_BCRYPT_COST: u32 = 10;
/// The highest: every protected request is checked with the hash (the auth
/// server does not cache), and 2^15 rounds take about 2 s on the appliance.
pub const MAX_BCRYPT_COST: u32 = 14;

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            image: DEFAULT_IMAGE.to_owned(),
            image_digest: None,
            bcrypt_cost: MIN_BCRYPT_COST,
            namespace: "projectcontour-auth".to_owned(),
            realm: "ovaboot".to_owned(),
            response_timeout_secs: 5,
        }
    }
}

/// A config value that cannot be used, named as `auth.<key>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("auth.{key}: {problem}")]
pub struct AuthConfigError {
    pub key: &'static str,
    pub problem: String,
}

impl AuthConfig {
    /// The image as the Deployment names it: `image@digest` when pinned.
    pub fn image_reference(&self) -> String {
        match &self.image_digest {
            Some(digest) => format!("{}@{digest}", self.image),
            None => self.image.clone(),
        }
    }

    /// The image's tag (`v4`), the version the plan shows.
    pub fn version(&self) -> &str {
        let last = self.image.rsplit('/').next().unwrap_or(&self.image);
        last.split_once(':').map_or("latest", |(_, tag)| tag)
    }

    pub fn validate(&self) -> Result<(), AuthConfigError> {
        let fail = |key, problem: String| Err(AuthConfigError { key, problem });
        if self.image.is_empty()
            || self
                .image
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '@')
        {
            return fail(
                "image",
                format!(
                    "{} is not an image reference (registry/name:tag, no digest: that is auth.image_digest)",
                    crate::show::quoted(&self.image)
                ),
            );
        }
        if let Some(digest) = &self.image_digest {
            let hex = digest.strip_prefix("sha256:").unwrap_or("");
            if hex.len() != 64
                || !hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return fail(
                    "image_digest",
                    format!(
                        "{} is not sha256: and 64 lowercase hex digits",
                        crate::show::quoted(digest)
                    ),
                );
            }
        }
        if !(MIN_BCRYPT_COST..=MAX_BCRYPT_COST).contains(&self.bcrypt_cost) {
            return fail(
                "bcrypt_cost",
                format!(
                    "must be between {MIN_BCRYPT_COST} and {MAX_BCRYPT_COST}, got {}",
                    self.bcrypt_cost
                ),
            );
        }
        crate::routes::check_namespace(&self.namespace).or_else(|why| fail("namespace", why))?;
        if self.realm.is_empty()
            || self.realm.len() > 64
            || !self
                .realm
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return fail(
                "realm",
                format!(
                    "{} must be 1-64 letters, digits, '-', '_' or '.' (it is a label value and the realm browsers show)",
                    crate::show::quoted(&self.realm)
                ),
            );
        }
        if !(1..=60).contains(&self.response_timeout_secs) {
            return fail(
                "response_timeout_secs",
                format!(
                    "must be between 1 and 60, got {}",
                    self.response_timeout_secs
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
    fn defaults_are_valid_and_pin_v4() {
        let config = AuthConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.version(), "v4");
        assert_eq!(config.image_reference(), DEFAULT_IMAGE);
        let pinned = AuthConfig {
            image_digest: Some(format!("sha256:{}", "ab".repeat(32))),
            ..AuthConfig::default()
        };
        assert_eq!(pinned.validate(), Ok(()));
        assert!(
            pinned
                .image_reference()
                .ends_with(&format!("v4@sha256:{}", "ab".repeat(32)))
        );
    }

    #[test]
    fn each_bad_value_names_its_key() {
        let bad = |adjust: fn(&mut AuthConfig)| {
            let mut config = AuthConfig::default();
            adjust(&mut config);
            config.validate().unwrap_err().to_string()
        };
        assert!(
            bad(|c| c.bcrypt_cost = 9).starts_with("auth.bcrypt_cost: must be between 10 and 14")
        );
        assert!(bad(|c| c.bcrypt_cost = 15).starts_with("auth.bcrypt_cost: "));
        assert!(bad(|c| c.image = "a b".into()).starts_with("auth.image: "));
        assert!(bad(|c| c.image = "x@sha256:00".into()).starts_with("auth.image: "));
        assert!(
            bad(|c| c.image_digest = Some("sha256:XY".into())).starts_with("auth.image_digest: ")
        );
        assert!(bad(|c| c.namespace = "Auth".into()).starts_with("auth.namespace: "));
        assert!(bad(|c| c.realm = "my realm".into()).starts_with("auth.realm: "));
        assert!(bad(|c| c.response_timeout_secs = 0).starts_with("auth.response_timeout_secs: "));
    }
}
