//! Every readiness rule on recorded objects (kube-apiserver v1.32), and on recorded
//! objects with one status field changed to show the rule's other side.

use serde_json::{Value, json};

use super::*;
use crate::cluster::test_support::recorded;

// The rules read typed objects; these read the recorded JSON the same way `readiness` does.
fn crd(obj: &Value) -> Readiness {
    typed(obj, super::crd)
}

fn job(obj: &Value) -> Readiness {
    typed(obj, super::job)
}

fn deployment(obj: &Value) -> Readiness {
    typed(obj, super::deployment)
}

fn daemonset(obj: &Value) -> Readiness {
    typed(obj, super::daemonset)
}

fn pending(r: Readiness) -> String {
    match r {
        Readiness::Pending(why) => why,
        other => panic!("expected Pending, got {other:?}"),
    }
}

fn failed(r: Readiness) -> String {
    match r {
        Readiness::Failed(why) => why,
        other => panic!("expected Failed, got {other:?}"),
    }
}

fn with(mut obj: Value, ptr: &str, value: Value) -> Value {
    *obj.pointer_mut(ptr).unwrap_or_else(|| panic!("no {ptr}")) = value;
    obj
}

#[test]
fn crd_right_after_apply_has_null_conditions_and_is_pending() {
    let obj = recorded(
        "apply-contour/07-customresourcedefinition-httpproxies.projectcontour.io.response.json",
    );
    assert_eq!(obj["status"]["conditions"], Value::Null);
    assert_eq!(pending(crd(&obj)), "not Established yet (no conditions)");
}

#[test]
fn crd_with_established_true_is_ready() {
    for name in [
        "contourconfigurations",
        "contourdeployments",
        "extensionservices",
        "httpproxies",
        "tlscertificatedelegations",
    ] {
        let obj = recorded(&format!("crd-status/{name}.projectcontour.io.json"));
        assert_eq!(crd(&obj), Readiness::Ready, "{name}");
    }
}

#[test]
fn crd_whose_names_conflict_fails_with_the_message() {
    let obj = recorded("crd-status/httpproxies.projectcontour.io.json");
    let obj = with(
        obj,
        "/status/conditions",
        json!([{"type": "NamesAccepted", "status": "False", "reason": "PluralConflict", "message": "\"httpproxies\" is already in use"}]),
    );
    assert_eq!(
        failed(crd(&obj)),
        "names not accepted: PluralConflict: \"httpproxies\" is already in use"
    );
}

#[test]
fn job_as_stored_is_pending_and_complete_job_is_ready() {
    assert_eq!(
        pending(job(&recorded("status-shapes/job.1-as-stored.json"))),
        "not complete: 0 active, 0 succeeded, 0 failed pods"
    );
    assert_eq!(
        job(&recorded("status-shapes/job.3-ready.json")),
        Readiness::Ready
    );
}

#[test]
fn job_with_failed_condition_fails_with_its_reason() {
    let obj = with(
        recorded("status-shapes/job.3-ready.json"),
        "/status/conditions",
        json!([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]),
    );
    assert_eq!(
        failed(job(&obj)),
        "Job failed: BackoffLimitExceeded: Job has reached the specified backoff limit"
    );
}

#[test]
fn deployment_as_stored_has_no_observed_generation_and_is_pending() {
    let why = pending(deployment(&recorded(
        "status-shapes/deployment.1-as-stored.json",
    )));
    assert_eq!(
        why,
        "controller has not seen generation 1 yet (observedGeneration unset)"
    );
}

#[test]
fn deployment_rolled_out_and_available_is_ready() {
    assert_eq!(
        deployment(&recorded("status-shapes/deployment.3-ready.json")),
        Readiness::Ready
    );
    // The re-apply response carries the same status: ready without another read.
    assert_eq!(
        deployment(&recorded(
            "status-shapes/deployment.4-reapply-after-ready.response.json"
        )),
        Readiness::Ready
    );
}

