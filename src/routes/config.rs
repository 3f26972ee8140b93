//! `[[routes]]`, `[tls_secret]` and `[root_proxy]` in the agent's config.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::RoutesError;
use super::names::{dns1035_label, dns1123_label, dns1123_subdomain};

/// Namespace of the default routes, and of any `[[routes]]` table without one.
pub const DEFAULT_NAMESPACE: &str = "ovaboot";

/// One `[[routes]]` table: requests whose path starts with `prefix` go to
/// `service:port` in `namespace`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Path prefix, starting with '/'.
    pub prefix: String,
    /// Kubernetes Service name.
    pub service: String,
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Service port, 1-65535 (wide type so a bad value gets our message, not serde's).
    pub port: i64,
    /// Replace `prefix` with this before forwarding (e.g. `/bootstrap/x` -> `/x`).
    #[serde(default)]
    pub rewrite: Option<String>,
    /// Allow WebSocket upgrades on this route.
    #[serde(default)]
    pub websocket: bool,
    /// Serve this route over plain HTTP too, instead of redirecting to HTTPS.
    #[serde(default)]
    pub permit_insecure: bool,
    /// Whether a request needs the endpoint login (default: required).
    #[serde(default)]
    pub auth: RouteAuth,
}

/// `auth` of a `[[routes]]` table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteAuth {
    /// The endpoint login is asked for (HTTP basic authentication).
    #[default]
    Required,
    /// Anyone who reaches the appliance is served.
    None,
}

fn default_namespace() -> String {
    DEFAULT_NAMESPACE.to_owned()
}

/// `[tls_secret]`: where the appliance's TLS Secret lives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSecretConfig {
    pub name: String,
    /// Default: the root proxy's namespace.
    pub namespace: Option<String>,
}

impl Default for TlsSecretConfig {
    fn default() -> Self {
        TlsSecretConfig {
            name: "ovaboot-tls".to_owned(),
            namespace: None,
        }
    }
}

/// `[root_proxy]`: the HTTPProxy that owns the appliance's FQDN.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RootProxyConfig {
    /// Name of the root HTTPProxy; child proxies are named `<name>-routes`.
    pub name: String,
    /// Default: the first route's namespace.
    pub namespace: Option<String>,
}

impl Default for RootProxyConfig {
    fn default() -> Self {
        RootProxyConfig {
            name: "ovaboot".to_owned(),
            namespace: None,
        }
    }
}

/// The routing part of the agent's config, as it sits at the top level of the
/// TOML file. `routes` absent means [`default_routes`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoutesConfig {
    #[serde(default)]
    pub routes: Option<Vec<RouteConfig>>,
    #[serde(default)]
    pub tls_secret: TlsSecretConfig,
    #[serde(default)]
    pub root_proxy: RootProxyConfig,
}

/// What the appliance serves when the config has no `[[routes]]`: its status
/// page on `/` and the first-boot log on `/bootstrap`, both in namespace
/// `ovaboot`, port 80, HTTPS only.
pub fn default_routes() -> Vec<RouteConfig> {
    let route = |prefix: &str, service: &str| RouteConfig {
        prefix: prefix.to_owned(),
        service: service.to_owned(),
        namespace: default_namespace(),
        port: 80,
        rewrite: None,
        websocket: false,
        permit_insecure: false,
        auth: RouteAuth::Required,
    };
    vec![route("/", "status"), route("/bootstrap", "bootstrap-log")]
}

impl RoutesConfig {
    /// The first protected route, described for an error
    /// (`routes[1] ("/events") is protected`); `None` when none is.
    pub fn protected(&self) -> Option<String> {
        let routes = self.effective_routes();
        let at = routes.iter().position(|r| r.auth == RouteAuth::Required)?;
        Some(match &self.routes {
            Some(_) => format!("routes[{at}] ({:?}) is protected", routes[at].prefix),
            None => "the default routes are protected".to_owned(),
        })
    }

    /// The routes in effect: the configured ones, or the defaults when none are.
    pub fn effective_routes(&self) -> Vec<RouteConfig> {
        self.routes.clone().unwrap_or_else(default_routes)
    }

    /// Check every value; the first problem found is returned, naming its key.
    pub fn validate(&self) -> Result<(), RoutesError> {
        let routes = self.effective_routes();
        if routes.is_empty() {
            return Err(RoutesError::new(
                "routes",
                "is an empty list; remove it to get the default routes, or add a [[routes]] table",
            ));
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, route) in routes.iter().enumerate() {
            route.validate(i)?;
            if let Some(first) = seen.insert(route.prefix.as_str(), i) {
                return Err(RoutesError::new(
                    format!("routes[{i}].prefix"),
                    format!(
                        "{:?} is already the prefix of routes[{first}]",
                        route.prefix
                    ),
                ));
            }
        }
        dns1123_subdomain(&self.tls_secret.name)
            .map_err(|why| RoutesError::new("tls_secret.name", why))?;
        if let Some(ns) = &self.tls_secret.namespace {
            dns1123_label(ns).map_err(|why| RoutesError::new("tls_secret.namespace", why))?;
        }
        // The child proxies are `<name>-routes`: that must be a valid name too.
        dns1123_subdomain(&self.root_proxy.name)
            .and_then(|()| dns1123_subdomain(&format!("{}-routes", self.root_proxy.name)))
            .map_err(|why| RoutesError::new("root_proxy.name", why))?;
        if let Some(ns) = &self.root_proxy.namespace {
            dns1123_label(ns).map_err(|why| RoutesError::new("root_proxy.namespace", why))?;
        }
        Ok(())
    }
}

impl RouteConfig {
    fn validate(&self, i: usize) -> Result<(), RoutesError> {
        let key = |field: &str| format!("routes[{i}].{field}");
        // Name the route by its prefix too: TOML tables carry no visible index.
        let of_route = |why: String| format!("{why} (route {:?})", self.prefix);
        path_like(&self.prefix).map_err(|why| RoutesError::new(key("prefix"), why))?;
        dns1035_label(&self.service)
            .map_err(|why| RoutesError::new(key("service"), of_route(why)))?;
        dns1123_label(&self.namespace)
            .map_err(|why| RoutesError::new(key("namespace"), of_route(why)))?;
        if !(1..=65535).contains(&self.port) {
            return Err(RoutesError::new(
                key("port"),
                of_route(format!("{} is not a port number (1-65535)", self.port)),
            ));
        }
        if let Some(rewrite) = &self.rewrite {
            path_like(rewrite).map_err(|why| RoutesError::new(key("rewrite"), of_route(why)))?;
        }
        // Contour authorizes on the TLS virtual host only: a route also served
        // on plain HTTP would be served there without the login.
        if self.permit_insecure && self.auth == RouteAuth::Required {
            return Err(RoutesError::new(
                key("permit_insecure"),
                of_route(
                    "cannot be true on a route with auth = \"required\" (the default): plain HTTP would serve it without the login; set auth = \"none\" or permit_insecure = false".to_owned(),
                ),
            ));
        }
        Ok(())
    }
}

/// A URL path: starts with '/', no whitespace, control characters, '?' or '#'
/// (a request path never contains those, so such a prefix would never match).
fn path_like(value: &str) -> Result<(), String> {
    if !value.starts_with('/') {
        return Err(format!("{value:?} must start with '/'"));
    }
    if let Some(c) = value
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || *c == '?' || *c == '#')
    {
        return Err(format!("{value:?} contains {c:?}, which a URL path cannot"));
    }
    Ok(())
}
