//! Waiting until objects are ready, each within its own deadline and all at once.
//!
//! An object is judged first as the apply returned it (that answer is the read), then
//! watched from that answer's resourceVersion, so a status change is seen as the API
//! server sends it rather than at the next poll. Only while a watch fails (a server or
//! proxy without watch, a stale watch cache on etcd 3.4, see the recordings' README, a
//! dropped connection) is the object read every `poll_interval` instead, and watched
//! again from what was read.

use std::pin::pin;
use std::time::Duration;

use futures::TryStreamExt;
use kube::Client;
use kube::api::WatchParams;
use kube::core::WatchEvent;
use serde_json::Value;
use tokio::time::Instant;

use super::config::ApplyOptions;
use super::error::ApplyError;
use super::failure::parse;
use super::readiness::{self, Readiness};
use super::scrub::Scrub;
use super::transport::{self, Limits};
use super::types::ObjectRef;

/// The longest watch the API server is asked for (kube-rs's own default, under the 295 s it allows).
const MAX_WATCH_SECS: u64 = 290;

/// One object being waited for.
#[derive(Debug)]
pub(crate) struct Waiting {
    pub object: ObjectRef,
    /// The URL path of the object's collection (watched with a fieldSelector on its name).
    pub collection: String,
    pub timeout: Duration,
    /// What the object as the apply returned it says, and its resourceVersion.
    pub first: Readiness,
    pub resource_version: Option<String>,
}

/// Where one wait stands.
struct State {
    readiness: Readiness,
    resource_version: Option<String>,
    next_report: Instant,
}

/// Waits until every object is ready, each within its own timeout (counted from now),
/// concurrently. A `Failed` readiness stops at once; a timeout names the object and
/// what it still lacks.
pub(crate) async fn wait_ready(
    client: &Client,
    waiting: Vec<Waiting>,
    o: &ApplyOptions,
) -> Result<(), ApplyError> {
    futures::future::try_join_all(waiting.into_iter().map(|w| wait_one(client, w, o))).await?;
    Ok(())
}

