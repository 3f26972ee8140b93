//! Typed, validated view of the OVF properties. Every error names the property
//! key at fault and what is wrong with it; no error ever carries a secret value.

pub mod credentials;
pub mod endpoint;
mod hostname;
pub mod network;
mod pem_text;
pub mod proxy;
mod tls_material;

pub use hostname::{Hostname, HostnameError};
pub use pem_text::{DerProblem, ShownLabel};
pub use tls_material::{
    KeyFormat, PemProblem, PrivateKey, TlsMaterial, parse_certificate_chain, parse_private_key,
};

use crate::ovf::{Properties, PropertyValue};

/// The OVF property keys this module reads.
pub mod keys {
    /// The appliance's FQDN. Required.
    pub const HOSTNAME: &str = "guestinfo.hostname";
    /// PEM certificate chain, leaf first. Optional, with [`TLS_KEY`].
    pub const TLS_CERT: &str = "guestinfo.tls_cert";
    /// PEM private key of the leaf. Secret. Optional, with [`TLS_CERT`].
    pub const TLS_KEY: &str = "guestinfo.tls_key";

    use super::{credentials, endpoint, network, proxy};

    /// Every property the agent reads; the rest are kept as `Settings::other`.
    /// ovf/product-section.xml declares exactly these (a test holds it to that).
    pub const READ: [&str; 16] = [
        HOSTNAME,
        TLS_CERT,
        TLS_KEY,
        network::KEY_IPADDRESS,
        network::KEY_NETMASK,
        network::KEY_GATEWAY,
        network::KEY_DNS,
        network::KEY_DOMAIN,
        network::KEY_NTP,
        proxy::KEY_HTTP_PROXY,
        proxy::KEY_HTTPS_PROXY,
        proxy::KEY_NO_PROXY,
        credentials::KEY_ROOT_PASSWORD,
        credentials::KEY_SSH_AUTHORIZED_KEYS,
        endpoint::KEY_ENDPOINT_USERNAME,
        endpoint::KEY_ENDPOINT_PASSWORD,
    ];

    /// The keys whose whole value is secret: password-typed in the descriptor.
    /// (A proxy URL's credentials are secret too, but the URL is not.)
    pub const SECRET: [&str; 3] = [
        TLS_KEY,
        credentials::KEY_ROOT_PASSWORD,
        endpoint::KEY_ENDPOINT_PASSWORD,
    ];
}

/// What the admin asked for, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub hostname: Hostname,
    /// The admin's own certificate and key; `None` means make a self-signed one.
    pub tls: Option<TlsMaterial>,
    /// Static address, DNS, NTP (`guestinfo.ipaddress` ...).
    pub network: network::NetworkSettings,
    /// `guestinfo.http_proxy` ...; `None` when no proxy is set.
    pub proxy: Option<proxy::ProxySettings>,
    /// root's password and SSH keys (`guestinfo.root_password` ...).
    pub credentials: credentials::Credentials,
    /// The login of the HTTP endpoints (`guestinfo.endpoint_username` ...).
    pub endpoint: endpoint::EndpointLogin,
    /// Every property not consumed above, as delivered (secret ones stay redacted).
    pub other: Properties,
}

/// What a refusal says when its reason would quote another property's secret.
pub const WITHHELD_REASON: &str =
    "is refused; the reason is not shown, as it would quote another property's secret";

/// A property that was refused: `<key>: <what is wrong>`, one line, no secret in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct SettingsError {
    key: String,
    problem: Problem,
}

impl SettingsError {
    pub fn new(key: impl Into<String>, problem: impl Into<Problem>) -> Self {
        SettingsError {
            key: key.into(),
            problem: problem.into(),
        }
    }

    /// The property at fault, e.g. `guestinfo.tls_key`.
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn problem(&self) -> &Problem {
        &self.problem
    }
}

