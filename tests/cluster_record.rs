//! The apply record (`kube-system/ovaboot-applied`), replayed: every request
//! asserted. The recorded Contour Namespace and HTTPProxy CRD are the plan; the
//! record and the CRD's live metadata are small answers made here. Replay only:
//! against a real cluster see tests/controlplane_record.rs.

mod cluster_support;

use cluster_support::{APPLY_CONTENT_TYPE, APPLY_QUERY, Exchange, Reply, TestCluster, recorded};
use ovaboot::cluster::{ApplyOptions, ApplySummary, Outcome, apply_plan};
use serde_json::{Value, json};

const NAMESPACE: &str = "apply-contour/00-namespace-projectcontour";
const CRD: &str = "apply-contour/07-customresourcedefinition-httpproxies.projectcontour.io";
const RECORD_PATH: &str = "/api/v1/namespaces/kube-system/configmaps/ovaboot-applied";
/// The recorded API server's gitVersion (discovery/before-crds/version.json).
const SERVER: &str = "v1.32.13";
const CRDS: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const METADATA_LIST: &str = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

fn replay_only() -> bool {
    let real = std::env::var_os("OVABOOT_TEST_KUBECONFIG").is_some();
    if real {
        eprintln!("skipped: replay only (tests/controlplane_record.rs runs against a cluster)");
    }
    !real
}

fn options() -> ApplyOptions {
    ApplyOptions {
        record: true,
        ..ApplyOptions::default()
    }
}

fn plan() -> Vec<Value> {
    [NAMESPACE, CRD]
        .iter()
        .map(|s| recorded(&format!("{s}.request.json")))
        .collect()
}

/// The CRD as a re-apply answered it (Established): its UID and resourceVersion.
fn live() -> (String, String) {
    let m = &recorded(&format!("{CRD}.reapply.response.json"))["metadata"];
    (
        m["uid"].as_str().unwrap().to_owned(),
        m["resourceVersion"].as_str().unwrap().to_owned(),
    )
}

/// sha256 of the JSON bytes ovaboot sends for the CRD (serde_json, keys sorted).
fn crd_digest() -> String {
    let body = serde_json::to_vec(&recorded(&format!("{CRD}.request.json"))).unwrap();
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &body);
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The record's text with one entry for the CRD, as ovaboot writes it.
fn record_text(server: &str, uid: &str, rv: &str, digest: &str) -> String {
    format!(
        r#"{{"format":1,"serverVersion":"{server}","appliedBy":"ovaboot {}","objects":[{{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","name":"httpproxies.projectcontour.io","uid":"{uid}","resourceVersion":"{rv}","digest":"{digest}"}}]}}"#,
        env!("CARGO_PKG_VERSION")
    )
}

fn get(path: &str, accept: Option<&str>, status: u16, body: String) -> Exchange {
    Exchange {
        method: "GET".into(),
        path: path.into(),
        content_type: None,
        accept: accept.map(str::to_owned),
        body: None,
        reply: Reply::Http {
            status,
            content_type: "application/json".into(),
            headers: Vec::new(),
            body,
        },
    }
}

/// The record read: 404, or a ConfigMap holding `text`.
fn record_read(text: Option<&str>) -> Exchange {
    match text {
        None => get(
            RECORD_PATH,
            None,
            404,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                   "message": "configmaps \"ovaboot-applied\" not found",
                   "reason": "NotFound", "code": 404})
            .to_string(),
        ),
        Some(text) => get(
            RECORD_PATH,
            None,
            200,
            json!({"kind": "ConfigMap", "apiVersion": "v1",
                   "metadata": {"name": "ovaboot-applied", "namespace": "kube-system",
                                "uid": "0b5e1f6c-0000-4000-8000-000000000001",
                                "resourceVersion": "900"},
                   "data": {"record.json": text}})
            .to_string(),
        ),
    }
}

/// The CRDs' live metadata (the HTTPProxy CRD at `live`, or none), as a
/// metadata-only LIST answers it.
fn crds_listed(live: Option<(&str, &str)>) -> Exchange {
    let items: Vec<Value> = live
        .into_iter()
        .map(|(uid, rv)| {
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                   "metadata": {"name": "httpproxies.projectcontour.io", "uid": uid,
                                "resourceVersion": rv, "generation": 1}})
        })
        .collect();
    get(
        CRDS,
        Some(METADATA_LIST),
        200,
        json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
               "metadata": {"resourceVersion": "2772"}, "items": items})
        .to_string(),
    )
}

