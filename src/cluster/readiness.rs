//! When is an object ready? Decided from the object's own `status`, one pure
//! function per kind on its typed form (as kube-runtime's `conditions` do), so
//! every rule is testable on recorded objects. One table ([`RULES`]) says
//! which kinds are waited for, by which rule and within which deadline; any
//! other kind is done once the API server accepts it.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

use super::types::ObjectRef;

/// What an object's status says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Not yet; the text says what is missing, from the status.
    Pending(String),
    /// Will not become ready without a change to the object (Job failed, HTTPProxy invalid).
    Failed(String),
}

/// Which of `[kube]`'s deadlines a kind is waited for within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// `crd_established_timeout_secs`.
    CrdEstablished,
    /// `workload_ready_timeout_secs` (image pulls included).
    WorkloadReady,
    /// `httpproxy_valid_timeout_secs`.
    HttpProxyValid,
}

/// How one kind becomes ready.
#[derive(Debug)]
pub struct Rule {
    /// `group/version` (`v1` for the core group).
    pub api_version: &'static str,
    pub kind: &'static str,
    /// What the object, as the API server returned it, says.
    pub judge: fn(&Value) -> Readiness,
    pub deadline: Deadline,
}

/// Every kind the executor waits for: the built-in kinds through their
/// k8s-openapi types, HTTPProxy (no typed crate) as JSON.
pub const RULES: &[Rule] = &[
    Rule {
        api_version: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        judge: |obj| typed(obj, crd),
        deadline: Deadline::CrdEstablished,
    },
    Rule {
        api_version: "batch/v1",
        kind: "Job",
        judge: |obj| typed(obj, job),
        deadline: Deadline::WorkloadReady,
    },
    Rule {
        api_version: "apps/v1",
        kind: "Deployment",
        judge: |obj| typed(obj, deployment),
        deadline: Deadline::WorkloadReady,
    },
    Rule {
        api_version: "apps/v1",
        kind: "DaemonSet",
        judge: |obj| typed(obj, daemonset),
        deadline: Deadline::WorkloadReady,
    },
    Rule {
        api_version: "projectcontour.io/v1",
        kind: "HTTPProxy",
        judge: httpproxy,
        deadline: Deadline::HttpProxyValid,
    },
    Rule {
        api_version: "projectcontour.io/v1alpha1",
        kind: "ExtensionService",
        judge: extension_service,
        deadline: Deadline::HttpProxyValid,
    },
];

/// `r`'s rule, if the executor waits for its kind.
pub fn rule(r: &ObjectRef) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|rule| rule.api_version == r.api_version && rule.kind == r.kind)
}

/// Whether the executor waits for `r` at all (others are done once the API server accepts them).
pub fn waits_for(r: &ObjectRef) -> bool {
    rule(r).is_some()
}

/// The readiness of `obj` (an object as the API server returned it), by its
/// kind's rule; a kind without one is ready once accepted.
pub fn readiness(r: &ObjectRef, obj: &Value) -> Readiness {
    rule(r).map_or(Readiness::Ready, |rule| (rule.judge)(obj))
}

/// `rule` on `obj` read as `T`; an object that does not read as its kind is not ready.
fn typed<T: serde::de::DeserializeOwned>(obj: &Value, rule: fn(&T) -> Readiness) -> Readiness {
    match T::deserialize(obj) {
        Ok(o) => rule(&o),
        Err(e) => Readiness::Pending(format!("unreadable answer from the API server: {e}")),
    }
}

/// "reason: message" of a condition, whichever parts it has.
fn explain(reason: Option<&str>, message: Option<&str>) -> String {
    match (reason.unwrap_or(""), message.unwrap_or("")) {
        ("", m) => m.to_owned(),
        (r, "") => r.to_owned(),
        (r, m) => format!("{r}: {m}"),
    }
}

/// Pending until the controller has seen the current spec (`observedGeneration >= generation`).
fn generation_seen(generation: Option<i64>, observed: Option<i64>) -> Result<(), Readiness> {
    let generation = generation.unwrap_or(0);
    match observed {
        Some(seen) if seen >= generation => Ok(()),
        seen => Err(Readiness::Pending(format!(
            "controller has not seen generation {generation} yet (observedGeneration {})",
            seen.map_or("unset".to_owned(), |s| s.to_string())
        ))),
    }
}

