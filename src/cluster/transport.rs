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

use super::ApplyError;
use super::scrub::Scrub;

/// A response the caller asked for: a 2xx, or one of the codes it accepts (e.g. 404 on GET).
#[derive(Debug)]
pub(crate) struct Reply {
    pub code: u16,
    pub body: Vec<u8>,
}

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Failure {
    /// Worth another try; `retry_after` is the server's own hint (Retry-After, retryAfterSeconds).
    /// `status` is the HTTP code and reason, if the server answered at all.
    Transient {
        status: Option<(u16, String)>,
        message: String,
        retry_after: Option<Duration>,
    },
    /// Will fail the same way again.
    Permanent {
        code: u16,
        reason: String,
        message: String,
    },
}

impl Failure {
    /// A permanent failure as the error that names `what`; a transient one as
    /// its log text and the server's retry hint.
    pub(crate) fn transient_or_rejected(
        self,
        what: &dyn Display,
    ) -> Result<(String, Option<Duration>), ApplyError> {
        match self {
            Failure::Permanent {
                code,
                reason,
                message,
            } => Err(ApplyError::Rejected {
                what: what.to_string(),
                code,
                reason,
                message,
            }),
            transient @ Failure::Transient { retry_after, .. } => {
                Ok((transient.to_string(), retry_after))
            }
        }
    }
}

impl Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Transient {
                status: Some((code, reason)),
                message,
                ..
            } => write!(f, "{code} {reason}: {message}"),
            Failure::Transient { message, .. } => f.write_str(message),
            Failure::Permanent {
                code,
                reason,
                message,
            } => write!(f, "{code} {reason}: {message}"),
        }
    }
}

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

/// Sends `make()` until it succeeds, fails permanently, or `retry_for` has passed.
/// `what` names the request in logs and errors (e.g. "apply Deployment projectcontour/contour").
/// The server's text passes through `scrub` before it reaches an error or a log line.
pub(crate) async fn request(
    client: &Client,
    make: impl Fn() -> Result<http::Request<Vec<u8>>, ApplyError>,
    what: &dyn Display,
    retry_for: Duration,
    accept: &[u16],
    scrub: &Scrub,
) -> Result<Reply, ApplyError> {
    let started = Instant::now();
    let mut attempt = 0u32;
    loop {
        let failure = match send_once(client, make()?).await {
            Ok(reply) if (200..300).contains(&reply.code) || accept.contains(&reply.code) => {
                return Ok(reply);
            }
            Ok(reply) => classify(reply.code, None, &reply.body),
            Err(f) => f,
        };
        let (message, retry_after) = scrub.failure(failure).transient_or_rejected(what)?;
        let delay = retry_after.unwrap_or_else(|| backoff(attempt));
        if started.elapsed() + delay > retry_for {
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

/// One attempt. Errors below HTTP (refused, reset, time-out) are transient; an
/// HTTP error status is classified by [`classify`] with the Retry-After header.
pub(crate) async fn send_once(
    client: &Client,
    req: http::Request<Vec<u8>>,
) -> Result<Reply, Failure> {
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
    let body = res
        .into_body()
        .collect_bytes()
        .await
        .map_err(transport_failure)?
        .to_vec();
    if (200..300).contains(&code) {
        return Ok(Reply { code, body });
    }
    match classify(code, retry_after, &body) {
        // Keep accepted codes (the caller decides) only for permanent failures.
        Failure::Permanent { .. } => Ok(Reply { code, body }),
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

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct StatusBody {
    kind: String,
    reason: String,
    message: String,
    details: Option<StatusDetails>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct StatusDetails {
    retry_after_seconds: Option<u64>,
}

/// Classifies an HTTP error response from its code and body (a `Status` object,
/// or plain text such as `404 page not found` for an unknown API path).
pub(crate) fn classify(code: u16, retry_after: Option<Duration>, body: &[u8]) -> Failure {
    let text = String::from_utf8_lossy(body);
    match serde_json::from_slice::<StatusBody>(body) {
        Ok(s) if s.kind == "Status" => {
            let hint = s
                .details
                .and_then(|d| d.retry_after_seconds)
                .map(Duration::from_secs);
            classify_status(code, &s.reason, &s.message, retry_after, hint)
        }
        _ => classify_status(code, "", text.trim(), retry_after, None),
    }
}

fn classify_status(
    code: u16,
    reason: &str,
    message: &str,
    header: Option<Duration>,
    hint: Option<Duration>,
) -> Failure {
    let reason = if reason.is_empty() {
        http::StatusCode::from_u16(code)
            .ok()
            .and_then(|c| c.canonical_reason())
            .unwrap_or("Error")
            .replace(' ', "")
    } else {
        reason.to_owned()
    };
    if code == 429 || code >= 500 {
        Failure::Transient {
            status: Some((code, reason)),
            message: message.to_owned(),
            retry_after: header.or(hint),
        }
    } else {
        Failure::Permanent {
            code,
            reason,
            message: message.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_below_the_nominal_delay() {
        for attempt in 0..20 {
            let nominal = FIRST_DELAY
                .saturating_mul(1 << attempt.min(16))
                .min(MAX_DELAY);
            let d = backoff(attempt);
            assert!(
                d >= nominal / 2 && d < nominal,
                "attempt {attempt}: {d:?} vs {nominal:?}"
            );
        }
        assert!(backoff(12) >= MAX_DELAY / 2);
    }

    #[test]
    fn status_422_is_permanent_and_keeps_the_servers_message() {
        let body = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"HTTPProxy.projectcontour.io \"x\" is invalid","reason":"Invalid","code":422}"#;
        assert_eq!(
            classify(422, None, body),
            Failure::Permanent {
                code: 422,
                reason: "Invalid".into(),
                message: "HTTPProxy.projectcontour.io \"x\" is invalid".into()
            }
        );
    }

    #[test]
    fn plain_text_404_is_permanent_with_the_text_as_message() {
        assert_eq!(
            classify(404, None, b"404 page not found\n"),
            Failure::Permanent {
                code: 404,
                reason: "NotFound".into(),
                message: "404 page not found".into()
            }
        );
    }

    #[test]
    fn throttling_honours_retry_after_header_before_status_hint() {
        let body = br#"{"kind":"Status","reason":"TooManyRequests","message":"slow down","details":{"retryAfterSeconds":3},"code":429}"#;
        let Failure::Transient { retry_after, .. } =
            classify(429, Some(Duration::from_secs(7)), body)
        else {
            panic!("429 must be transient")
        };
        assert_eq!(retry_after, Some(Duration::from_secs(7)));
        let Failure::Transient { retry_after, .. } = classify(429, None, body) else {
            panic!()
        };
        assert_eq!(retry_after, Some(Duration::from_secs(3)));
    }

    #[test]
    fn server_errors_are_transient() {
        for code in [500, 502, 503, 504] {
            assert!(
                matches!(classify(code, None, b"oops"), Failure::Transient { .. }),
                "{code}"
            );
        }
        for code in [400, 401, 403, 404, 409, 422] {
            assert!(
                matches!(classify(code, None, b"no"), Failure::Permanent { .. }),
                "{code}"
            );
        }
    }
}