#[test]
fn deployment_status_of_an_older_generation_is_pending() {
    let obj = with(
        recorded("status-shapes/deployment.3-ready.json"),
        "/metadata/generation",
        json!(2),
    );
    assert_eq!(
        pending(deployment(&obj)),
        "controller has not seen generation 2 yet (observedGeneration 1)"
    );
}

#[test]
fn deployment_mid_rollout_is_pending_for_each_reason() {
    let ready = recorded("status-shapes/deployment.3-ready.json");
    let obj = with(ready.clone(), "/status/updatedReplicas", json!(1));
    assert_eq!(pending(deployment(&obj)), "1 of 2 replicas updated");
    let obj = with(ready.clone(), "/status/replicas", json!(3));
    assert_eq!(
        pending(deployment(&obj)),
        "1 old replicas pending termination"
    );
    let obj = with(ready, "/status/availableReplicas", json!(1));
    assert_eq!(
        pending(deployment(&obj)),
        "1 of 2 updated replicas available"
    );
}

#[test]
fn daemonset_as_stored_is_pending() {
    let obj = recorded("status-shapes/daemonset.1-as-stored.json");
    assert!(obj["status"].get("observedGeneration").is_none());
    assert!(pending(daemonset(&obj)).starts_with("controller has not seen generation 1"));
}

#[test]
fn daemonset_with_every_scheduled_pod_updated_and_ready_is_ready() {
    assert_eq!(
        daemonset(&recorded("status-shapes/daemonset.3-ready.json")),
        Readiness::Ready
    );
}

#[test]
fn daemonset_scheduled_on_no_node_is_not_ready() {
    let ready = recorded("status-shapes/daemonset.3-ready.json");
    let mut obj = ready.clone();
    for f in [
        "desiredNumberScheduled",
        "currentNumberScheduled",
        "numberReady",
        "updatedNumberScheduled",
        "numberAvailable",
    ] {
        obj["status"][f] = json!(0);
    }
    assert_eq!(
        pending(daemonset(&obj)),
        "no node is scheduled to run it (desiredNumberScheduled 0)"
    );
    let obj = with(ready.clone(), "/status/numberReady", json!(0));
    assert_eq!(pending(daemonset(&obj)), "0 of 1 scheduled pods ready");
    let obj = with(ready, "/status/updatedNumberScheduled", json!(0));
    assert_eq!(pending(daemonset(&obj)), "0 of 1 scheduled pods updated");
}

#[test]
fn httpproxy_with_the_crd_default_status_is_pending() {
    let obj = recorded("tls-httpproxy/02-httpproxy-veba01.response.json");
    assert_eq!(
        pending(httpproxy(&obj)),
        "Contour has not processed generation 1 yet (NotReconciled: Waiting for controller)"
    );
}

#[test]
fn httpproxy_valid_at_current_generation_is_ready() {
    assert_eq!(
        httpproxy(&recorded(
            "tls-httpproxy/06-httpproxy-veba01.get-valid.json"
        )),
        Readiness::Ready
    );
    assert_eq!(
        httpproxy(&recorded(
            "tls-httpproxy/08-httpproxy-veba01.reapply-after-status.response.json"
        )),
        Readiness::Ready
    );
}

#[test]
fn httpproxy_valid_for_an_older_generation_is_pending() {
    let obj = with(
        recorded("tls-httpproxy/06-httpproxy-veba01.get-valid.json"),
        "/metadata/generation",
        json!(2),
    );
    assert!(
        pending(httpproxy(&obj)).starts_with("Contour has not processed generation 2 yet (valid")
    );
}

