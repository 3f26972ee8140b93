//! Which URL serves a kind: one GET of `/api/v1` or `/apis/<group>/<version>` per
//! group-version the plan uses (the same lists `kubectl` reads), cached for the run.

use std::collections::{BTreeSet, HashMap};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResourceList;
use kube::Client;
use tokio::time::Instant;

use super::config::CONCURRENCY;
use super::error::ApplyError;
use super::failure::{self, Failure};
use super::scrub::Scrub;
use super::transport::{self, Limits};
use super::types::ObjectRef;

/// Where one kind lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resource {
    pub plural: String,
    pub namespaced: bool,
}

impl Resource {
    /// The collection URL path of `api_version`/`plural` in `namespace` (if namespaced).
    pub fn collection_path(&self, api_version: &str, namespace: &str) -> String {
        let base = if api_version.contains('/') {
            format!("/apis/{api_version}")
        } else {
            format!("/api/{api_version}")
        };
        if self.namespaced {
            format!("{base}/namespaces/{namespace}/{}", self.plural)
        } else {
            format!("{base}/{}", self.plural)
        }
    }
}

/// The discovery path of a group-version.
pub(crate) fn group_version_path(api_version: &str) -> String {
    if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    }
}

/// Kinds the executor applies before discovery runs: built in to every API server.
pub(crate) fn builtin(r: &ObjectRef) -> Option<Resource> {
    match (r.api_version.as_str(), r.kind.as_str()) {
        ("v1", "Namespace") => Some(Resource {
            plural: "namespaces".into(),
            namespaced: false,
        }),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => Some(Resource {
            plural: "customresourcedefinitions".into(),
            namespaced: false,
        }),
        _ => None,
    }
}

#[derive(Default)]
pub(crate) struct Discovery {
    lists: HashMap<String, APIResourceList>,
}

impl Discovery {
    /// Reads the resource list of each group-version of `objects` not read yet,
    /// concurrently. A group that one of this plan's CRDs defines may lag its
    /// `Established` condition by a moment: the group can answer 404, or be served
    /// already with a list that lacks a kind its other CRD defines. Both are retried
    /// up to the deadline; elsewhere either means the server does not have the kind
    /// and names the first object that needs it.
    pub async fn load(
        &mut self,
        client: &Client,
        objects: &[&ObjectRef],
        crd_groups: &BTreeSet<String>,
        limits: Limits,
    ) -> Result<(), ApplyError> {
        // Per group-version not known yet: the first object that needs it, and
        // every kind the plan needs from it.
        let mut wanted: Vec<(&ObjectRef, BTreeSet<&str>)> = Vec::new();
        for r in objects {
            if self.lists.contains_key(&r.api_version) || builtin(r).is_some() {
                continue;
            }
            match wanted
                .iter_mut()
                .find(|(w, _)| w.api_version == r.api_version)
            {
                Some((_, kinds)) => {
                    kinds.insert(&r.kind);
                }
                None => wanted.push((r, BTreeSet::from([r.kind.as_str()]))),
            }
        }
        let this = &*self;
        let lists: Vec<APIResourceList> = futures::stream::iter(&wanted)
            .map(|(r, kinds)| this.fetch(client, r, kinds, crd_groups.contains(r.group()), limits))
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        for ((r, _), list) in wanted.iter().zip(lists) {
            self.lists.insert(r.api_version.clone(), list);
        }
        Ok(())
    }

    async fn fetch(
        &self,
        client: &Client,
        r: &ObjectRef,
        kinds: &BTreeSet<&str>,
        from_plan_crd: bool,
        limits: Limits,
    ) -> Result<APIResourceList, ApplyError> {
        let path = group_version_path(&r.api_version);
        let what = format!("discovery of {} (for {r})", r.api_version);
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let make = || {
                http::Request::get(&path)
                    .body(Vec::new())
                    .map_err(|e| bad(&what, e))
            };
            // One deadline for the retries here and the transient ones inside.
            let left = Limits {
                total: limits.total.saturating_sub(started.elapsed()),
                ..limits
            };
            let reply =
                transport::request(client, make, &what, left, &[404], &Scrub::default()).await?;
            let detail = if reply.code == 404 {
                match failure::classify(404, None, &reply.body) {
                    Failure::Permanent { message, .. } | Failure::Transient { message, .. } => {
                        format!("GET {path}: {message}")
                    }
                }
            } else {
                let list: APIResourceList =
                    serde_json::from_slice(&reply.body).map_err(|e| bad(&what, e))?;
                let missing: Vec<&str> = kinds
                    .iter()
                    .copied()
                    .filter(|kind| !list.resources.iter().any(|res| res.kind == *kind))
                    .collect();
                if missing.is_empty() {
                    return Ok(list);
                }
                format!("{path} lists no {}", missing.join(", "))
            };
            let delay = transport::backoff(attempt);
            if !from_plan_crd || started.elapsed() + delay > limits.total {
                return Err(ApplyError::UnknownKind {
                    object: Box::new((*r).clone()),
                    detail,
                });
            }
            tracing::info!("{what}: not served yet ({detail}); retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// The resource for `r`: built in, or from a list loaded by [`Discovery::load`].
    pub fn resolve(&self, r: &ObjectRef) -> Result<Resource, ApplyError> {
        if let Some(b) = builtin(r) {
            return Ok(b);
        }
        let list = self
            .lists
            .get(&r.api_version)
            .ok_or_else(|| ApplyError::UnknownKind {
                object: Box::new(r.clone()),
                detail: "group-version not discovered".into(),
            })?;
        list.resources
            .iter()
            .find(|res| res.kind == r.kind && !res.name.contains('/'))
            .map(|res| Resource {
                plural: res.name.clone(),
                namespaced: res.namespaced,
            })
            .ok_or_else(|| ApplyError::UnknownKind {
                object: Box::new(r.clone()),
                detail: format!("{} has no such kind", group_version_path(&r.api_version)),
            })
    }
}

fn bad(what: &str, e: impl std::fmt::Display) -> ApplyError {
    ApplyError::BadResponse {
        what: what.to_owned(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests;
