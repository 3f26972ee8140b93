//! `apply_plan`: server-side apply of an ordered plan, stage by stage, the objects
//! of one stage concurrently, one request per object.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Patch, PatchParams};
use serde_json::Value;
use tokio::time::Instant;

use super::config::{ApplyOptions, CONCURRENCY};
use super::discovery::{Discovery, Resource};
use super::error::ApplyError;
use super::failure::{Reply, TYPED_PATCH, parse};
use super::object::{Ordered, order};
use super::readiness::{self, Readiness};
use super::record::{self, Entry, Known};
use super::scrub::Scrub;
use super::transport::{self, Limits, backoff};
use super::types::ObjectRef;
use super::wait::{self, Waiting};

/// The field manager ovaboot applies as.
pub const FIELD_MANAGER: &str = "ovaboot";

/// How long an apply refused with "failed to create typed patch object" is
/// retried when a CRD changed in this run. The API server validates an apply
/// against the schema it has cached for the kind; right after a CRD gained a
/// field, that cache may still be the old one for a moment (argo-cd#25064),
/// and the 500 names the new field as "not declared in schema". The cache
/// follows the CRD within a second or so; 15 s is ample, and short enough
/// that a body that really does not fit the schema still fails fast.
pub const SCHEMA_SETTLE: Duration = Duration::from_secs(15);

/// What applying one object did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The API server answered 201: the object did not exist.
    Created,
    /// It existed, and the apply changed a field ovaboot manages (see [`outcome`]).
    Changed,
    /// It existed and the apply changed none of ovaboot's fields.
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
    /// Not sent: the apply record proved it unchanged since ovaboot's last apply
    /// (see `record`); its outcome is then `unchanged`.
    pub skipped: bool,
}

/// The result of a run: each object in apply order, counts, and time taken.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ApplySummary {
    pub objects: Vec<ObjectOutcome>,
    pub created: usize,
    pub changed: usize,
    pub unchanged: usize,
    /// How many of the unchanged ones were not sent (see [`ObjectOutcome::skipped`]).
    pub skipped: usize,
    pub elapsed: Duration,
}

impl ApplySummary {
    /// The counts of `objects`' outcomes, in `elapsed`.
    fn of(objects: Vec<ObjectOutcome>, elapsed: Duration) -> ApplySummary {
        let count = |o: Outcome| objects.iter().filter(|d| d.outcome == o).count();
        ApplySummary {
            created: count(Outcome::Created),
            changed: count(Outcome::Changed),
            unchanged: count(Outcome::Unchanged),
            skipped: objects.iter().filter(|d| d.skipped).count(),
            objects,
            elapsed,
        }
    }

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
            "{} objects applied: {} created, {} changed, {} unchanged",
            self.objects.len(),
            self.created,
            self.changed,
            self.unchanged,
        )?;
        if self.skipped > 0 {
            write!(
                f,
                " ({} of them not sent: unchanged since ovaboot applied them, as recorded)",
                self.skipped
            )?;
        }
        write!(f, ", in {:.1}s", self.elapsed.as_secs_f64())
    }
}

#[derive(serde::Deserialize)]
struct MetaOnly {
    #[serde(default)]
    metadata: ObjectMeta,
}

