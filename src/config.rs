//! The agent's own config: `/etc/ovaboot/ovaboot.toml`, written by whoever
//! builds the appliance (not by the vSphere admin). Every key has a default
//! compiled in, so no file is needed; unknown keys are errors that name them.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cluster::KubeConfig;
use crate::contour::ContourConfig;
use crate::routes::{RootProxyConfig, RouteConfig, RoutesConfig, TlsSecretConfig};
use crate::tls::TlsConfig;

mod credentials;
mod host;

pub use credentials::CredentialsConfig;
pub use host::{HostConfig, HostConfigError};

/// Where the config is read from when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/ovaboot/ovaboot.toml";

/// The whole config file. Each table belongs to the module that uses it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[host]`: files the host step writes, proxy drop-ins.
    pub host: HostConfig,
    /// `[tls]`: the self-signed certificate, expiry warnings.
    pub tls: TlsConfig,
    /// `[contour]`: the pinned release and how envoy is exposed.
    pub contour: ContourConfig,
    /// `[[routes]]`: what the appliance serves; `None` means the default routes.
    pub routes: Option<Vec<RouteConfig>>,
    /// `[tls_secret]`: name and namespace of the TLS Secret.
    pub tls_secret: TlsSecretConfig,
    /// `[root_proxy]`: name and namespace of the root HTTPProxy.
    pub root_proxy: RootProxyConfig,
    /// `[kube]`: kubeconfig and deadlines.
    pub kube: KubeConfig,
    /// `[credentials]`: the rules for root's password.
    pub credentials: CredentialsConfig,
    /// `[xds]`: the certificates between Contour's xDS server and envoy.
    pub xds: crate::xds::XdsConfig,
}

/// Why the config cannot be used; one line naming the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the config {}{}: {message}", path.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
}

impl Config {
    /// Reads `explicit` (which must exist), else [`DEFAULT_CONFIG_PATH`] if it
    /// exists, else the compiled-in defaults.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let path = match explicit {
            Some(path) => path.to_owned(),
            None if Path::new(DEFAULT_CONFIG_PATH).exists() => PathBuf::from(DEFAULT_CONFIG_PATH),
            None => return Ok(Config::default()),
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        Config::parse(&text, &path)
    }

    /// Parses and checks a config text; `path` is only for messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            line: e
                .span()
                .map(|span| text[..span.start].matches('\n').count() + 1),
            message: describe_toml_error(&e, text),
        })?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            line: None,
            message,
        };
        config.host.validate().map_err(|e| invalid(e.to_string()))?;
        config.tls.validate().map_err(|e| invalid(e.to_string()))?;
        config
            .contour
            .validate()
            .map_err(|e| invalid(e.to_string()))?;
        config
            .routes()
            .validate()
            .map_err(|e| invalid(e.to_string()))?;
        config.kube.validate().map_err(invalid)?;
        config.xds.validate().map_err(|e| invalid(e.to_string()))?;
        Ok(config)
    }

    /// The routing tables as the routes step takes them.
    pub fn routes(&self) -> RoutesConfig {
        RoutesConfig {
            routes: self.routes.clone(),
            tls_secret: self.tls_secret.clone(),
            root_proxy: self.root_proxy.clone(),
        }
    }
}

/// toml's message, on one line, prefixed with the table the error is in
/// (serde only says "unknown field `x`", not where).
fn describe_toml_error(e: &toml::de::Error, text: &str) -> String {
    let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    let table = e.span().and_then(|span| {
        text[..span.start]
            .lines()
            .rev()
            .map(str::trim)
            .find(|line| line.starts_with('['))
            .map(|header| {
                header
                    .trim_matches(|c| c == '[' || c == ']')
                    .trim()
                    .to_owned()
            })
    });
    match table {
        Some(table) => format!("in [{table}]: {message}"),
        None => message,
    }
}

#[cfg(test)]
mod tests;
