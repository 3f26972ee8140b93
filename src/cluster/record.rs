//! The apply record: which objects provably have not changed since ovaboot's own
//! last apply, so that a re-apply need not send them.
//!
//! A server-side apply of an unchanged body still costs the API server a decode,
//! a validation and a merge; for Contour's CRDs (17–250 KB each) that is most of a
//! re-apply's time. After a run, ovaboot keeps in the cluster, in the ConfigMap
//! `kube-system/ovaboot-applied`, for each object it may skip (see [`recordable`]):
//! its UID, the resourceVersion the apply's answer carried, and the SHA-256 of the
//! exact body sent; with the API server's `gitVersion` and ovaboot's version.
//!
//! **Why a skip is sound.** The apply's answer is the object as stored right after
//! ovaboot's apply of that body was merged into it. Every write to an object, by
//! anyone (spec, labels, annotations, status, ownership), gives it a new
//! resourceVersion, and an object deleted and made again has a new UID. So when the
//! live UID and resourceVersion (read consistently, not from a cache) equal the
//! recorded ones, the object is byte for byte what that apply left; and when the
//! planned body's digest, the server's version and ovaboot's version equal the
//! recorded ones too, the apply would be the same apply of the same body by the same
//! code to the same object on the same server: server-side apply is idempotent, so
//! it would change nothing. The skip is then exactly a no-op apply (`unchanged`),
//! and the object was recorded ready, so it needs no wait either. Anything else
//! (absent, garbled, older, another server version, any mismatch) means: apply.
//! What the proof cannot see is a change to the server's configuration under the
//! same version (feature gates, a mutating webhook for CRDs installed since): an
//! apply would meet it, a skip does not, until the object or the version changes.
//!
//! **Why in the cluster.** `ovaboot apply` keeps no local state, and the record must
//! go wherever the objects go: an etcd restore rewinds the record with them (a local
//! file would claim versions of a timeline that no longer exists, and etcd may hand
//! out those revisions again), a wiped cluster loses it with them. It is written
//! after the applies and only when it differs from what was read, so a power cut in
//! between leaves an older record, whose versions no longer match: applied again.

use std::collections::{BTreeSet, HashMap};

use futures::future;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Patch, PatchParams};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::apply::FIELD_MANAGER;
use super::error::ApplyError;
use super::failure::{Reply, parse};
use super::scrub::Scrub;
use super::transport::{self, Limits};
use super::types::ObjectRef;

/// Where the record is kept: a namespace every cluster has.
pub const NAMESPACE: &str = "kube-system";
pub const NAME: &str = "ovaboot-applied";
/// The ConfigMap's one key: the record as JSON.
const KEY: &str = "record.json";
/// Bumped when the record's meaning changes; another format is not read.
const FORMAT: u32 = 1;
const COLLECTION: &str = "/api/v1/namespaces/kube-system/configmaps";

/// Which objects are recorded and may be skipped: the CustomResourceDefinitions,
/// which are the cost of a re-apply (the other 17 objects of the default plan
/// together take the API server less than one large CRD). Never a Secret: a digest
/// of its body would be a copy of its data to guess against.
pub fn recordable(r: &ObjectRef) -> bool {
    r.api_version == "apiextensions.k8s.io/v1" && r.kind == "CustomResourceDefinition"
}

/// `sha256:` and the hex SHA-256 of `body`, the JSON bytes sent (serde_json writes
/// object keys sorted: the same object gives the same bytes).
pub fn digest(body: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
    let mut s = String::from("sha256:");
    for b in d.as_ref() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// One object as ovaboot's apply left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Entry {
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
    pub resource_version: String,
    /// [`digest`] of the body applied.
    pub digest: String,
}

impl Entry {
    /// The entry for `r`, applied with the body whose digest is `digest`, as the
    /// apply's answer `meta` left it; `None` if the answer lacks a UID or a
    /// resourceVersion.
    pub fn applied(r: &ObjectRef, digest: String, meta: &ObjectMeta) -> Option<Entry> {
        Some(Entry {
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            uid: meta.uid.clone()?,
            resource_version: meta.resource_version.clone()?,
            digest,
        })
    }

    fn is(&self, r: &ObjectRef) -> bool {
        self.api_version == r.api_version
            && self.kind == r.kind
            && self.namespace == r.namespace
            && self.name == r.name
    }

    fn key(&self) -> (&str, &str, Option<&str>, &str) {
        (
            &self.api_version,
            &self.kind,
            self.namespace.as_deref(),
            &self.name,
        )
    }
}

