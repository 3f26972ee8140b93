//! `apply_plan`: server-side apply of an ordered plan, phase by phase.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use kube::Client;
use kube::api::{GetParams, Patch, PatchParams};
use serde_json::Value;
use tokio::time::Instant;

use super::config::ApplyOptions;
use super::discovery::{Discovery, Resource};
use super::error::ApplyError;
use super::object::order;
use super::readiness;
use super::scrub::Scrub;
use super::transport::{self, Limits};
use super::types::ObjectRef;
use super::wait::{self, Waiting};

/// The field manager ovaboot applies as.
pub const FIELD_MANAGER: &str = "ovaboot";

/// What applying one object did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The API server answered 201: the object did not exist.
    Created,
    /// It existed and was written: its generation or resourceVersion moved.
    Changed,
    /// It existed and nothing was written.
    Unchanged,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Created => "created",
            Outcome::Changed => "changed",
            Outcome::Unchanged => "unchanged",
        })
    }
}

/// One object's result, with its metadata as the API server returned it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ObjectOutcome {
    pub object: ObjectRef,
    pub outcome: Outcome,
    pub generation: Option<i64>,
    pub resource_version: Option<String>,
}

/// The result of a run: each object in apply order, counts, and time taken.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ApplySummary {
    pub objects: Vec<ObjectOutcome>,
    pub created: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub elapsed: Duration,
}

impl ApplySummary {
    /// The outcome for `kind`/`name`, if it was in the plan.
    pub fn get(&self, kind: &str, name: &str) -> Option<&ObjectOutcome> {
        self.objects
            .iter()
            .find(|o| o.object.kind == kind && o.object.name == name)
    }
}

impl fmt::Display for ApplySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} objects applied: {} created, {} changed, {} unchanged, in {:.1}s",
            self.objects.len(),
            self.created,
            self.changed,
            self.unchanged,
            self.elapsed.as_secs_f64()
        )
    }
}

/// generation and resourceVersion: what "changed" is judged by.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Meta {
    generation: Option<i64>,
    resource_version: Option<String>,
}

#[derive(serde::Deserialize)]
struct MetaOnly {
    #[serde(default)]
    metadata: Meta,
}

/// Applies `objects` with server-side apply and waits until they are ready.
///
/// Namespaces first, then CRDs (each waited for until `Established`), then discovery
/// of the group-versions the rest use, then the rest in plan order, then (if
/// `options.wait`) a wait until each Job, Deployment, DaemonSet and HTTPProxy is ready.
/// Stops at the first permanent error.
pub async fn apply_plan(
    client: &Client,
    objects: &[Value],
    options: &ApplyOptions,
) -> Result<ApplySummary, ApplyError> {
    let started = Instant::now();
    let plan = order(objects)?;
    let total = objects.len();
    let mut discovery = Discovery::default();
    let mut done = Vec::with_capacity(total);
    let mut step = 0;

    let first: Vec<usize> = plan.namespaces.iter().chain(&plan.crds).copied().collect();
    let batch = Batch {
        client,
        objects,
        refs: &plan.refs,
        options,
        total,
    };
    let crd_waits = batch
        .apply(&first, &discovery, &mut step, &mut done)
        .await?;
    // The CRDs' groups are 404 in discovery until the CRDs are Established.
    wait::wait_ready(client, crd_waits, options).await?;

    let crd_groups: BTreeSet<String> = plan
        .crds
        .iter()
        .filter_map(|&i| {
            objects[i]
                .pointer("/spec/group")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    let rest: Vec<&ObjectRef> = plan.rest.iter().map(|&i| &plan.refs[i]).collect();
    discovery
        .load(
            client,
            &rest,
            &crd_groups,
            Limits {
                attempt: options.request_timeout,
                total: options.request_retry,
            },
        )
        .await?;

    let waits = batch
        .apply(&plan.rest, &discovery, &mut step, &mut done)
        .await?;
    if options.wait {
        wait::wait_ready(client, waits, options).await?;
    }

    let count = |o: Outcome| done.iter().filter(|d| d.outcome == o).count();
    let summary = ApplySummary {
        created: count(Outcome::Created),
        changed: count(Outcome::Changed),
        unchanged: count(Outcome::Unchanged),
        objects: done,
        elapsed: started.elapsed(),
    };
    tracing::info!("{summary}");
    Ok(summary)
}

/// What every object of one apply run shares.
struct Batch<'a> {
    client: &'a Client,
    objects: &'a [Value],
    refs: &'a [ObjectRef],
    options: &'a ApplyOptions,
    total: usize,
}

impl Batch<'_> {
    /// Applies `indices` in order, appending outcomes to `done`; returns what
    /// to wait for.
    async fn apply(
        &self,
        indices: &[usize],
        discovery: &Discovery,
        step: &mut usize,
        done: &mut Vec<ObjectOutcome>,
    ) -> Result<Vec<Waiting>, ApplyError> {
        let mut waits = Vec::new();
        for &i in indices {
            *step += 1;
            let (outcome, waiting) = apply_one(
                self.client,
                discovery,
                &self.refs[i],
                &self.objects[i],
                self.options,
                (*step, self.total),
            )
            .await?;
            done.push(outcome);
            waits.extend(waiting);
        }
        Ok(waits)
    }
}

