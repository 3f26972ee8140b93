//! The agent's own config: `/etc/ovaboot/ovaboot.toml`, written by whoever
//! builds the appliance (not by the vSphere admin). Every key has a default
//! compiled in, so no file is needed; unknown keys are errors that name them.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cluster::KubeConfig;
use crate::contour::ContourConfig;
use crate::root::{Links, read_local};
use crate::routes::{RootProxyConfig, RouteConfig, RoutesConfig, TlsSecretConfig};
use crate::tls::TlsConfig;

mod credentials;
mod host;

pub use credentials::CredentialsConfig;
pub use host::{
    HostConfig, HostConfigError, NETWORK_FILE, OwnFile, PROXY_ENV_FILE, TIMESYNCD_FILE,
};

/// The most a config file may hold (never blocking, capped: [`read_local`]).
pub const CONFIG_LIMIT: u64 = 1024 * 1024;

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
    /// `[lock]`: how long a run waits for another to finish.
    pub lock: crate::run_lock::LockConfig,
    /// `[xds]`: the certificates between Contour's xDS server and envoy.
    pub xds: crate::xds::XdsConfig,
    /// `[auth]`: the auth server behind the protected routes.
    pub auth: crate::auth::AuthConfig,
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
        let path = explicit.unwrap_or(Path::new(DEFAULT_CONFIG_PATH));
        let unreadable = |source| ConfigError::Read {
            path: path.to_owned(),
            source,
        };
        let bytes = match read_local(path, CONFIG_LIMIT, Links::Follow) {
            Ok(Some(file)) => file.bytes,
            Ok(None) if explicit.is_none() => return Ok(Config::default()),
            Ok(None) => return Err(unreadable(crate::root::not_found())),
            Err(e) => return Err(unreadable(e.into_io_error())),
        };
        Config::from_bytes(&bytes, path)
    }

    /// The config of the system under `root`: its `/etc/ovaboot/ovaboot.toml`,
    /// resolved inside the root ([`crate::root::read_file`]), or the built-in
    /// defaults when it has none. For a command that looks at that system
    /// rather than the one it runs on (`status --root`).
    pub fn load_under(root: &Path) -> Result<Config, ConfigError> {
        let path = crate::root::under(root, DEFAULT_CONFIG_PATH);
        match crate::root::read_file(root, DEFAULT_CONFIG_PATH, CONFIG_LIMIT) {
            Ok(Some(file)) => Config::from_bytes(&file.bytes, &path),
            Ok(None) => Ok(Config::default()),
            Err(e) => Err(ConfigError::Read {
                path,
                source: e.into_io_error(),
            }),
        }
    }

    /// A config file's bytes, which must be UTF-8; `path` is only for messages.
    fn from_bytes(bytes: &[u8], path: &Path) -> Result<Config, ConfigError> {
        let text = std::str::from_utf8(bytes).map_err(|_| ConfigError::Invalid {
            path: path.to_owned(),
            line: None,
            message: "it is not UTF-8 text".to_owned(),
        })?;
        Config::parse(text, path)
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
        config.credentials.validate().map_err(invalid)?;
        config.xds.validate().map_err(|e| invalid(e.to_string()))?;
        config.auth.validate().map_err(|e| invalid(e.to_string()))?;
        config.check_auth_fits().map_err(invalid)?;
        Ok(config)
    }

    /// While a route is protected: a password minimum bcrypt can take, and an
    /// auth server namespace of its own (the server may read every Secret
    /// there, so no other key may share it).
    fn check_auth_fits(&self) -> Result<(), String> {
        let routes = self.routes();
        let Some(protected) = routes.protected() else {
            return Ok(());
        };
        let min = self.credentials.min_password_length;
        let most = crate::secret::BCRYPT.max_bytes;
        if min > most {
            return Err(format!(
                "credentials.min_password_length: {min} is over {most}, the longest password bcrypt takes, and {protected}, so guestinfo.endpoint_password could never be set"
            ));
        }
        let ns = self.auth.namespace.as_str();
        let mut shared = vec![("Contour's namespace", crate::xds::NAMESPACE.to_owned())];
        shared.extend(
            routes
                .effective_routes()
                .into_iter()
                .map(|r| ("a route's namespace", r.namespace)),
        );
        shared.extend(
            [
                ("tls_secret.namespace", &self.tls_secret.namespace),
                ("root_proxy.namespace", &self.root_proxy.namespace),
            ]
            .into_iter()
            .filter_map(|(what, n)| n.clone().map(|n| (what, n))),
        );
        if let Some((what, _)) = shared.iter().find(|(_, n)| n == ns) {
            return Err(format!(
                "auth.namespace: {} is also {what}: the auth server may read every Secret of its namespace, which must hold its own Secrets alone",
                crate::show::quoted(ns)
            ));
        }
        Ok(())
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

/// toml's message, on one line and escaped, prefixed with where it is:
/// `table.key` for a value serde refused (`routes[1].port` in the second
/// `[[routes]]`), `in [table]` for an unknown key (serde names the key but
/// not the table).
fn describe_toml_error(e: &toml::de::Error, text: &str) -> String {
    let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    let message = crate::show::escaped(&message);
    let Some(span) = e.span() else {
        return message.into_owned();
    };
    let before = &text[..span.start];
    let table = table_at(before);
    let key = (!message.starts_with("unknown field"))
        .then(|| key_at(before))
        .flatten();
    match (table, key) {
        (Some(table), Some(key)) => format!("{table}.{key}: {message}"),
        (None, Some(key)) => format!("{key}: {message}"),
        (Some(table), None) => format!("in [{table}]: {message}"),
        (None, None) => message.into_owned(),
    }
}

/// The table `before` (the text up to an error) ends in: its last header,
/// `routes[N]` for the N-th (0-based) `[[routes]]`.
fn table_at(before: &str) -> Option<String> {
    let header = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| line.starts_with('['))?;
    let name = header.trim_matches(|c| c == '[' || c == ']').trim();
    if !header.starts_with("[[") {
        return Some(name.to_owned());
    }
    let index = before
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("[[") && line.trim_matches(['[', ']']).trim() == name)
        .count()
        - 1;
    Some(format!("{name}[{index}]"))
}

/// The bare key whose value the error is in: `key = ` at the start of the
/// error's line (a value on one line, as every ovaboot key's is).
fn key_at(before: &str) -> Option<String> {
    let line = before.rsplit('\n').next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    bare.then(|| key.to_owned())
}

#[cfg(test)]
mod tests;