/// What is wrong with a property (the part after `<key>: `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("is required but was not set")]
    Missing,
    #[error("is required but is empty")]
    Blank,
    #[error("{0}")]
    Hostname(#[from] HostnameError),
    #[error(
        "is required when {other} is set (provide both, or neither for a self-signed certificate)"
    )]
    RequiredWith { other: &'static str },
    #[error("{0}")]
    Pem(#[from] PemProblem),
    /// A network or proxy property's own explanation.
    #[error("{0}")]
    Invalid(String),
}

impl From<network::NetworkError> for SettingsError {
    fn from(e: network::NetworkError) -> Self {
        SettingsError::new(e.key, Problem::Invalid(e.problem))
    }
}

impl From<crate::secret::Unhashable> for SettingsError {
    fn from(e: crate::secret::Unhashable) -> Self {
        SettingsError::new(e.property, Problem::Invalid(e.problem))
    }
}

impl From<proxy::ProxyError> for SettingsError {
    fn from(e: proxy::ProxyError) -> Self {
        SettingsError::new(e.key, Problem::Invalid(e.problem))
    }
}

impl Settings {
    /// Validates the properties. The first property found wrong is reported;
    /// an error that would quote another property's secret (a password
    /// pasted where a parser shows what it read, such as a PEM label) says
    /// only which property is refused.
    pub fn from_properties(props: &Properties) -> Result<Settings, SettingsError> {
        Settings::validate(props).map_err(|e| {
            let secrets = network::secret_values(props);
            if crate::show::holds_secret(&e.to_string(), secrets) {
                SettingsError::new(e.key, Problem::Invalid(WITHHELD_REASON.to_owned()))
            } else {
                e
            }
        })
    }

    fn validate(props: &Properties) -> Result<Settings, SettingsError> {
        let hostname = hostname(props)?;
        let network = network::NetworkSettings::from_properties(props)?;
        let proxy = proxy::ProxySettings::from_properties(props)?;
        let tls = tls(props)?;
        let credentials = credentials::Credentials::from_properties(props)?;
        let endpoint = endpoint::EndpointLogin::from_properties(props)?;
        let other = props
            .iter()
            .filter(|(key, _)| !keys::READ.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        Ok(Settings {
            hostname,
            tls,
            network,
            proxy,
            credentials,
            endpoint,
            other,
        })
    }
}

/// A property's value, with an empty or all-whitespace value counted as absent:
/// the vSphere wizard sends empty strings for fields the admin left alone.
fn given<'a>(props: &'a Properties, key: &str) -> Option<&'a PropertyValue> {
    props.get(key).filter(|v| !v.expose().trim().is_empty())
}

/// `guestinfo.hostname`, validated alone (as [`Settings::from_properties`] does first).
pub fn hostname(props: &Properties) -> Result<Hostname, SettingsError> {
    let value = props
        .get(keys::HOSTNAME)
        .ok_or(SettingsError::new(keys::HOSTNAME, Problem::Missing))?;
    if value.expose().trim().is_empty() {
        return Err(SettingsError::new(keys::HOSTNAME, Problem::Blank));
    }
    value
        .expose()
        .parse()
        .map_err(|e: HostnameError| SettingsError::new(keys::HOSTNAME, e))
}

fn tls(props: &Properties) -> Result<Option<TlsMaterial>, SettingsError> {
    // tls_key is read as secret whether or not the descriptor marked it so
    // (an extraConfig guestinfo value carries no password flag).
    match (given(props, keys::TLS_CERT), given(props, keys::TLS_KEY)) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(SettingsError::new(
            keys::TLS_KEY,
            Problem::RequiredWith {
                other: keys::TLS_CERT,
            },
        )),
        (None, Some(_)) => Err(SettingsError::new(
            keys::TLS_CERT,
            Problem::RequiredWith {
                other: keys::TLS_KEY,
            },
        )),
        (Some(cert), Some(key)) => {
            let material = TlsMaterial::from_pem(cert.expose(), key.expose())?;
            tracing::debug!(
                certificates = material.certificates.len(),
                key_format = ?material.private_key.format,
                "TLS material supplied"
            );
            Ok(Some(material))
        }
    }
}

#[cfg(test)]
mod tests;
