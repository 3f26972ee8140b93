//! One API request with retries: transient failures (refused, time-outs, 429, 5xx)
//! are retried with exponential backoff and jitter until a deadline; anything else
//! is permanent and returned at once with the API server's own message, scrubbed
//! of the data of the object being sent.

use std::fmt::Display;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use kube::Client;
use kube::client::Body;
use tokio::time::Instant;

use super::error::ApplyError;
use super::failure::{Failure, Reply, classify, classify_status};
use super::scrub::Scrub;

const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(8);

/// The `attempt`-th backoff delay (0-based): doubling from 250 ms up to 8 s, then
/// scaled by a jitter factor in [0.5, 1.0) so that retries do not march in step.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let exp = FIRST_DELAY
        .saturating_mul(1u32 << attempt.min(16))
        .min(MAX_DELAY);
    exp.mul_f64(0.5 + jitter() / 2.0)
}

/// A number in [0, 1) from the process's random hasher keys: enough for jitter, no crate needed.
fn jitter() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// How long a request may take: each attempt (connecting included, until the whole
/// answer is in), and all attempts with their backoff together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub attempt: Duration,
    pub total: Duration,
}

/// Sends `make()` until it succeeds, fails permanently, or `limits.total` has passed,
/// counting the time spent inside attempts that hang (each is cut at what is left).
/// `what` names the request in logs and errors (e.g. "apply Deployment projectcontour/contour").
/// The server's text passes through `scrub` before it reaches an error or a log line.
pub(crate) async fn request(
    client: &Client,
    make: impl Fn() -> Result<http::Request<Vec<u8>>, ApplyError>,
    what: &dyn Display,
    limits: Limits,
    accept: &[u16],
    scrub: &Scrub,
) -> Result<Reply, ApplyError> {
    let started = Instant::now();
    let mut attempt = 0u32;
    loop {
        let left = limits.total.saturating_sub(started.elapsed());
        let failure = match send_once(client, make()?, attempt_limit(limits.attempt, left)).await {
            Ok(reply) if (200..300).contains(&reply.code) || accept.contains(&reply.code) => {
                return Ok(reply);
            }
            Ok(reply) => classify(reply.code, None, &reply.body),
            Err(f) => f,
        };
        let (message, retry_after) = scrub.failure(failure).transient_or_rejected(what)?;
        let delay = retry_after.unwrap_or_else(|| backoff(attempt));
        if started.elapsed() + delay > limits.total {
            return Err(ApplyError::GaveUp {
                what: what.to_string(),
                waited: started.elapsed(),
                last: message,
            });
        }
        tracing::warn!(
            "{what}: {message}; retry {} in {:.1}s",
            attempt + 1,
            delay.as_secs_f64()
        );
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// How long one attempt may take with `left` of the deadline: `request_timeout`, or
/// what is left, and what to blame when it is cut.
pub(crate) fn attempt_limit(request_timeout: Duration, left: Duration) -> (Duration, &'static str) {
    if request_timeout <= left {
        (request_timeout, "kube.request_timeout_secs")
    } else {
        (left, "cut at the deadline")
    }
}

/// One attempt, cut after `limit.0` (a transient failure naming `limit.1`). Errors below HTTP
/// (refused, reset, closed mid-answer) are transient; an HTTP error status is
/// classified by [`classify`] with the Retry-After header.
pub(crate) async fn send_once(
    client: &Client,
    req: http::Request<Vec<u8>>,
    (timeout, blame): (Duration, &str),
) -> Result<Reply, Failure> {
    match tokio::time::timeout(timeout, exchange(client, req)).await {
        Ok(result) => result,
        Err(_) => Err(Failure::Transient {
            status: None,
            message: format!(
                "no complete answer within {:.1}s ({blame})",
                timeout.as_secs_f64()
            ),
            retry_after: None,
        }),
    }
}

async fn exchange(client: &Client, req: http::Request<Vec<u8>>) -> Result<Reply, Failure> {
    let sent = Instant::now();
    let res = client
        .send(req.map(Body::from))
        .await
        .map_err(transport_failure)?;
    let code = res.status().as_u16();
    let retry_after = res
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let date = res
        .headers()
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            k8s_openapi::jiff::fmt::rfc2822::DateTimeParser::new()
                .parse_timestamp(v)
                .ok()
        });
    let body = res
        .into_body()
        .collect_bytes()
        .await
        .map_err(transport_failure)?
        .to_vec();
    let reply = Reply {
        code,
        body,
        date,
        took: sent.elapsed(),
    };
    if (200..300).contains(&code) {
        return Ok(reply);
    }
    match classify(code, retry_after, &reply.body) {
        // Keep accepted codes (the caller decides) only for permanent failures.
        Failure::Permanent { .. } => Ok(reply),
        transient => Err(transient),
    }
}

fn transport_failure(e: kube::Error) -> Failure {
    match e {
        kube::Error::Api(s) => classify_status(s.code, &s.reason, &s.message, None, None),
        kube::Error::Service(_) | kube::Error::HyperError(_) | kube::Error::ReadEvents(_) => {
            Failure::Transient {
                status: None,
                message: error_chain(&e),
                retry_after: None,
            }
        }
        other => Failure::Permanent {
            code: 0,
            reason: "ClientError".into(),
            message: error_chain(&other),
        },
    }
}

/// `e` with its sources: "ServiceError: client error (Connect): tcp connect error: Connection refused".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(src) = cur {
        let part = src.to_string();
        if !s.contains(&part) {
            s.push_str(": ");
            s.push_str(&part);
        }
        cur = src.source();
    }
    s
}

#[cfg(test)]
mod tests;
