//! The Kubernetes executor: make a cluster match an ordered list of objects.
//!
//! Other modules plan the objects (`serde_json::Value`s in apply order); this module
//! applies them with server-side apply (field manager `ovaboot`, `force=true`) and
//! waits until each one is ready. It knows nothing about OVF or certificates.
//!
//! Stages ([`order`]): Namespaces, then CustomResourceDefinitions, then a wait for each
//! CRD to be `Established`, then discovery of the group-versions the remaining objects
//! use (a CRD's group is 404 in discovery until then), then the rest, the Secrets and
//! the HTTPProxies, then a wait until every object is ready ([`readiness`]), by watch.
//! The objects of one stage are applied concurrently, one request each.
//!
//! Every request has a time limit and is retried while the failure is transient
//! (connection refused, no answer in time, 429, 5xx) with exponential backoff and
//! jitter up to a deadline; a permanent failure (4xx) stops the run with the API
//! server's message and the object named.
//!
//! A re-apply need not send a CRD that provably has not changed since ovaboot's own
//! last apply: [`record`] keeps, in the cluster, what each apply left (UID,
//! resourceVersion, digest of the body, server version) and says why a skip is sound.
//!
//! Dependencies run one way: `types` ← `error` ← `failure` ← `scrub` ← `transport`
//! ← `client`, `discovery`, `wait`, `record` ← `apply`; `object`, `readiness`,
//! `config` and `manifests` are pure.

mod apply;
mod client;
mod config;
mod discovery;
mod error;
mod failure;
mod manifests;
mod object;
pub mod readiness;
mod record;
mod scrub;
mod transport;
mod types;
mod wait;

#[cfg(test)]
mod test_support;

pub use apply::{ApplySummary, FIELD_MANAGER, ObjectOutcome, Outcome, apply_plan};
pub use client::{
    Connection, DEFAULT_KUBECONFIG, connect, load_client, load_client_waiting, wait_for_api_server,
};
pub use config::{ApplyOptions, KubeConfig};
pub use error::ApplyError;
pub use manifests::{ManifestError, load_manifests};
pub use object::{Class, Ordered, order};
pub use readiness::Readiness;
pub use types::{Endpoint, ObjectRef};