#[test]
fn httpproxy_invalid_fails_quoting_contours_description_and_errors() {
    let mut obj = recorded("tls-httpproxy/06-httpproxy-veba01.get-valid.json");
    obj["status"]["currentStatus"] = json!("invalid");
    obj["status"]["description"] = json!("At least one error present, see Errors for details");
    obj["status"]["conditions"][0]["status"] = json!("False");
    obj["status"]["conditions"][0]["errors"] = json!([{
        "type": "TLSError", "status": "True", "reason": "SecretNotValid",
        "message": "Spec.VirtualHost.TLS Secret \"projectcontour/veba01-tls\" is invalid: Secret not found"
    }]);
    assert_eq!(
        failed(httpproxy(&obj)),
        "Contour says invalid: At least one error present, see Errors for details; \
         SecretNotValid: Spec.VirtualHost.TLS Secret \"projectcontour/veba01-tls\" is invalid: Secret not found"
    );
}

#[test]
fn dispatch_by_kind_and_which_kinds_are_waited_for() {
    let r = |api_version: &str, kind: &str| ObjectRef {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: None,
        name: "x".into(),
    };
    let as_stored = recorded("status-shapes/deployment.1-as-stored.json");
    assert!(matches!(
        readiness(&r("apps/v1", "Deployment"), &as_stored),
        Readiness::Pending(_)
    ));
    // A Service (even type LoadBalancer with no ingress) is done once accepted.
    let svc = recorded("apply-contour/18-service-envoy.response.json");
    assert_eq!(readiness(&r("v1", "Service"), &svc), Readiness::Ready);
    assert!(!waits_for(&r("v1", "Service")));
    assert!(!waits_for(&r("v1", "Secret")));
    for (v, k) in [
        ("batch/v1", "Job"),
        ("apps/v1", "DaemonSet"),
        ("projectcontour.io/v1", "HTTPProxy"),
    ] {
        assert!(waits_for(&r(v, k)), "{k}");
    }
}

#[test]
fn an_orphaned_child_proxy_is_pending_until_its_root_includes_it() {
    let proxy = serde_json::json!({
        "metadata": {"generation": 1},
        "status": {
            "currentStatus": "orphaned",
            "description": "this HTTPProxy is not part of a delegation chain from a root HTTPProxy",
            "conditions": [{"type": "Valid", "status": "False", "observedGeneration": 1}]
        }
    });
    match httpproxy(&proxy) {
        Readiness::Pending(why) => assert!(why.contains("orphaned"), "{why}"),
        other => panic!("expected pending, got {other:?}"),
    }
}

fn invalid_proxy(errors: serde_json::Value) -> Value {
    serde_json::json!({
        "metadata": {"generation": 2},
        "status": {
            "currentStatus": "invalid",
            "description": "At least one error present, see Errors for details",
            "conditions": [{"type": "Valid", "status": "False", "observedGeneration": 2, "errors": errors}]
        }
    })
}

#[test]
fn a_proxy_routing_to_a_service_not_created_yet_is_pending() {
    // Contour's own wording (internal/dag/httpproxy_processor.go).
    let proxy = invalid_proxy(serde_json::json!([{
        "type": "ServiceError", "reason": "ServiceUnresolvedReference",
        "message": "Spec.Routes unresolved service reference: service \"ovaboot/status\" not found"
    }]));
    match httpproxy(&proxy) {
        Readiness::Pending(why) => assert!(why.contains("ovaboot/status"), "{why}"),
        other => panic!("expected pending, got {other:?}"),
    }
}

#[test]
fn a_proxy_with_any_other_error_fails() {
    let proxy = invalid_proxy(serde_json::json!([
        {"type": "ServiceError", "reason": "ServiceUnresolvedReference",
         "message": "Spec.Routes unresolved service reference: service \"ovaboot/status\" not found"},
        {"type": "TLSError", "reason": "SecretNotValid",
         "message": "Spec.VirtualHost.TLS Secret \"ovaboot/ovaboot-tls\" is invalid"}
    ]));
    match httpproxy(&proxy) {
        Readiness::Failed(why) => assert!(why.contains("SecretNotValid"), "{why}"),
        other => panic!("expected failed, got {other:?}"),
    }
}

