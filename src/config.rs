//! The agent's own config: `/etc/ovaboot/ovaboot.toml`, written by whoever
//! builds the appliance (not by the vSphere admin). Every key has a default
//! compiled in, so no file is needed; unknown keys are errors that name them.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cluster::KubeConfig;
use crate::contour::ContourConfig;
use crate::plan::credentials::CredentialsConfig;
use crate::routes::{RootProxyConfig, RouteConfig, RoutesConfig, TlsSecretConfig};
use crate::tls::TlsConfig;

mod host;

pub use host::{HostConfig, HostConfigError};

/// Where the config is read from when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/ovaboot/ovaboot.toml";

/// The whole config file. Each table belongs to the module that uses it.
#[derive(Debug, Clone, Default, Deserialize)]
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
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/ovaboot/ovaboot.toml"))
    }

    #[test]
    fn an_empty_file_gives_every_default() {
        let config = parse("").unwrap();
        assert_eq!(config.contour.version, "v1.33.6");
        assert_eq!(config.tls, TlsConfig::default());
        assert_eq!(config.host, HostConfig::default());
        assert!(config.routes.is_none(), "no [[routes]]: the default routes");
    }

    #[test]
    fn every_table_is_read() {
        let config = parse(
            r#"
[host]
proxy_units = ["k3s.service", "containerd.service"]
[tls]
key_algorithm = "rsa-3072"
[contour]
envoy_exposure = "host-port"
[[routes]]
prefix = "/events"
service = "event-router"
namespace = "vmware-events"
port = 8080
[tls_secret]
name = "appliance-tls"
[kube]
workload_ready_timeout_secs = 900
"#,
        )
        .unwrap();
        assert_eq!(config.host.proxy_units.len(), 2);
        assert_eq!(config.tls.key_algorithm, crate::tls::KeyAlgorithm::Rsa3072);
        assert_eq!(
            config.contour.envoy_exposure,
            crate::contour::EnvoyExposure::HostPort
        );
        assert_eq!(
            config.routes().effective_routes()[0].service,
            "event-router"
        );
        assert_eq!(config.tls_secret.name, "appliance-tls");
        assert_eq!(config.kube.workload_ready_timeout_secs, 900);
    }

    #[test]
    fn an_unknown_key_is_refused_naming_it_its_table_and_line() {
        let err = parse("[tls]\nkey_algorithm = \"ecdsa-p256\"\nvalidity = 30\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "the config /etc/ovaboot/ovaboot.toml line 3: in [tls]: unknown field `validity`"
            ),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1);

        let err = parse("colour = \"blue\"\n").unwrap_err().to_string();
        assert!(
            err.contains("line 1") && err.contains("unknown field `colour`"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_value_is_refused_naming_the_key() {
        let err = parse("[[routes]]\nprefix = \"events\"\nservice = \"x\"\nport = 80\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("routes[0].prefix"), "{err}");
        let err = parse("[host]\nproxy_units = [\"k3s\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("host.proxy_units"), "{err}");
        let err = parse("[tls]\nkey_algorithm = \"dsa\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("in [tls]") && err.contains("dsa"),
            "{err}"
        );
    }

    #[test]
    fn every_table_is_checked_when_the_file_is_read() {
        for (text, key) in [
            ("[tls]\nvalidity_days = 0\n", "tls.validity_days"),
            ("[tls]\nvalidity_days = 20\n", "tls.expiry_warning_days"),
            ("[contour]\nversion = \"latest\"\n", "contour.version"),
            (
                "[kube]\napi_server_timeout_secs = 0\n",
                "kube.api_server_timeout_secs",
            ),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(
                err.starts_with("the config /etc/ovaboot/ovaboot.toml: "),
                "{err}"
            );
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn an_explicit_file_must_exist() {
        let err = Config::load(Some(Path::new("/nonexistent/ovaboot.toml"))).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read the config /nonexistent/ovaboot.toml"),
            "{err}"
        );
    }
}