/// CustomResourceDefinition: `Established=True`. `NamesAccepted=False` is a name
/// conflict with another CRD and will not resolve by itself.
pub fn crd(obj: &CustomResourceDefinition) -> Readiness {
    let conditions = obj
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let find = |t: &str| conditions.iter().find(|c| c.type_ == t);
    let established = find("Established");
    if established.is_some_and(|c| c.status == "True") {
        return Readiness::Ready;
    }
    match find("NamesAccepted") {
        Some(c) if c.status == "False" => Readiness::Failed(format!(
            "names not accepted: {}",
            explain(c.reason.as_deref(), c.message.as_deref())
        )),
        _ => Readiness::Pending(match established {
            Some(c) => format!(
                "not Established: {}",
                explain(c.reason.as_deref(), c.message.as_deref())
            ),
            None => "not Established yet (no conditions)".to_owned(),
        }),
    }
}

/// Job: `Complete=True`; `Failed=True` is an error carrying the Job's reason.
pub fn job(obj: &Job) -> Readiness {
    let status = obj.status.clone().unwrap_or_default();
    let conditions = status.conditions.as_deref().unwrap_or_default();
    let holds = |t: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == t && c.status == "True")
    };
    if holds("Complete").is_some() {
        return Readiness::Ready;
    }
    if let Some(c) = holds("Failed") {
        return Readiness::Failed(format!(
            "Job failed: {}",
            explain(c.reason.as_deref(), c.message.as_deref())
        ));
    }
    Readiness::Pending(format!(
        "not complete: {} active, {} succeeded, {} failed pods",
        status.active.unwrap_or(0),
        status.succeeded.unwrap_or(0),
        status.failed.unwrap_or(0)
    ))
}

/// Deployment: the current generation is rolled out and available: every replica
/// updated, none old left, every replica available.
pub fn deployment(obj: &Deployment) -> Readiness {
    let status = obj.status.clone().unwrap_or_default();
    if let Err(pending) = generation_seen(obj.metadata.generation, status.observed_generation) {
        return pending;
    }
    let want = obj.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let total = status.replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let stalled = status
        .conditions
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|c| c.type_ == "Progressing" && c.status == "False")
        .map(|c| format!(" ({})", explain(c.reason.as_deref(), c.message.as_deref())))
        .unwrap_or_default();
    if updated < want {
        Readiness::Pending(format!("{updated} of {want} replicas updated{stalled}"))
    } else if total > updated {
        Readiness::Pending(format!(
            "{} old replicas pending termination",
            total - updated
        ))
    } else if available < want {
        Readiness::Pending(format!(
            "{available} of {want} updated replicas available{stalled}"
        ))
    } else {
        Readiness::Ready
    }
}

/// DaemonSet: at the current generation, every scheduled pod is updated and ready.
/// `desiredNumberScheduled == 0` is not ready: on the appliance there is a node and
/// the pod must run on it; zero means the node is not registered yet, or no node
/// matches the DaemonSet's selector and tolerations (which the deadline then reports).
pub fn daemonset(obj: &DaemonSet) -> Readiness {
    let status = obj.status.clone().unwrap_or_default();
    if let Err(pending) = generation_seen(obj.metadata.generation, status.observed_generation) {
        return pending;
    }
    let desired = status.desired_number_scheduled;
    let updated = status.updated_number_scheduled.unwrap_or(0);
    let ready = status.number_ready;
    if desired == 0 {
        Readiness::Pending("no node is scheduled to run it (desiredNumberScheduled 0)".to_owned())
    } else if updated < desired {
        Readiness::Pending(format!("{updated} of {desired} scheduled pods updated"))
    } else if ready < desired {
        Readiness::Pending(format!("{ready} of {desired} scheduled pods ready"))
    } else {
        Readiness::Ready
    }
}

