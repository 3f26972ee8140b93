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
//! **Why the waits are not kube-runtime's** (`watcher`, `wait::await_condition`,
//! `wait::conditions`, as kube-runtime's source has them), point by point:
//! - *Three answers, not two.* A kube-runtime `Condition` is `Option<&K> -> bool`.
//!   A wait here must tell ready from not yet (saying what is missing: logged every
//!   `progress_interval`, quoted at the deadline) from failed for good (a Job's
//!   `Failed`, an `invalid` HTTPProxy, a CRD's `NamesAccepted=False`), which stops at
//!   once rather than waiting out the deadline. [`readiness`] keeps kube-runtime's
//!   shape (pure functions on the typed objects) but answers [`Readiness`]; its own
//!   conditions are narrower too (`is_deployment_completed` reads the `Progressing`
//!   reason alone, without `observedGeneration`; none for DaemonSets or HTTPProxies).
//! - *Deadlines.* `await_condition` has none (the caller wraps it in a timeout), and a
//!   timeout drops the last state: the error could not say what is still missing.
//! - *The first read.* `watch_object` LISTs (a fieldSelector on the name) before it
//!   WATCHes; here the apply's answer is the first read and the watch starts at its
//!   resourceVersion: one request fewer per object, and a re-run whose objects are
//!   ready sends no wait request at all. The replayed tests pin those exact requests.
//! - *A watch that fails.* `await_condition` ends at the watcher's first error; the
//!   watcher retries only with a backoff the caller adds, with no time limit of its
//!   own. Here a failing watch (a server or proxy without watch, a stale watch cache
//!   on etcd 3.4, a dropped connection) falls back to reading the object every
//!   `poll_interval` until a watch holds, within the object's deadline, each request
//!   bounded by `request_timeout`.
//! - *Secrets.* Every answer and error text passes through `scrub` (the API server
//!   may quote a Secret's data); the watcher's errors would carry kube-client's texts
//!   past it.
//! - *Where it would fit:* a long-running controller (reflectors, a store, requeues).
//!   ovaboot applies once and exits, so kube's `runtime` feature stays off.
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
