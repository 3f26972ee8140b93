//! Routes config -> Contour objects (projectcontour.io/v1), in apply order.

use serde_json::{Value, json};

use super::{RouteAuth, RouteConfig, RoutesConfig, RoutesError};
use crate::contour::Object;
use crate::settings::Hostname;

const API_VERSION: &str = "projectcontour.io/v1";
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// Namespaces every cluster has; ovaboot does not claim them with a Namespace object.
const BUILT_IN_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// Where the TLS Secret must be stored (the TLS step writes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    pub namespace: String,
    pub name: String,
}

/// An HTTPProxy to wait for (`status.currentStatus == "valid"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRef {
    pub namespace: String,
    pub name: String,
}

/// The external authorization the root HTTPProxy's virtual host names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The ExtensionService's namespace and name.
    pub namespace: String,
    pub name: String,
    /// How long envoy waits for its answer (`5s`).
    pub response_timeout: String,
}

/// The routes step. Apply order: `namespaces`, then the TLS Secret at `secret`,
/// then `objects` (delegation, child proxies, root proxy last, so the root never
/// points at a child that does not exist yet). See [`RoutesPlan::in_apply_order`].
#[derive(Debug, Clone, PartialEq)]
pub struct RoutesPlan {
    pub namespaces: Vec<Object>,
    pub secret: SecretRef,
    pub objects: Vec<Object>,
    /// Every HTTPProxy, children first, root last.
    pub proxies: Vec<ProxyRef>,
    /// The routes in effect (the defaults when the config has none).
    pub routes: Vec<RouteConfig>,
}

impl RoutesPlan {
    /// All objects in apply order, with the TLS Secret object put in its place.
    pub fn in_apply_order(&self, tls_secret: Object) -> Vec<Object> {
        let mut all = self.namespaces.clone();
        all.push(tls_secret);
        all.extend(self.objects.iter().cloned());
        all
    }
}

/// Plan the routes for `hostname`. Pure: validates `config`, builds objects.
/// With `authorization` (there is a protected route), the root's virtual host
/// asks the auth server about every request, and each `auth = "none"` route
/// turns that off for itself.
pub fn plan(
    hostname: &Hostname,
    config: &RoutesConfig,
    authorization: Option<&Authorization>,
) -> Result<RoutesPlan, RoutesError> {
    config.validate()?;
    let routes = config.effective_routes();
    let root_ns = config
        .root_proxy
        .namespace
        .clone()
        .unwrap_or_else(|| routes[0].namespace.clone());
    let secret = SecretRef {
        namespace: config
            .tls_secret
            .namespace
            .clone()
            .unwrap_or_else(|| root_ns.clone()),
        name: config.tls_secret.name.clone(),
    };
    let child_name = format!("{}-routes", config.root_proxy.name);

    let child_namespaces = child_namespaces(&routes, &root_ns);
    let namespaces = namespaces(&root_ns, &secret, &child_namespaces);

    let mut objects = Vec::new();
    let mut proxies = Vec::new();

    // The root proxy is the only object that names the Secret: a Secret in
    // another namespace needs that namespace to delegate it to the root's.
    let secret_name_in_root = if secret.namespace == root_ns {
        secret.name.clone()
    } else {
        objects.push(delegation(&secret, &root_ns));
        format!("{}/{}", secret.namespace, secret.name)
    };

    for ns in &child_namespaces {
        objects.push(json!({
            "apiVersion": API_VERSION,
            "kind": "HTTPProxy",
            "metadata": metadata(&child_name, Some(ns)),
            "spec": {"routes": routes_in(&routes, ns, authorization.is_some())},
        }));
        proxies.push(ProxyRef {
            namespace: (*ns).to_owned(),
            name: child_name.clone(),
        });
    }

    let includes: Vec<Value> = child_namespaces
        .iter()
        .map(|ns| json!({"name": child_name, "namespace": ns}))
        .collect();
    objects.push(json!({
        "apiVersion": API_VERSION,
        "kind": "HTTPProxy",
        "metadata": metadata(&config.root_proxy.name, Some(&root_ns)),
        "spec": root_spec(
            hostname,
            &secret_name_in_root,
            authorization,
            includes,
            routes_in(&routes, &root_ns, authorization.is_some()),
        ),
    }));
    proxies.push(ProxyRef {
        namespace: root_ns.clone(),
        name: config.root_proxy.name.clone(),
    });

    tracing::debug!(
        fqdn = hostname.fqdn(),
        root_namespace = %root_ns,
        routes = routes.len(),
        children = child_namespaces.len(),
        "planned the HTTPProxy routes"
    );
    Ok(RoutesPlan {
        namespaces,
        secret,
        objects,
        proxies,
        routes,
    })
}