/// Reads the object's metadata (to tell changed from unchanged), applies it, and
/// says whether and how long to wait for it. The read asks for metadata only, so a
/// Secret's data is not sent back.
async fn apply_one(
    client: &Client,
    discovery: &Discovery,
    r: &ObjectRef,
    obj: &Value,
    options: &ApplyOptions,
    (step, total): (usize, usize),
) -> Result<(ObjectOutcome, Option<Waiting>), ApplyError> {
    let resource: Resource = discovery.resolve(r)?;
    let namespace = r.namespace.as_deref().unwrap_or(client.default_namespace());
    let request = kube::core::Request::new(resource.collection_path(&r.api_version, namespace));
    let build = |what: &str, e: kube::core::request::Error| ApplyError::BadResponse {
        what: format!("{what} {r}"),
        message: e.to_string(),
    };

    let what = format!("read {r}");
    let make = || {
        request
            .get_metadata(&r.name, &GetParams::default())
            .map_err(|e| build("read", e))
    };
    // Anything the server says about this object may quote its data.
    let scrub = Scrub::of(obj);
    let retry = Limits {
        attempt: options.request_timeout,
        total: options.request_retry,
    };
    let before = transport::request(client, make, &what, retry, &[404], &scrub).await?;
    let before = match before.code {
        404 => None,
        _ => Some(
            scrub
                .parsed(parse::<MetaOnly>(&what, &before.body))?
                .metadata,
        ),
    };

    let what = format!("apply {r}");
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let make = || {
        request
            .patch(&r.name, &params, &Patch::Apply(obj))
            .map_err(|e| build("apply", e))
    };
    let reply = transport::request(client, make, &what, retry, &[], &scrub).await?;
    let after = scrub
        .parsed(parse::<MetaOnly>(&what, &reply.body))?
        .metadata;

    let outcome = match &before {
        _ if reply.code == 201 => Outcome::Created,
        None => Outcome::Created,
        Some(b) if *b != after => Outcome::Changed,
        Some(_) => Outcome::Unchanged,
    };
    let generation = after
        .generation
        .map(|g| format!(", generation {g}"))
        .unwrap_or_default();
    tracing::info!("[{step}/{total}] {r}: {outcome}{generation}");

    let waiting = match readiness::waits_for(r)
        .then(|| deadline(r, options))
        .flatten()
    {
        Some(timeout) => {
            // Readiness is judged on the applied object first: a re-run needs no extra read.
            let applied: Value = scrub.parsed(parse(&what, &reply.body))?;
            Some(Waiting::new(
                r.clone(),
                format!("{}/{}", request.url_path, r.name),
                timeout,
                readiness::readiness(r, &applied),
            ))
        }
        None => None,
    };
    let outcome = ObjectOutcome {
        object: r.clone(),
        outcome,
        generation: after.generation,
        resource_version: after.resource_version,
    };
    Ok((outcome, waiting))
}

/// How long `r` may take to become ready.
fn deadline(r: &ObjectRef, o: &ApplyOptions) -> Option<Duration> {
    Some(match r.kind.as_str() {
        "CustomResourceDefinition" => o.crd_established_timeout,
        "HTTPProxy" => o.httpproxy_valid_timeout,
        "Job" | "Deployment" | "DaemonSet" => o.workload_ready_timeout,
        _ => return None,
    })
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, ApplyError> {
    serde_json::from_slice(body).map_err(|e| ApplyError::BadResponse {
        what: what.to_owned(),
        message: e.to_string(),
    })
}

// Used by the wait loop for its reads.
pub(crate) fn parse_object(what: &str, body: &[u8]) -> Result<Value, ApplyError> {
    parse(what, body)
}
