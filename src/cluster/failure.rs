//! What an answer from the API server means: a reply the caller asked for, or a
//! failure that is transient (worth another try) or permanent, read from the HTTP
//! code and the `Status` body. Pure; shared by the transport and the scrubber.

use std::fmt::Display;
use std::time::Duration;

use super::error::ApplyError;

/// A response the caller asked for: a 2xx, or one of the codes it accepts (e.g. 404 on GET).
#[derive(Debug)]
pub(crate) struct Reply {
    pub code: u16,
    pub body: Vec<u8>,
    /// The answer's `Date` header: the API server's clock, to the second.
    pub date: Option<k8s_openapi::jiff::Timestamp>,
    /// How long the attempt that got this answer took.
    pub took: Duration,
}

/// `body` as JSON of type `T`, or the error that names `what` was asked.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    what: &str,
    body: &[u8],
) -> Result<T, ApplyError> {
    serde_json::from_slice(body).map_err(|e| ApplyError::BadResponse {
        what: what.to_owned(),
        message: e.to_string(),
    })
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

/// How kube-apiserver's answer to an apply that does not fit the schema begins.
pub(crate) const TYPED_PATCH: &str = "failed to create typed patch object";

pub(crate) fn classify_status(
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
    // kube-apiserver answers a server-side apply whose body does not fit the kind's
    // schema (an unknown field, a wrong type) with a bare 500: "failed to create typed
    // patch object (NS/NAME; GROUP/VERSION, Kind=KIND): .spec.x: field not declared in
    // schema". No retry can change that answer.
    if code == 500 && message.starts_with(TYPED_PATCH) {
        return Failure::Permanent {
            code,
            reason,
            message: message.to_owned(),
        };
    }
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
mod tests;