/// The record written with `text` (server-side apply of the ConfigMap).
fn record_write(text: &str) -> Exchange {
    Exchange {
        method: "PATCH".into(),
        path: format!("{RECORD_PATH}{APPLY_QUERY}"),
        content_type: Some(APPLY_CONTENT_TYPE.into()),
        accept: Some("application/json".into()),
        body: Some(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "ovaboot-applied", "namespace": "kube-system",
                         "labels": {"app.kubernetes.io/managed-by": "ovaboot"}},
            "data": {"record.json": text},
        })),
        reply: Reply::Http {
            status: 200,
            content_type: "application/json".into(),
            headers: Vec::new(),
            body: json!({"kind": "ConfigMap", "apiVersion": "v1",
                         "metadata": {"name": "ovaboot-applied", "namespace": "kube-system"},
                         "data": {"record.json": text}})
            .to_string(),
        },
    }
}

/// The Namespace applied while the record, the server's version and the CRDs'
/// metadata (the HTTPProxy CRD at `live`) are read.
fn first_stage(record: Option<&str>, live: Option<(&str, &str)>) -> Vec<Exchange> {
    vec![
        Exchange::recorded(&format!("{NAMESPACE}.reapply.response.json")),
        Exchange::recorded("discovery/before-crds/version.json"),
        record_read(record),
        crds_listed(live),
    ]
}

fn crd_outcome(summary: &ApplySummary) -> &ovaboot::cluster::ObjectOutcome {
    summary
        .get("CustomResourceDefinition", "httpproxies.projectcontour.io")
        .unwrap()
}

/// Runs the plan against `stages` (stage 0 answered only once all of it is in
/// flight: the record is read while the Namespace is applied).
async fn run(stages: Vec<Vec<Exchange>>) -> ApplySummary {
    let mut tc = TestCluster::staged_together(stages, &[0]).await;
    let summary = apply_plan(tc.client(), &plan(), &options()).await;
    let summary = tc.ok(summary).await;
    tc.finish().await;
    summary
}

/// The CRD applied (Established as answered) and then recorded with `write`.
fn applied_then_recorded(read: Option<&str>) -> Vec<Vec<Exchange>> {
    let (uid, rv) = live();
    vec![
        first_stage(read, Some((&uid, &rv))),
        vec![Exchange::recorded(&format!("{CRD}.reapply.response.json"))],
        vec![record_write(&record_text(SERVER, &uid, &rv, &crd_digest()))],
    ]
}

#[tokio::test]
async fn without_a_record_everything_is_applied_and_the_ready_crd_recorded() {
    if !replay_only() {
        return;
    }
    let summary = run(applied_then_recorded(None)).await;
    assert_eq!((summary.skipped, summary.unchanged), (0, 2));
    assert!(!crd_outcome(&summary).skipped);
}

#[tokio::test]
async fn a_record_that_matches_the_live_crd_and_the_plan_skips_its_apply() {
    if !replay_only() {
        return;
    }
    let (uid, rv) = live();
    let text = record_text(SERVER, &uid, &rv, &crd_digest());
    // No apply of the CRD, no wait, and the record is not written again (it is the same).
    let summary = run(vec![first_stage(Some(&text), Some((&uid, &rv)))]).await;
    let crd = crd_outcome(&summary);
    assert_eq!(crd.outcome, Outcome::Unchanged);
    assert!(crd.skipped);
    assert_eq!(crd.generation, Some(1));
    assert_eq!(crd.resource_version.as_deref(), Some(rv.as_str()));
    assert_eq!((summary.skipped, summary.unchanged), (1, 2));
    assert!(
        summary
            .to_string()
            .contains("2 unchanged (1 of them not sent: "),
        "{summary}"
    );
}

