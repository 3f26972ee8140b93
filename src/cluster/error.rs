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

    /// k3s's own kubeconfig still empty or not loading at the deadline:
    /// k3s may be mid-write, or a power cut left it so (k3s writes it anew
    /// when it starts), so a later try can succeed.
    #[error("kubeconfig {}: {message}", path.display())]
    KubeconfigUnfinished { path: PathBuf, message: String },

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

impl crate::failure::Transience for ApplyError {
    /// A cluster that is not there or not ready yet, as opposed to one that
    /// refuses the plan (trying again later cannot help with that).
    fn is_transient(&self) -> bool {
        if let ApplyError::At { error, .. } = self {
            return error.is_transient();
        }
        matches!(
            self,
            ApplyError::NoClientConfig { .. }
                | ApplyError::KubeconfigUnfinished { .. }
                | ApplyError::ApiServerUnreachable { .. }
                | ApplyError::GaveUp { .. }
                | ApplyError::NotReady { .. }
        )
    }
}

#[cfg(test)]
mod tests;