/// Route namespaces other than the root's, in order of first appearance.
fn child_namespaces<'a>(routes: &'a [RouteConfig], root_ns: &str) -> Vec<&'a str> {
    let mut children: Vec<&str> = Vec::new();
    for route in routes {
        if route.namespace != root_ns && !children.contains(&route.namespace.as_str()) {
            children.push(&route.namespace);
        }
    }
    children
}

/// The Namespace objects to apply: the root's, the Secret's and the
/// children's, once each, in that order, but those every cluster has.
fn namespaces(root_ns: &str, secret: &SecretRef, children: &[&str]) -> Vec<Object> {
    let mut names: Vec<&str> = vec![root_ns];
    for ns in std::iter::once(secret.namespace.as_str()).chain(children.iter().copied()) {
        if !names.contains(&ns) {
            names.push(ns);
        }
    }
    names
        .iter()
        .filter(|ns| !BUILT_IN_NAMESPACES.contains(ns))
        .map(|ns| namespace_object(ns))
        .collect()
}

/// The HTTPProxy routes of the routes in `namespace`.
fn routes_in(routes: &[RouteConfig], namespace: &str, authorized: bool) -> Vec<Value> {
    routes
        .iter()
        .filter(|r| r.namespace == namespace)
        .map(|r| route(r, authorized))
        .collect()
}

/// The root HTTPProxy's spec: the virtual host with its TLS Secret, the
/// children it includes and its own routes (each part only when there is one).
fn root_spec(
    hostname: &Hostname,
    secret_name: &str,
    authorization: Option<&Authorization>,
    includes: Vec<Value>,
    routes: Vec<Value>,
) -> Value {
    let mut spec = json!({
        "virtualhost": {
            "fqdn": hostname.fqdn(),
            "tls": {"secretName": secret_name},
        },
    });
    if let Some(auth) = authorization {
        // Contour allows authorization on a TLS virtual host only (it has
        // one); failOpen false: no answer from the auth server, no access.
        spec["virtualhost"]["authorization"] = json!({
            "extensionRef": {"name": auth.name, "namespace": auth.namespace},
            "failOpen": false,
            "responseTimeout": auth.response_timeout,
        });
    }
    if !includes.is_empty() {
        // No conditions: each child's routes carry their full prefixes.
        spec["includes"] = Value::Array(includes);
    }
    if !routes.is_empty() {
        spec["routes"] = Value::Array(routes);
    }
    spec
}

fn metadata(name: &str, namespace: Option<&str>) -> Value {
    let mut metadata = json!({"name": name, "labels": {MANAGED_BY: "ovaboot"}});
    if let Some(ns) = namespace {
        metadata["namespace"] = json!(ns);
    }
    metadata
}

fn namespace_object(name: &str) -> Object {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(name, None)})
}

fn delegation(secret: &SecretRef, root_ns: &str) -> Object {
    json!({
        "apiVersion": API_VERSION,
        "kind": "TLSCertificateDelegation",
        "metadata": metadata(&secret.name, Some(&secret.namespace)),
        "spec": {"delegations": [{
            "secretName": secret.name,
            "targetNamespaces": [root_ns],
        }]},
    })
}

/// One HTTPProxy route; optional fields only when set, so the object stays minimal.
fn route(route: &RouteConfig, authorized: bool) -> Value {
    let mut out = json!({
        "conditions": [{"prefix": route.prefix}],
        "services": [{"name": route.service, "port": route.port}],
    });
    if let Some(replacement) = &route.rewrite {
        out["pathRewritePolicy"] =
            json!({"replacePrefix": [{"prefix": route.prefix, "replacement": replacement}]});
    }
    if route.websocket {
        out["enableWebsockets"] = json!(true);
    }
    if route.permit_insecure {
        out["permitInsecure"] = json!(true);
    }
    if authorized && route.auth == RouteAuth::None {
        out["authPolicy"] = json!({"disabled": true});
    }
    out
}

#[cfg(test)]
mod tests;