/// A record that differs from the live CRD in UID or resourceVersion: applied, re-recorded.
async fn changed_since(recorded_uid: &str, recorded_rv: &str) {
    let stale = record_text(SERVER, recorded_uid, recorded_rv, &crd_digest());
    let summary = run(applied_then_recorded(Some(&stale))).await;
    assert!(!crd_outcome(&summary).skipped);
    assert_eq!(summary.skipped, 0);
}

#[tokio::test]
async fn a_crd_changed_since_it_was_recorded_is_applied_and_recorded_again() {
    if !replay_only() {
        return;
    }
    // Anyone's write (a label, an edit, a status) gave it a new resourceVersion.
    let (uid, rv) = live();
    changed_since(&uid, &format!("{}", rv.parse::<u64>().unwrap() - 1)).await;
}

#[tokio::test]
async fn a_crd_deleted_and_made_again_is_applied_and_recorded_again() {
    if !replay_only() {
        return;
    }
    // Same name and (after a wiped cluster) possibly the same version: another UID.
    let (_, rv) = live();
    changed_since("5d0f4c1e-0000-4000-8000-00000000dead", &rv).await;
}

#[tokio::test]
async fn a_crd_planned_with_another_body_is_applied() {
    if !replay_only() {
        return;
    }
    let (uid, rv) = live();
    // Not skipped, though the live CRD is at the recorded UID and version.
    let other = format!("sha256:{}", "0".repeat(64));
    let record = record_text(SERVER, &uid, &rv, &other);
    run(applied_then_recorded(Some(&record))).await;
}

#[tokio::test]
async fn a_record_made_on_another_server_version_is_not_used_and_replaced() {
    if !replay_only() {
        return;
    }
    let (uid, rv) = live();
    let record = record_text("v1.31.4", &uid, &rv, &crd_digest());
    run(applied_then_recorded(Some(&record))).await;
}

#[tokio::test]
async fn a_garbled_record_is_replaced_and_everything_applied() {
    if !replay_only() {
        return;
    }
    run(applied_then_recorded(Some("{\"format\":1,"))).await;
}

#[tokio::test]
async fn a_crd_not_established_as_answered_is_applied_and_waited_for_but_not_recorded() {
    if !replay_only() {
        return;
    }
    let created = format!("{CRD}.response.json");
    let rv = cluster_support::contour::resource_version(&created);
    // Record absent, CRD created (201, no conditions yet), watched until Established:
    // no entry (it was not ready as answered), and no record to write.
    run(vec![
        first_stage(None, None),
        vec![Exchange::recorded(&created)],
        vec![cluster_support::contour::watch(
            CRD,
            &rv,
            cluster_support::contour::CRD_WATCH_SECS,
            cluster_support::recorded_text("watch/crd-httpproxies.watch.jsonl"),
        )],
    ])
    .await;
}

#[tokio::test]
async fn a_record_the_user_may_not_read_or_write_fails_nothing() {
    if !replay_only() {
        return;
    }
    let forbidden = |x: Exchange| {
        let mut x = x;
        x.reply = Reply::Http {
            status: 403,
            content_type: "application/json".into(),
            headers: Vec::new(),
            body: json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                         "message": "configmaps \"ovaboot-applied\" is forbidden",
                         "reason": "Forbidden", "code": 403})
            .to_string(),
        };
        x
    };
    let (uid, rv) = live();
    let mut stages = applied_then_recorded(None);
    stages[0][2] = forbidden(stages[0][2].clone());
    // Written, refused (a warning), and the run still succeeds.
    stages[2][0] = forbidden(record_write(&record_text(SERVER, &uid, &rv, &crd_digest())));
    let summary = run(stages).await;
    assert_eq!((summary.skipped, summary.unchanged), (0, 2));
}

#[tokio::test]
async fn a_record_read_failing_transiently_is_retried_like_any_request() {
    if !replay_only() {
        return;
    }
    let mut stages = applied_then_recorded(None);
    let mut unavailable = record_read(None);
    unavailable.reply = Reply::Http {
        status: 503,
        content_type: "application/json".into(),
        headers: Vec::new(),
        body: cluster_support::fixture("503-apiserver-not-ready.json"),
    };
    stages[0][2] = unavailable;
    // The retry, after its backoff, before any CRD is applied.
    stages.insert(1, vec![record_read(None)]);
    run(stages).await;
}