#[test]
fn a_proxy_routing_to_a_wrong_port_of_an_existing_service_fails() {
    // Same reason as a missing Service, but no waiting will fix a wrong port.
    let proxy = invalid_proxy(serde_json::json!([{
        "type": "ServiceError", "reason": "ServiceUnresolvedReference",
        "message": "Spec.Routes unresolved service reference: port \"8080\" on service \"ovaboot/status\" not matched"
    }]));
    match httpproxy(&proxy) {
        Readiness::Failed(why) => assert!(why.contains("not matched"), "{why}"),
        other => panic!("expected failed, got {other:?}"),
    }
}

#[test]
fn one_rule_per_kind_each_with_its_deadline() {
    let r = |v: &str, k: &str| ObjectRef {
        api_version: v.into(),
        kind: k.into(),
        namespace: None,
        name: "x".into(),
    };
    for (i, a) in RULES.iter().enumerate() {
        assert!(
            RULES[i + 1..]
                .iter()
                .all(|b| (a.api_version, a.kind) != (b.api_version, b.kind)),
            "{} {} twice",
            a.api_version,
            a.kind
        );
    }
    let deadline = |v, k| rule(&r(v, k)).map(|rule| rule.deadline);
    assert_eq!(
        deadline("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        Some(Deadline::CrdEstablished)
    );
    assert_eq!(
        deadline("apps/v1", "Deployment"),
        Some(Deadline::WorkloadReady)
    );
    assert_eq!(
        deadline("projectcontour.io/v1", "HTTPProxy"),
        Some(Deadline::HttpProxyValid)
    );
    // The version is part of the key: another version of a kind has no rule.
    assert_eq!(deadline("apps/v1beta2", "Deployment"), None);
}

fn extension(generation: i64, valid: serde_json::Value) -> Value {
    json!({
        "apiVersion": "projectcontour.io/v1alpha1",
        "kind": "ExtensionService",
        "metadata": {"name": "htpasswd", "namespace": "projectcontour-auth", "generation": generation},
        "status": {"conditions": [valid]},
    })
}

#[test]
fn an_extension_service_is_ready_when_valid_at_its_generation() {
    let valid = json!({"type": "Valid", "status": "True", "observedGeneration": 2, "reason": "Valid", "message": "Valid ExtensionService"});
    assert_eq!(
        extension_service(&extension(2, valid.clone())),
        Readiness::Ready
    );
    assert!(matches!(
        extension_service(&extension(3, valid)),
        Readiness::Pending(why) if why.contains("generation 3")
    ));
    let no_status = json!({"metadata": {"name": "htpasswd", "generation": 1}});
    assert!(matches!(
        extension_service(&no_status),
        Readiness::Pending(_)
    ));
    assert_eq!(
        rule(&ObjectRef {
            api_version: "projectcontour.io/v1alpha1".into(),
            kind: "ExtensionService".into(),
            namespace: Some("projectcontour-auth".into()),
            name: "htpasswd".into(),
        })
        .map(|r| r.deadline),
        Some(Deadline::HttpProxyValid)
    );
}

#[test]
fn an_invalid_extension_service_fails_unless_its_service_is_only_missing() {
    let invalid = |errors: serde_json::Value| {
        extension(
            1,
            json!({"type": "Valid", "status": "False", "observedGeneration": 1, "reason": "ErrorPresent", "message": "At least one error present, see Errors for details", "errors": errors}),
        )
    };
    let missing = invalid(
        json!([{"type": "ServiceError", "reason": "ServiceUnresolvedReference", "message": "unresolved service \"projectcontour-auth/htpasswd\": service \"projectcontour-auth/htpasswd\" not found"}]),
    );
    assert!(matches!(extension_service(&missing), Readiness::Pending(_)));
    let bad_ca = invalid(
        json!([{"type": "SpecError", "reason": "CACertificateNotFound", "message": "secret not found"}]),
    );
    assert!(matches!(
        extension_service(&bad_ca),
        Readiness::Failed(why) if why.contains("CACertificateNotFound")
    ));
}
