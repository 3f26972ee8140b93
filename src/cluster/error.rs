//! Everything that stops an apply. Each message names the object (or the kubeconfig
//! file) and quotes the API server; none carries an object's body, and what the
//! server says about an object is scrubbed of that object's `data` first (see
//! `scrub`), so a Secret's data can never reach a log line through an error.

use std::path::PathBuf;
use std::time::Duration;

use super::types::{Endpoint, ObjectRef};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("plan object #{index} has no {what}")]
    InvalidObject { index: usize, what: &'static str },

    #[error("{object} is planned twice (objects #{first} and #{second})")]
    Duplicate {
        object: Box<ObjectRef>,
        first: usize,
        second: usize,
    },

    #[error("kubeconfig {}: {message}", path.display())]
    Kubeconfig { path: PathBuf, message: String },

    #[error(
        "no Kubernetes client configuration (pass --kubeconfig or set kube.kubeconfig): {tried}"
    )]
    NoClientConfig { tried: String },

    #[error("the API server did not answer within {:.0}s (kube.api_server_timeout_secs): {last}", waited.as_secs_f64())]
    ApiServerUnreachable { waited: Duration, last: String },

    #[error("{what}: the API server refused it ({code} {reason}): {message}")]
    Rejected {
        what: String,
        code: u16,
        reason: String,
        message: String,
    },

    #[error("{object}: the API server does not serve kind {} in {} ({detail})", object.kind, object.api_version)]
    UnknownKind {
        object: Box<ObjectRef>,
        detail: String,
    },

    #[error("{what}: still failing after {:.0}s (kube.request_retry_secs); last error: {last}", waited.as_secs_f64())]
    GaveUp {
        what: String,
        waited: Duration,
        last: String,
    },

    #[error("{object}: not ready after {}s: {reason}", waited.as_secs())]
    NotReady {
        object: Box<ObjectRef>,
        waited: Duration,
        reason: String,
    },

    #[error("{object} failed: {reason}")]
    Failed {
        object: Box<ObjectRef>,
        reason: String,
    },

    #[error("{what}: unexpected answer from the API server: {message}")]
    BadResponse { what: String, message: String },

    /// Any of the above, with the API server and kubeconfig it happened with.
    #[error("{error} ({endpoint})")]
    At {
        endpoint: Box<Endpoint>,
        #[source]
        error: Box<ApplyError>,
    },
}

impl ApplyError {
    /// Whether trying again later cannot help (the plan or the cluster refuses
    /// it), as opposed to a cluster that is not there or not ready yet.
    pub fn is_permanent(&self) -> bool {
        if let ApplyError::At { error, .. } = self {
            return error.is_permanent();
        }
        !matches!(
            self,
            ApplyError::NoClientConfig { .. }
                | ApplyError::ApiServerUnreachable { .. }
                | ApplyError::GaveUp { .. }
                | ApplyError::NotReady { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_absent_or_unready_cluster_is_worth_retrying() {
        let object = ObjectRef {
            api_version: "v1".into(),
            kind: "Secret".into(),
            namespace: Some("ovaboot".into()),
            name: "ovaboot-tls".into(),
        };
        let transient = [
            ApplyError::NoClientConfig {
                tried: String::new(),
            },
            ApplyError::ApiServerUnreachable {
                waited: Duration::ZERO,
                last: String::new(),
            },
            ApplyError::GaveUp {
                what: String::new(),
                waited: Duration::ZERO,
                last: String::new(),
            },
            ApplyError::NotReady {
                object: Box::new(object.clone()),
                waited: Duration::ZERO,
                reason: String::new(),
            },
        ];
        for e in &transient {
            assert!(!e.is_permanent(), "{e}");
        }
        let permanent = [
            ApplyError::Rejected {
                what: String::new(),
                code: 422,
                reason: "Invalid".into(),
                message: String::new(),
            },
            ApplyError::Failed {
                object: Box::new(object.clone()),
                reason: String::new(),
            },
            ApplyError::Kubeconfig {
                path: "/etc/rancher/k3s/k3s.yaml".into(),
                message: String::new(),
            },
        ];
        for e in &permanent {
            assert!(e.is_permanent(), "{e}");
        }
    }

    #[test]
    fn no_client_configuration_says_how_to_name_one() {
        let e = ApplyError::NoClientConfig {
            tried: "/etc/rancher/k3s/k3s.yaml did not appear in time".into(),
        };
        let text = e.to_string();
        assert!(
            text.contains("--kubeconfig") && text.contains("kube.kubeconfig"),
            "{text}"
        );
    }

    #[test]
    fn an_error_at_an_endpoint_names_it_and_keeps_its_kind() {
        let e = ApplyError::At {
            endpoint: Box::new(Endpoint {
                server: "https://127.0.0.1:6443/".into(),
                origin: "kubeconfig /etc/rancher/k3s/k3s.yaml".into(),
            }),
            error: Box::new(ApplyError::ApiServerUnreachable {
                waited: Duration::from_millis(2999),
                last: "503 ServiceUnavailable: not now".into(),
            }),
        };
        assert_eq!(
            e.to_string(),
            "the API server did not answer within 3s (kube.api_server_timeout_secs): \
             503 ServiceUnavailable: not now \
             (API server https://127.0.0.1:6443/, kubeconfig /etc/rancher/k3s/k3s.yaml)"
        );
        assert!(!e.is_permanent());
    }
}