fn int(obj: &Value, ptr: &str) -> Option<i64> {
    obj.pointer(ptr).and_then(Value::as_i64)
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| text(c, "type") == kind)
}

/// Contour's error for a route whose Service is missing (not a wrong port).
fn service_not_found(e: &Value) -> bool {
    text(e, "reason") == "ServiceUnresolvedReference" && text(e, "message").contains("not found")
}

/// "reason: message" of a JSON condition or condition error.
fn explain_json(c: &Value) -> String {
    explain(Some(text(c, "reason")), Some(text(c, "message")))
}

/// Contour HTTPProxy: `status.currentStatus == "valid"` and the `Valid` condition's
/// `observedGeneration` equals `metadata.generation`. `invalid` at the current
/// generation is an error quoting Contour's description and condition errors.
/// `orphaned` stays pending: a child applied before its root's new include is
/// orphaned until Contour sees the include, so only the deadline decides.
pub fn httpproxy(obj: &Value) -> Readiness {
    let generation = int(obj, "/metadata/generation").unwrap_or(0);
    let status = obj.get("status").unwrap_or(&Value::Null);
    let current = text(status, "currentStatus");
    let description = text(status, "description");
    let valid = condition(obj, "Valid");
    let seen = valid
        .and_then(|c| c.get("observedGeneration"))
        .and_then(Value::as_i64);
    if seen != Some(generation) {
        let what = if current.is_empty() {
            "no status"
        } else {
            current
        };
        return Readiness::Pending(format!(
            "Contour has not processed generation {generation} yet ({what}{}{description})",
            if description.is_empty() { "" } else { ": " }
        ));
    }
    match current {
        "valid" => Readiness::Ready,
        "orphaned" => Readiness::Pending(format!(
            "Contour says orphaned (no root HTTPProxy includes it yet): {description}"
        )),
        "invalid" => {
            let errors: Vec<&Value> = valid
                .and_then(|c| c.get("errors"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .collect();
            let mut why = format!("Contour says {current}: {description}");
            for e in &errors {
                why.push_str(&format!("; {}", explain_json(e)));
            }
            // A routed Service that does not exist yet is a matter of time at
            // boot (another unit may still be creating it): wait for it until
            // the deadline rather than fail for good.
            if !errors.is_empty() && errors.iter().all(|e| service_not_found(e)) {
                Readiness::Pending(format!("waiting for the routed Service to exist ({why})"))
            } else {
                Readiness::Failed(why)
            }
        }
        other => Readiness::Pending(format!("currentStatus {other:?}: {description}")),
    }
}

/// Contour ExtensionService: its `Valid` condition is `True` at the current
/// generation (Contour's `DetailedCondition`, as on an HTTPProxy; an
/// ExtensionService has no `currentStatus`). `False` at the current
/// generation is an error quoting Contour's errors, but for a Service that
/// does not exist yet, which keeps the wait going as for an HTTPProxy.
pub fn extension_service(obj: &Value) -> Readiness {
    let generation = int(obj, "/metadata/generation").unwrap_or(0);
    let Some(valid) = condition(obj, "Valid") else {
        return Readiness::Pending("Contour has not processed it yet (no Valid condition)".into());
    };
    let seen = valid.get("observedGeneration").and_then(Value::as_i64);
    if seen != Some(generation) {
        return Readiness::Pending(format!(
            "Contour has not processed generation {generation} yet (observedGeneration {})",
            seen.map_or("unset".to_owned(), |s| s.to_string())
        ));
    }
    match text(valid, "status") {
        "True" => Readiness::Ready,
        "False" => {
            let errors: Vec<&Value> = valid
                .get("errors")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .collect();
            let mut why = format!("Contour says invalid: {}", explain_json(valid));
            for e in &errors {
                why.push_str(&format!("; {}", explain_json(e)));
            }
            if !errors.is_empty() && errors.iter().all(|e| service_not_found(e)) {
                Readiness::Pending(format!("waiting for its Service to exist ({why})"))
            } else {
                Readiness::Failed(why)
            }
        }
        other => Readiness::Pending(format!("Valid is {other:?}: {}", explain_json(valid))),
    }
}

#[cfg(test)]
mod tests;