async fn wait_one(client: &Client, w: Waiting, o: &ApplyOptions) -> Result<(), ApplyError> {
    let started = Instant::now();
    let deadline = started + w.timeout;
    let mut state = State {
        readiness: w.first.clone(),
        resource_version: w.resource_version.clone(),
        next_report: started + o.progress_interval,
    };
    let mut watch_failed = false;
    loop {
        match &state.readiness {
            Readiness::Ready => {
                tracing::info!(
                    "{}: ready after {:.1}s",
                    w.object,
                    started.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            Readiness::Failed(reason) => {
                return Err(ApplyError::Failed {
                    object: Box::new(w.object),
                    reason: reason.clone(),
                });
            }
            Readiness::Pending(reason) if Instant::now() >= deadline => {
                return Err(ApplyError::NotReady {
                    object: Box::new(w.object),
                    waited: started.elapsed(),
                    reason: reason.clone(),
                });
            }
            Readiness::Pending(_) => {}
        }
        let Some(version) = state.resource_version.clone() else {
            // Nothing to watch from (it expired: 410 Gone): read the object now.
            read(client, &w, deadline, o, &mut state).await?;
            if state.resource_version.is_none() {
                // An answer without a version cannot be watched: poll it.
                tokio::time::sleep_until((Instant::now() + o.poll_interval).min(deadline)).await;
            }
            continue;
        };
        if let Err(why) = watch(client, &w, &version, deadline, o, &mut state).await {
            let at = (Instant::now() + o.poll_interval).min(deadline);
            let wait = at.saturating_duration_since(Instant::now()).as_secs_f64();
            if watch_failed {
                tracing::debug!(
                    "{}: watch failed ({why}); reading it in {wait:.1}s",
                    w.object
                );
            } else {
                tracing::info!(
                    "{}: watch failed ({why}); reading it every {:.0}s until a watch holds",
                    w.object,
                    o.poll_interval.as_secs_f64()
                );
                watch_failed = true;
            }
            tokio::time::sleep_until(at).await;
            if Instant::now() < deadline {
                read(client, &w, deadline, o, &mut state).await?;
            }
        }
    }
}

/// Follows `w` from `version` until its readiness is no longer pending, the server
/// ends the watch, or the deadline; `Err` (why) when the watch cannot go on.
async fn watch(
    client: &Client,
    w: &Waiting,
    version: &str,
    deadline: Instant,
    o: &ApplyOptions,
    state: &mut State,
) -> Result<(), String> {
    let left = deadline.saturating_duration_since(Instant::now());
    // Rounded up: the client side cuts it at the deadline anyway.
    let secs = left.as_millis().div_ceil(1000) as u64;
    let secs = secs.clamp(1, MAX_WATCH_SECS);
    let params = WatchParams::default()
        .fields(&format!("metadata.name={}", w.object.name))
        .timeout(secs as u32);
    let req = kube::core::Request::new(&w.collection)
        .watch(&params, version)
        .map_err(|e| e.to_string())?;
    // Opening it is a request like any other: answered within the request timeout.
    let (limit, blame) = transport::attempt_limit(o.request_timeout, left);
    let events = tokio::time::timeout(limit, client.request_events::<Value>(req))
        .await
        .map_err(|_| format!("no answer within {:.1}s ({blame})", limit.as_secs_f64()))?
        .map_err(|e| e.to_string())?;
    let mut events = pin!(events);
    let opened = Instant::now();
    // The server ends the watch after `secs`; one that goes quiet past that is dropped.
    let watch_end = opened + Duration::from_secs(secs) + o.request_timeout;
    let mut any = false;
    loop {
        let until = deadline.min(watch_end).min(state.next_report);
        let event = match tokio::time::timeout_at(until, events.try_next()).await {
            Err(_) if until == state.next_report && until < deadline => {
                report(w, state, o);
                continue;
            }
            Err(_) => return Ok(()),
            // Ended by the server before its time with nothing said: a proxy or server
            // that does not hold watches open. Watching again at once would spin.
            Ok(Ok(None)) if !any && opened.elapsed() < Duration::from_secs(secs) => {
                return Err("the API server ended the watch at once".to_owned());
            }
            Ok(Ok(None)) => return Ok(()),
            Ok(Err(e)) => return Err(e.to_string()),
            Ok(Ok(Some(event))) => event,
        };
        any = true;
        match event {
            WatchEvent::Added(obj) | WatchEvent::Modified(obj) => {
                state.resource_version = resource_version(&obj);
                state.readiness = readiness::readiness(&w.object, &obj);
                if !matches!(state.readiness, Readiness::Pending(_)) {
                    return Ok(());
                }
            }
            WatchEvent::Deleted(obj) => {
                state.resource_version = resource_version(&obj);
                state.readiness = Readiness::Pending("deleted while waiting".to_owned());
            }
            WatchEvent::Bookmark(b) => state.resource_version = Some(b.metadata.resource_version),
            // 410 Gone: the version is too old to watch from; the object is read afresh.
            WatchEvent::Error(status) if status.code == 410 => {
                state.resource_version = None;
                return Ok(());
            }
            WatchEvent::Error(status) => {
                return Err(format!(
                    "{} {}: {}",
                    status.code, status.reason, status.message
                ));
            }
        }
    }
}

/// Reads the object once (while watching fails), within what is left of the deadline.
async fn read(
    client: &Client,
    w: &Waiting,
    deadline: Instant,
    o: &ApplyOptions,
    state: &mut State,
) -> Result<(), ApplyError> {
    let what = format!("read status of {}", w.object);
    let path = format!("{}/{}", w.collection, w.object.name);
    let make = || {
        http::Request::get(&path)
            .body(Vec::new())
            .map_err(|e| ApplyError::BadResponse {
                what: what.clone(),
                message: e.to_string(),
            })
    };
    let limits = Limits {
        attempt: o.request_timeout,
        total: o
            .request_retry
            .min(deadline.saturating_duration_since(Instant::now())),
    };
    let reply = transport::request(client, make, &what, limits, &[], &Scrub::default()).await?;
    let obj: Value = parse(&what, &reply.body)?;
    state.resource_version = resource_version(&obj);
    state.readiness = readiness::readiness(&w.object, &obj);
    if Instant::now() >= state.next_report {
        report(w, state, o);
    }
    Ok(())
}

fn report(w: &Waiting, state: &mut State, o: &ApplyOptions) {
    if let Readiness::Pending(why) = &state.readiness {
        tracing::info!("waiting for {}: {why}", w.object);
    }
    state.next_report = Instant::now() + o.progress_interval;
}

fn resource_version(obj: &Value) -> Option<String> {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .map(str::to_owned)
}