/// Applies `objects` with server-side apply and waits until they are ready.
///
/// Stages, in order: Namespaces; CRDs, then a wait until each is `Established`;
/// discovery of the group-versions the rest use; Secrets (the pods that mount
/// them find them at once); everything else; ExtensionServices, then a wait
/// until each is valid; HTTPProxies; then (if `options.wait`) a wait until
/// each Job, Deployment, DaemonSet and HTTPProxy is ready. The objects of one
/// stage have no order between them and are sent [`CONCURRENCY`] at a time.
/// Stops at the first permanent error.
///
/// With `options.record`, the apply record (see `record`) is read while the
/// Namespaces are applied; a CRD it proves unchanged since ovaboot's last apply is
/// not sent (`unchanged`), and after a successful run the record is updated.
pub async fn apply_plan(
    client: &Client,
    objects: &[Value],
    options: &ApplyOptions,
) -> Result<ApplySummary, ApplyError> {
    let started = Instant::now();
    let plan = order(objects)?;
    let mut discovery = Discovery::default();
    let run = Run {
        client,
        objects,
        refs: &plan.refs,
        options,
        total: objects.len(),
        crds_changed: false,
    };
    let mut done = Done::default();

    // The record is first needed by the CRDs: read while the Namespaces are
    // applied, and only when the plan has objects it can spare (a Secret-only
    // apply, as reconfigure's, has none).
    let collections = recorded_collections(&plan.refs, client.default_namespace());
    let read_record = async {
        if options.record && !collections.is_empty() {
            record::read(client, &collections, run.limits()).await
        } else {
            None
        }
    };
    let (namespaces, known) = futures::future::join(
        run.stage(&plan.namespaces, &discovery, None, &mut done),
        read_record,
    )
    .await;
    namespaces?;
    let crd_waits = run
        .stage(&plan.crds, &discovery, known.as_ref(), &mut done)
        .await?;
    // The CRDs' groups are 404 in discovery until the CRDs are Established.
    wait::wait_ready(client, crd_waits, options).await?;
    // A CRD this run created or changed: the server's schema for its kind
    // may lag for a moment (see SCHEMA_SETTLE).
    let run = Run {
        crds_changed: done.outcomes.iter().any(|o| {
            o.object.kind == "CustomResourceDefinition" && o.outcome != Outcome::Unchanged
        }),
        ..run
    };

    discover(&mut discovery, &run, &plan).await?;

    let mut waits = Vec::new();
    for stage in [&plan.secrets, &plan.rest] {
        waits.extend(run.stage(stage, &discovery, None, &mut done).await?);
    }
    // An HTTPProxy naming an ExtensionService Contour has not called valid
    // is invalid as a whole: the ExtensionServices are waited for first,
    // always (even without `options.wait`), so that this never shows.
    let extension_waits = run
        .stage(&plan.extension_services, &discovery, None, &mut done)
        .await?;
    wait::wait_ready(client, extension_waits, options).await?;
    waits.extend(
        run.stage(&plan.httpproxies, &discovery, None, &mut done)
            .await?,
    );
    if options.wait {
        wait::wait_ready(client, waits, options).await?;
    }
    if let Some(text) = known.and_then(|k| k.next(&recorded_refs(&plan.refs), done.entries)) {
        record::write(client, text, run.limits()).await;
    }

    let summary = ApplySummary::of(done.outcomes, started.elapsed());
    tracing::info!("{summary}");
    Ok(summary)
}