/// The record as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Stored {
    format: u32,
    /// The API server's `gitVersion` the entries were applied to.
    server_version: String,
    /// The ovaboot that applied them (how it applies could change with it).
    applied_by: String,
    objects: Vec<Entry>,
}

fn applied_by() -> String {
    format!("ovaboot {}", env!("CARGO_PKG_VERSION"))
}

/// What a run knows before it applies: the server's version, and the entries that
/// hold for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub server_version: String,
    /// The record's entries if it was made on this server version by this ovaboot, else none.
    pub entries: Vec<Entry>,
    /// The record's text as read, if there was one: it is rewritten only if it differs.
    pub text: Option<String>,
    /// The live metadata of the recordable objects, by collection URL path and name.
    pub live: HashMap<(String, String), ObjectMeta>,
}

impl Known {
    /// The entry for `r` if it was recorded with `digest`: the object may be skipped
    /// if it is still at the recorded UID and resourceVersion.
    pub fn candidate(&self, r: &ObjectRef, digest: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.is(r) && e.digest == digest)
    }

    /// `r`'s entry and live metadata if applying `digest` to it would change nothing
    /// (see the module's "why a skip is sound"): recorded with this digest, and live
    /// (in `collection`) with the recorded UID and resourceVersion.
    pub fn unchanged(
        &self,
        r: &ObjectRef,
        collection: &str,
        digest: &str,
    ) -> Option<(&Entry, &ObjectMeta)> {
        let entry = self.candidate(r, digest)?;
        let meta = self.live.get(&(collection.to_owned(), r.name.clone()))?;
        let same = meta.uid.as_deref() == Some(entry.uid.as_str())
            && meta.resource_version.as_deref() == Some(entry.resource_version.as_str());
        same.then_some((entry, meta))
    }

    /// The record after a run: `now` (this run's objects; those absent were not
    /// recorded ready) replaces the entries of `planned`, the other entries stay
    /// (still true: each is checked against the live object before it is used).
    /// `None` if it is what was read: nothing to write.
    pub fn next(&self, planned: &[&ObjectRef], now: Vec<Entry>) -> Option<String> {
        let mut objects: Vec<Entry> = self
            .entries
            .iter()
            .filter(|e| !planned.iter().any(|r| e.is(r)))
            .cloned()
            .chain(now)
            .collect();
        if objects.is_empty() && self.text.is_none() {
            return None; // no record, and nothing to record
        }
        // One order whatever the plan's: the same entries make the same text.
        objects.sort_by(|a, b| a.key().cmp(&b.key()));
        let stored = Stored {
            format: FORMAT,
            server_version: self.server_version.clone(),
            applied_by: applied_by(),
            objects,
        };
        let text = serde_json::to_string(&stored).expect("a record serialises");
        (self.text.as_deref() != Some(text.as_str())).then_some(text)
    }
}

/// Reads the record, the server's version and the live metadata of `collections`
/// (the URL paths of the recordable objects' collections), concurrently, each
/// within `limits`. `None` (apply everything, record nothing) if the version cannot
/// be read; a record that is absent, unreadable or made elsewhere gives no entries,
/// a list that fails no live objects. Never an error: without the record,
/// everything is applied, as it would be anyway.
pub async fn read(
    client: &Client,
    collections: &BTreeSet<String>,
    limits: Limits,
) -> Option<Known> {
    let record_path = format!("{COLLECTION}/{NAME}");
    let what_record = format!("read the apply record ConfigMap {NAMESPACE}/{NAME}");
    let (version, record, lists) = future::join3(
        get(client, "/version", "GET /version", limits),
        get(client, &record_path, &what_record, limits),
        future::join_all(collections.iter().map(|c| list(client, c, limits))),
    )
    .await;
    let mut live = HashMap::new();
    for listed in lists {
        match listed {
            Ok(objects) => live.extend(objects.into_iter().filter_map(|(c, m)| {
                let name = m.name.clone()?;
                Some(((c, name), m))
            })),
            Err(e) => tracing::info!("{e}: applying its objects"),
        }
    }
    let server_version = match version
        .and_then(|reply| parse::<Value>("GET /version", &reply.body))
        .map(|v| v["gitVersion"].as_str().unwrap_or_default().to_owned())
    {
        Ok(v) if !v.is_empty() => v,
        Ok(_) => {
            tracing::info!("the API server's /version names no gitVersion: applying everything");
            return None;
        }
        Err(e) => {
            tracing::info!("{e}: applying everything, recording nothing");
            return None;
        }
    };
    let text = match record {
        Ok(reply) if reply.code == 404 => {
            tracing::debug!("no apply record {NAMESPACE}/{NAME} yet: applying everything");
            None
        }
        Ok(reply) => match parse::<ConfigMap>(&what_record, &reply.body) {
            Ok(cm) => Some(cm.data.and_then(|mut d| d.remove(KEY)).unwrap_or_default()),
            Err(e) => {
                tracing::info!("{e}: applying everything");
                Some(String::new())
            }
        },
        Err(e) => {
            tracing::info!("{e}: applying everything");
            None
        }
    };
    let entries = text
        .as_deref()
        .and_then(|t| usable(t, &server_version))
        .unwrap_or_default();
    Some(Known {
        server_version,
        entries,
        text,
        live,
    })
}

