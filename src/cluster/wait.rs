//! Waiting until objects are ready: poll each object's status (a plain GET, which
//! works the same on every API server and etcd version; watches through the watch
//! cache can stall on etcd 3.4, see the recordings' README), judge it with
//! [`readiness`](super::readiness), and log every few seconds what is still missing.

use std::time::Duration;

use kube::Client;
use tokio::time::Instant;

use super::apply::parse_object;
use super::config::ApplyOptions;
use super::error::ApplyError;
use super::readiness::{self, Readiness};
use super::scrub::Scrub;
use super::transport::{self, Limits};
use super::types::ObjectRef;

/// One object being waited for.
#[derive(Debug)]
pub(crate) struct Waiting {
    object: ObjectRef,
    path: String,
    timeout: Duration,
    last: Readiness,
}

impl Waiting {
    /// `first` is the readiness of the object as the apply returned it.
    pub fn new(object: ObjectRef, path: String, timeout: Duration, first: Readiness) -> Self {
        Waiting {
            object,
            path,
            timeout,
            last: first,
        }
    }
}

/// Waits until every object is ready, each within its own timeout (counted from now).
/// A `Failed` readiness stops at once; a timeout names the object and what it still lacks.
pub(crate) async fn wait_ready(
    client: &Client,
    mut waiting: Vec<Waiting>,
    o: &ApplyOptions,
) -> Result<(), ApplyError> {
    let started = Instant::now();
    let mut last_report = started;
    loop {
        let mut still = Vec::with_capacity(waiting.len());
        for w in waiting {
            match &w.last {
                Readiness::Ready => {
                    tracing::info!("{}: ready after {}s", w.object, started.elapsed().as_secs())
                }
                Readiness::Failed(reason) => {
                    return Err(ApplyError::Failed {
                        object: Box::new(w.object),
                        reason: reason.clone(),
                    });
                }
                Readiness::Pending(reason) if started.elapsed() >= w.timeout => {
                    return Err(ApplyError::NotReady {
                        object: Box::new(w.object),
                        waited: started.elapsed(),
                        reason: reason.clone(),
                    });
                }
                Readiness::Pending(_) => still.push(w),
            }
        }
        waiting = still;
        if waiting.is_empty() {
            return Ok(());
        }
        if last_report.elapsed() >= o.progress_interval {
            last_report = Instant::now();
            let list: Vec<String> = waiting
                .iter()
                .map(|w| match &w.last {
                    Readiness::Pending(why) => format!("{}: {why}", w.object),
                    _ => w.object.to_string(),
                })
                .collect();
            tracing::info!(
                "waiting {}s for {} objects: {}",
                started.elapsed().as_secs(),
                waiting.len(),
                list.join("; ")
            );
        }
        tokio::time::sleep(o.poll_interval).await;
        for w in &mut waiting {
            let what = format!("read status of {}", w.object);
            let make = || {
                http::Request::get(&w.path)
                    .body(Vec::new())
                    .map_err(|e| ApplyError::BadResponse {
                        what: what.clone(),
                        message: e.to_string(),
                    })
            };
            let reply = transport::request(
                client,
                make,
                &what,
                Limits {
                    attempt: o.request_timeout,
                    total: o.request_retry,
                },
                &[],
                &Scrub::default(),
            )
            .await?;
            w.last = readiness::readiness(&w.object, &parse_object(&what, &reply.body)?);
        }
    }
}