/// Discovery of the group-versions the objects after the CRDs use; the CRDs'
/// own groups are known to be served (they are Established).
async fn discover(
    discovery: &mut Discovery,
    run: &Run<'_>,
    plan: &Ordered,
) -> Result<(), ApplyError> {
    let crd_groups: BTreeSet<String> = plan
        .crds
        .iter()
        .filter_map(|&i| {
            run.objects[i]
                .pointer("/spec/group")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    let later: Vec<&ObjectRef> = [
        &plan.secrets,
        &plan.rest,
        &plan.extension_services,
        &plan.httpproxies,
    ]
    .into_iter()
    .flatten()
    .map(|&i| &plan.refs[i])
    .collect();
    discovery
        .load(run.client, &later, &crd_groups, run.limits())
        .await
}

/// The plan's objects the record speaks for.
fn recorded_refs(refs: &[ObjectRef]) -> Vec<&ObjectRef> {
    refs.iter().filter(|r| record::recordable(r)).collect()
}

/// The collections (URL paths) of the plan's recordable objects, listed before any
/// of them is applied. Recordable kinds are built in (see `record::recordable`).
/// Paths as `apply_one` makes them, so that its look-up finds what was listed.
fn recorded_collections(refs: &[ObjectRef], default_namespace: &str) -> BTreeSet<String> {
    refs.iter()
        .filter(|r| record::recordable(r))
        .filter_map(|r| {
            let resource = super::discovery::builtin(r)?;
            let namespace = r.namespace.as_deref().unwrap_or(default_namespace);
            Some(resource.collection_path(&r.api_version, namespace))
        })
        .collect()
}

/// What a run has done so far: outcomes in plan order, and the record's new entries.
#[derive(Default)]
struct Done {
    outcomes: Vec<ObjectOutcome>,
    entries: Vec<Entry>,
}

/// What applying (or skipping) one object gave.
struct One {
    outcome: ObjectOutcome,
    waiting: Option<Waiting>,
    /// Its record entry: applied and ready as answered, or skipped as recorded.
    entry: Option<Entry>,
}

/// What every object of one apply run shares.
struct Run<'a> {
    client: &'a Client,
    objects: &'a [Value],
    refs: &'a [ObjectRef],
    options: &'a ApplyOptions,
    total: usize,
    /// A CRD was created or changed earlier in this run.
    crds_changed: bool,
}

impl Run<'_> {
    fn limits(&self) -> Limits {
        Limits {
            attempt: self.options.request_timeout,
            total: self.options.request_retry,
        }
    }

    /// Applies `indices` concurrently (skipping what `known` proves unchanged),
    /// appending their outcomes to `done` in plan order; returns what to wait for.
    async fn stage(
        &self,
        indices: &[usize],
        discovery: &Discovery,
        known: Option<&Known>,
        done: &mut Done,
    ) -> Result<Vec<Waiting>, ApplyError> {
        let first_step = done.outcomes.len() + 1;
        // Unordered: a slow answer does not hold a slot while later ones wait behind it
        // (`buffered` counts finished-but-unyielded answers against the limit).
        let mut applied: Vec<(usize, One)> = futures::stream::iter(indices.iter().enumerate())
            .map(|(n, &i)| async move {
                Ok::<_, ApplyError>((
                    n,
                    self.apply_one(i, discovery, known, first_step + n).await?,
                ))
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        applied.sort_by_key(|(n, _)| *n);
        let mut waits = Vec::new();
        for (_, one) in applied {
            done.outcomes.push(one.outcome);
            done.entries.extend(one.entry);
            waits.extend(one.waiting);
        }
        Ok(waits)
    }

    /// Applies one object (one request) and says whether and how long to wait for
    /// it; or, if `known` proves it unchanged since ovaboot applied it, only says so
    /// (no request: the record and the live metadata were read with the Namespaces).
    async fn apply_one(
        &self,
        i: usize,
        discovery: &Discovery,
        known: Option<&Known>,
        step: usize,
    ) -> Result<One, ApplyError> {
        let (r, obj) = (&self.refs[i], &self.objects[i]);
        let resource: Resource = discovery.resolve(r)?;
        let namespace = r
            .namespace
            .as_deref()
            .unwrap_or(self.client.default_namespace());
        let collection = resource.collection_path(&r.api_version, namespace);
        // The digest of exactly the bytes the apply sends (kube-rs serialises the body the same way).
        let digest = known
            .filter(|_| record::recordable(r))
            .map(|_| record::digest(&serde_json::to_vec(obj).unwrap_or_default()));
        if let (Some(known), Some(digest)) = (known, digest.as_deref()) {
            if let Some(skipped) = self.skip_as_recorded(r, &collection, known, digest, step) {
                return Ok(skipped);
            }
            tracing::debug!("{r}: not proven unchanged since ovaboot's last apply: applying it");
        }
        let what = format!("apply {r}");
        // Anything the server says about this object may quote its data.
        let scrub = Scrub::of(obj);
        let reply = self.send(r, obj, &collection, &what, &scrub).await?;
        let meta = scrub
            .parsed(parse::<MetaOnly>(&what, &reply.body))?
            .metadata;
        let outcome = outcome(reply.code, &meta, reply.date, reply.took);
        let generation = meta
            .generation
            .map(|g| format!(", generation {g}"))
            .unwrap_or_default();
        tracing::info!("[{step}/{}] {r}: {outcome}{generation}", self.total);

        let waiting = match readiness::rule(r) {
            Some(rule) => {
                // The applied object is the wait's first read: a re-run needs no other.
                let applied: Value = scrub.parsed(parse(&what, &reply.body))?;
                Some(Waiting {
                    object: r.clone(),
                    collection,
                    timeout: self.options.deadline(rule.deadline),
                    first: (rule.judge)(&applied),
                    resource_version: meta.resource_version.clone(),
                })
            }
            None => None,
        };
        // Recorded only if ready as answered: a later skip must need no wait.
        let ready = waiting.as_ref().is_none_or(|w| w.first == Readiness::Ready);
        let entry = digest
            .filter(|_| ready)
            .and_then(|digest| Entry::applied(r, digest, &meta));
        Ok(One {
            outcome: ObjectOutcome {
                object: r.clone(),
                outcome,
                generation: meta.generation,
                resource_version: meta.resource_version,
                skipped: false,
            },
            waiting,
            entry,
        })
    }

    /// `r` as recorded, if `known` proves applying `digest` to it would change
    /// nothing (see `record`): not sent, `unchanged`, recorded ready and so not
    /// waited for, and its entry kept.
    fn skip_as_recorded(
        &self,
        r: &ObjectRef,
        collection: &str,
        known: &Known,
        digest: &str,
        step: usize,
    ) -> Option<One> {
        let (entry, meta) = known.unchanged(r, collection, digest)?;
        tracing::info!(
            "[{step}/{}] {r}: unchanged{} (not sent: as ovaboot last applied it)",
            self.total,
            meta.generation
                .map(|g| format!(", generation {g}"))
                .unwrap_or_default()
        );
        Some(One {
            outcome: ObjectOutcome {
                object: r.clone(),
                outcome: Outcome::Unchanged,
                generation: meta.generation,
                resource_version: meta.resource_version.clone(),
                skipped: true,
            },
            waiting: None,
            entry: Some(entry.clone()),
        })
    }

    /// The server-side apply of `obj` into `collection`: one request, retried
    /// while its failure is transient.
    async fn send(
        &self,
        r: &ObjectRef,
        obj: &Value,
        collection: &str,
        what: &str,
        scrub: &Scrub,
    ) -> Result<Reply, ApplyError> {
        let request = kube::core::Request::new(collection);
        // fieldValidation=Ignore: for an apply, the server's strict pass only decodes the
        // body a second time into a map to find duplicate keys (a serialised JSON map has
        // none); unknown fields are refused by the apply itself whatever the directive.
        // That second YAML decode was ~6% of the API server's CPU on the CRDs' applies.
        let params = PatchParams::apply(FIELD_MANAGER)
            .force()
            .validation_ignore();
        let make = || {
            request
                .patch(&r.name, &params, &Patch::Apply(obj))
                .map_err(|e| ApplyError::BadResponse {
                    what: what.to_owned(),
                    message: e.to_string(),
                })
        };
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let result =
                transport::request(self.client, make, &what, self.limits(), &[], scrub).await;
            let delay = backoff(attempt);
            match result {
                Err(err) if schema_may_lag(&err, self.crds_changed, started.elapsed() + delay) => {
                    tracing::warn!(
                        "{err}; a CRD changed in this run and the API server's schema may lag it: retry {} in {:.1}s",
                        attempt + 1,
                        delay.as_secs_f64()
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

/// Whether `err`, an apply's answer, may be the API server's schema lagging a
/// CRD change of this run (`crds_changed`), and so worth another try if it
/// comes `by` this long after the first: a 500 "failed to create typed patch
/// object", within [`SCHEMA_SETTLE`]. Without a CRD change it is the body's
/// fault, and permanent.
pub(crate) fn schema_may_lag(err: &ApplyError, crds_changed: bool, by: Duration) -> bool {
    crds_changed
        && by <= SCHEMA_SETTLE
        && matches!(err, ApplyError::Rejected { code: 500, message, .. } if message.starts_with(TYPED_PATCH))
}

/// What one apply did, read from its answer alone (one request per object).
///
/// 201 is a create. A 200 carries the same body whether the apply wrote the object
/// or there was nothing to write; generation moves only with a spec and is absent
/// on many kinds, and there is no earlier resourceVersion to compare with. What
/// tells them apart is ovaboot's own managedFields entry: its `time` moves when, and
/// only when, this manager adds, changes or removes a field it owns (API reference,
/// ManagedFieldsEntry.time). That clock is the API server's, as is the answer's
/// `Date` header, both to the second: an entry no older than the moment the request
/// reached the server (Date minus the round trip, rounded out) was written by this
/// apply. A run within a second or two of a previous change may thus say `changed`.
/// Writes the server makes on its own at an apply (fields it sets on a Namespace
/// moved to `before-first-apply`, an HTTPProxy's defaulted status stored) are not
/// ovaboot's changes: `unchanged`. Without a Date header (a proxy may drop it),
/// nothing can be told: `unchanged`.
pub(crate) fn outcome(
    code: u16,
    meta: &ObjectMeta,
    date: Option<k8s_openapi::jiff::Timestamp>,
    took: Duration,
) -> Outcome {
    if code == 201 {
        return Outcome::Created;
    }
    let ours = meta.managed_fields.iter().flatten().find(|e| {
        e.manager.as_deref() == Some(FIELD_MANAGER)
            && e.operation.as_deref() == Some("Apply")
            && e.subresource.as_deref().unwrap_or("").is_empty()
    });
    match (date, ours.and_then(|e| e.time.as_ref())) {
        (Some(answered), Some(time)) => {
            let reached = answered.as_second() - took.as_secs() as i64 - 1;
            if time.0.as_second() >= reached {
                Outcome::Changed
            } else {
                Outcome::Unchanged
            }
        }
        _ => Outcome::Unchanged,
    }
}

#[cfg(test)]
mod tests;
