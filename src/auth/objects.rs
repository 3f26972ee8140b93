//! The auth server's Kubernetes objects, from the plan: its Namespace,
//! ServiceAccount, a Role and RoleBinding reading Secrets in that namespace
//! only, the three Secrets (serving pair, CA, login), the Deployment, the
//! Service and Contour's ExtensionService.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::{
    AuthConfig, AuthPlan, CA_SECRET, LOGIN_SECRET, NAME, PORT, SELECTOR_LABEL, SELECTOR_VALUE,
    TLS_SECRET, subject_name,
};
use crate::secret::Secret;
use crate::tls::ZeroizingJson;
use crate::tls::pki::Pair;

const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
const APP_LABEL: &str = "app.kubernetes.io/name";
/// The pod template's note of the serving certificate: a renewed pair
/// changes it, so the Deployment rolls and the server loads the new pair.
pub const CERT_ANNOTATION: &str = "ovaboot.io/serving-cert-sha256";
/// The UID and GID of distroless `static:nonroot`, the image's `USER`.
const NONROOT: i64 = 65532;

/// The objects, split by how they are carried: those with a key or a hash
/// stay wrapped so they cannot be logged.
pub struct AuthObjects {
    /// Namespace, ServiceAccount, Role, RoleBinding, Deployment, Service,
    /// ExtensionService.
    pub plain: Vec<Value>,
    /// The CA's Secret (no key in it, but rendered 0600 like every Secret).
    pub ca_secret: Secret<ZeroizingJson>,
    /// The serving pair's Secret.
    pub tls_secret: Secret<ZeroizingJson>,
    /// The login Secret (the htpasswd line).
    pub login_secret: Secret<ZeroizingJson>,
}

fn metadata(name: &str, namespace: &str) -> Value {
    json!({
        "name": name,
        "namespace": namespace,
        "labels": {MANAGED_BY: "ovaboot", APP_LABEL: NAME},
    })
}

pub(super) fn objects(plan: &AuthPlan) -> AuthObjects {
    let ns = plan.config.namespace.as_str();
    let plain = vec![
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": {MANAGED_BY: "ovaboot"}},
        }),
        json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": metadata(NAME, ns),
        }),
        // Namespaced, never a ClusterRole: the server lists and watches the
        // Secrets of its own namespace (--watch-namespaces) and nothing else.
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": metadata(NAME, ns),
            "rules": [{
                "apiGroups": [""],
                "resources": ["secrets"],
                "verbs": ["get", "list", "watch"],
            }],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": metadata(NAME, ns),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": ns}],
        }),
        deployment(&plan.config, &plan.serving),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata(NAME, ns),
            "spec": {
                "type": "ClusterIP",
                "selector": {APP_LABEL: NAME},
                "ports": [{"name": "auth", "port": PORT, "targetPort": "auth", "protocol": "TCP"}],
            },
        }),
        json!({
            "apiVersion": "projectcontour.io/v1alpha1",
            "kind": "ExtensionService",
            "metadata": metadata(NAME, ns),
            "spec": {
                // h2: gRPC over TLS, checked against our CA and the Service's name.
                "protocol": "h2",
                "services": [{"name": NAME, "port": PORT}],
                "validation": {"caSecret": CA_SECRET, "subjectName": subject_name(ns)},
                "timeoutPolicy": {"response": format!("{}s", plan.config.response_timeout_secs)},
            },
        }),
    ];
    AuthObjects {
        plain,
        ca_secret: Secret::new(ZeroizingJson::new(ca_secret(&plan.config, &plan.ca))),
        tls_secret: tls_secret(&plan.config, &plan.ca, &plan.serving),
        login_secret: login_secret(plan),
    }
}

/// The CA alone: Contour reads `ca.crt` of the Secret `validation.caSecret`
/// names, in the ExtensionService's namespace. It holds no key.
pub fn ca_secret(config: &AuthConfig, ca: &Pair) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": metadata(CA_SECRET, &config.namespace),
        "data": {"ca.crt": STANDARD.encode(ca.cert_pem.as_bytes())},
    })
}

pub fn deployment(config: &AuthConfig, serving: &Pair) -> Value {
    let ns = config.namespace.as_str();
    let selector = format!("{SELECTOR_LABEL}={SELECTOR_VALUE}");
    let probe = json!({"tcpSocket": {"port": "auth"}, "periodSeconds": 10, "timeoutSeconds": 2});
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(NAME, ns),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {APP_LABEL: NAME}},
            "template": {
                "metadata": {
                    "labels": {APP_LABEL: NAME},
                    "annotations": {CERT_ANNOTATION: serving.sha256.replace(':', "").to_ascii_lowercase()},
                },
                "spec": {
                    "serviceAccountName": NAME,
                    "securityContext": {
                        "runAsNonRoot": true,
                        "runAsUser": NONROOT,
                        "runAsGroup": NONROOT,
                        // The Secret volume's files are group-readable by it.
                        "fsGroup": NONROOT,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [{
                        "name": NAME,
                        "image": config.image_reference(),
                        "imagePullPolicy": "IfNotPresent",
                        "args": [
                            "htpasswd",
                            format!("--address=:{PORT}"),
                            "--metrics-address=0",
                            format!("--watch-namespaces={ns}"),
                            format!("--selector={selector}"),
                            format!("--auth-realm={}", config.realm),
                            "--tls-ca-path=/tls/ca.crt",
                            "--tls-cert-path=/tls/tls.crt",
                            "--tls-key-path=/tls/tls.key",
                        ],
                        "ports": [{"name": "auth", "containerPort": PORT, "protocol": "TCP"}],
                        "readinessProbe": probe,
                        "livenessProbe": probe,
                        "resources": {
                            "requests": {"cpu": "10m", "memory": "32Mi"},
                            "limits": {"cpu": "500m", "memory": "90Mi"},
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "readOnlyRootFilesystem": true,
                            "runAsNonRoot": true,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "volumeMounts": [{"name": "tls", "mountPath": "/tls", "readOnly": true}],
                    }],
                    "volumes": [{
                        "name": "tls",
                        "secret": {"secretName": TLS_SECRET, "defaultMode": 0o440},
                    }],
                },
            },
        },
    })
}

pub fn tls_secret(config: &AuthConfig, ca: &Pair, serving: &Pair) -> Secret<ZeroizingJson> {
    let key = Zeroizing::new(STANDARD.encode(serving.key_pem.expose().as_bytes()));
    Secret::new(ZeroizingJson::new(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": metadata(TLS_SECRET, &config.namespace),
        "data": {
            "ca.crt": STANDARD.encode(ca.cert_pem.as_bytes()),
            "tls.crt": STANDARD.encode(serving.cert_pem.as_bytes()),
            "tls.key": key.as_str(),
        },
    })))
}

/// The Secret the auth server selects: its label, `auth-type: basic`, our
/// realm, and the line under `auth` (as ingress-nginx's auth-file Secrets).
fn login_secret(plan: &AuthPlan) -> Secret<ZeroizingJson> {
    let mut meta = metadata(LOGIN_SECRET, &plan.config.namespace);
    meta["labels"][SELECTOR_LABEL] = json!(SELECTOR_VALUE);
    meta["annotations"] = json!({
        "projectcontour.io/auth-type": "basic",
        "projectcontour.io/auth-realm": plan.config.realm,
    });
    let line = Zeroizing::new(format!("{}\n", plan.line.expose()));
    let encoded = Zeroizing::new(STANDARD.encode(line.as_bytes()));
    Secret::new(ZeroizingJson::new(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": meta,
        "data": {"auth": encoded.as_str()},
    })))
}