/// One GET of `path`; 404 is an answer too.
async fn get(client: &Client, path: &str, what: &str, limits: Limits) -> Result<Reply, ApplyError> {
    let make = || {
        http::Request::get(path)
            .body(Vec::new())
            .map_err(|e| ApplyError::BadResponse {
                what: what.to_owned(),
                message: e.to_string(),
            })
    };
    transport::request(client, make, &what, limits, &[404], &Scrub::default()).await
}

/// The entries of a record's `text`, if it is one of this format, server version and ovaboot.
fn usable(text: &str, server_version: &str) -> Option<Vec<Entry>> {
    let stored: Stored = match serde_json::from_str(text) {
        Ok(s) => s,
        Err(e) => {
            tracing::info!(
                "apply record {NAMESPACE}/{NAME} is not readable ({e}): applying everything"
            );
            return None;
        }
    };
    if stored.format != FORMAT || stored.applied_by != applied_by() {
        tracing::info!(
            "apply record {NAMESPACE}/{NAME} is format {} by {}: applying everything",
            stored.format,
            stored.applied_by
        );
        return None;
    }
    if stored.server_version != server_version {
        tracing::info!(
            "apply record {NAMESPACE}/{NAME} was made on {}, the API server is {server_version}: applying everything",
            stored.server_version
        );
        return None;
    }
    Some(stored.objects)
}

/// How the API server answers with its objects' metadata alone.
pub const METADATA_LIST: &str = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

#[derive(Deserialize)]
struct MetadataList {
    #[serde(default)]
    items: Vec<Metadata>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    metadata: ObjectMeta,
}

/// The metadata of every object in `collection` (a URL path), one LIST with the
/// metadata alone. Without a `resourceVersion` parameter the API server answers
/// consistently: from etcd, or from its watch cache once that has caught up with
/// etcd (ConsistentListFromCache), never from an older copy. Measured on the test
/// control plane: 1.7 ms of API server CPU for the CRDs, against 36 ms for five
/// metadata GETs (each decodes the whole stored CRD from etcd).
async fn list(
    client: &Client,
    collection: &str,
    limits: Limits,
) -> Result<Vec<(String, ObjectMeta)>, ApplyError> {
    let what = format!("list the metadata of {collection}");
    let make = || {
        http::Request::get(collection)
            .header(http::header::ACCEPT, METADATA_LIST)
            .body(Vec::new())
            .map_err(|e| ApplyError::BadResponse {
                what: what.clone(),
                message: e.to_string(),
            })
    };
    let reply = transport::request(client, make, &what, limits, &[], &Scrub::default()).await?;
    Ok(parse::<MetadataList>(&what, &reply.body)?
        .items
        .into_iter()
        .map(|m| (collection.to_owned(), m.metadata))
        .collect())
}

/// Writes `text` as the record (server-side apply, ovaboot's field manager). A
/// failure is logged, not returned: the next run applies everything it cannot prove.
pub async fn write(client: &Client, text: String, limits: Limits) {
    let what = format!("write the apply record ConfigMap {NAMESPACE}/{NAME}");
    let body = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": FIELD_MANAGER},
        },
        "data": {KEY: text},
    });
    let params = PatchParams::apply(FIELD_MANAGER)
        .force()
        .validation_ignore();
    let request = kube::core::Request::new(COLLECTION);
    let make = || {
        request
            .patch(NAME, &params, &Patch::Apply(&body))
            .map_err(|e| ApplyError::BadResponse {
                what: what.clone(),
                message: e.to_string(),
            })
    };
    match transport::request(client, make, &what, limits, &[], &Scrub::default()).await {
        Ok(_) => tracing::debug!("apply record {NAMESPACE}/{NAME} written"),
        Err(e) => tracing::warn!("{e} (the next run applies everything again)"),
    }
}

#[cfg(test)]
mod tests;
