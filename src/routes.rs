//! The appliance's HTTP routes as Contour objects: one root `HTTPProxy` for the
//! appliance's FQDN with its TLS Secret, routes in the root's namespace directly,
//! routes in other namespaces through one included child `HTTPProxy` per namespace.
//!
//! Config (`[[routes]]`, `[tls_secret]`, `[root_proxy]`) is validated here, with
//! errors naming the key (`routes[1].port`); [`plan`] is pure.

mod build;
mod config;
mod names;

pub use build::{Authorization, ProxyRef, RoutesPlan, SecretRef, plan};
pub use config::{
    DEFAULT_NAMESPACE, RootProxyConfig, RouteAuth, RouteConfig, RoutesConfig, TlsSecretConfig,
    default_routes,
};

/// The first protected route of `config`, described (see [`RoutesConfig::protected`]).
pub fn protected(config: &RoutesConfig) -> Option<String> {
    config.protected()
}

/// A namespace name (DNS-1123 label), for config keys elsewhere.
pub fn check_namespace(value: &str) -> Result<(), String> {
    names::dns1123_label(value)
}

/// A routes config value that cannot be used; names the config key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct RoutesError {
    /// e.g. `routes[1].port` (the second `[[routes]]` table), `tls_secret.name`.
    pub key: String,
    pub problem: String,
}

impl RoutesError {
    pub(crate) fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        RoutesError {
            key: key.into(),
            problem: problem.into(),
        }
    }
}
