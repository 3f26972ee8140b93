//! Everything that stops an apply. Each message names the object (or the kubeconfig
//! file) and quotes the API server; none carries an object's body, and what the
//! server says about an object is scrubbed of that object's `data` first (see
//! `scrub`), so a Secret's data can never reach a log line through an error.

use std::path::PathBuf;
use std::time::Duration;

use super::ObjectRef;

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

    #[error("no Kubernetes client configuration: {tried}")]
    NoClientConfig { tried: String },

    #[error("the API server did not answer within {}s (kube.api_server_timeout_secs): {last}", waited.as_secs())]
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

    #[error("{what}: still failing after {}s; last error: {last}", waited.as_secs())]
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
}

impl ApplyError {
    /// Whether trying again later cannot help (the plan or the cluster refuses
    /// it), as opposed to a cluster that is not there or not ready yet.
    pub fn is_permanent(&self) -> bool {
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
}
