//! The recorded Contour v1.33.6 release + TLS Secret + HTTPProxy, as a plan and as
//! the exact request scripts that applying it must produce (pass 1 and re-run).

use serde_json::Value;

use super::{Exchange, event, index_entry, recorded, recorded_text, recordings};

pub const SECRET: &str = "tls-httpproxy/01-secret-veba01-tls";
pub const HTTPPROXY: &str = "tls-httpproxy/02-httpproxy-veba01";
const NAMESPACE: &str = "apply-contour/00-namespace-projectcontour";

/// `apply-contour/NN-...` stems (without `.request.json`) in file order.
fn manifest_stems() -> Vec<String> {
    let mut stems: Vec<String> = std::fs::read_dir(recordings().join("apply-contour"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|f| {
            f.strip_suffix(".request.json")
                .map(|s| format!("apply-contour/{s}"))
        })
        .collect();
    stems.sort();
    assert_eq!(
        stems.len(),
        21,
        "the recorded Contour release has 21 documents"
    );
    stems
}

fn is_crd(stem: &str) -> bool {
    stem.contains("-customresourcedefinition-")
}

/// The CRDs, and everything else but the Namespace, each in plan order (the Secret
/// is a stage of its own before the rest, the HTTPProxy one after it).
fn phases() -> (Vec<String>, Vec<String>) {
    let stems = manifest_stems();
    let crds = stems.iter().filter(|s| is_crd(s)).cloned().collect();
    let rest: Vec<String> = stems
        .into_iter()
        .filter(|s| !is_crd(s) && s != NAMESPACE)
        .collect();
    (crds, rest)
}

/// The plan: the 21 manifest documents in file order, then the Secret, then the HTTPProxy.
pub fn plan() -> Vec<Value> {
    let mut stems = manifest_stems();
    stems.extend([SECRET.to_owned(), HTTPPROXY.to_owned()]);
    stems
        .iter()
        .map(|s| recorded(&format!("{s}.request.json")))
        .collect()
}

/// The object URL the recording applied `stem` at (its PATCH path without the query).
pub fn object_path(stem: &str) -> String {
    let e = index_entry(&format!("{stem}.response.json"));
    e["path"]
        .as_str()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

fn crd_status(stem: &str) -> String {
    let name = stem.split("-customresourcedefinition-").nth(1).unwrap();
    format!("crd-status/{name}.json")
}

/// Discovery of the group-versions the non-CRD objects use: one stage (concurrent).
fn discovery() -> Vec<Exchange> {
    [
        "api-v1",
        "apis-rbac.authorization.k8s.io-v1",
        "apis-batch-v1",
        "apis-apps-v1",
        "apis-projectcontour.io-v1",
    ]
    .iter()
    .map(|f| Exchange::recorded(&format!("discovery/after-crds/{f}.json")))
    .collect()
}

/// The resourceVersion of a recorded object.
pub fn resource_version(file: &str) -> String {
    recorded(file)["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The watch of `stem`'s object from `version` for `secs`, answered with `stream`.
pub fn watch(stem: &str, version: &str, secs: u64, stream: String) -> Exchange {
    let path = object_path(stem);
    let (collection, name) = path.rsplit_once('/').unwrap();
    Exchange::watch(collection, name, version, secs, stream)
}

/// Seconds a watch asks for under the default deadlines (`timeoutSeconds`, at most 290).
pub const CRD_WATCH_SECS: u64 = 60;
pub const WORKLOAD_WATCH_SECS: u64 = 290;
pub const HTTPPROXY_WATCH_SECS: u64 = 180;

/// How a CRD becomes Established on a watch: the recorded stream for httpproxies,
/// the recorded Established object as a MODIFIED event for the others.
fn crd_established(stem: &str) -> String {
    if stem.ends_with("httpproxies.projectcontour.io") {
        recorded_text("watch/crd-httpproxies.watch.jsonl")
    } else {
        event("MODIFIED", &recorded(&crd_status(stem)))
    }
}

fn applied(stems: &[String], answer: &str) -> Vec<Exchange> {
    stems
        .iter()
        .map(|s| Exchange::recorded(&format!("{s}.{answer}.json")))
        .collect()
}

const JOB: &str = "apply-contour/12-job-contour-certgen-v1-33-6";
const DEPLOYMENT: &str = "apply-contour/19-deployment-contour";
const DAEMONSET: &str = "apply-contour/20-daemonset-envoy";

/// The workloads' watches from `answer`'s resourceVersions, each answered with the
/// recorded stream that carries its ready status.
fn workload_watches(answer: &str) -> Vec<Exchange> {
    let rv = |stem: &str| resource_version(&format!("{stem}.{answer}.json"));
    let stream = |kind: &str| recorded_text(&format!("status-shapes/{kind}.watch.1-stream.jsonl"));
    vec![
        watch(JOB, &rv(JOB), WORKLOAD_WATCH_SECS, stream("job")),
        watch(
            DAEMONSET,
            &rv(DAEMONSET),
            WORKLOAD_WATCH_SECS,
            stream("daemonset"),
        ),
    ]
}

/// Pass 1 on an empty cluster, stage by stage: each object is created (201) with one
/// request; the CRDs are watched until Established; discovery; the Secret; the rest;
/// the HTTPProxy; then every workload and the HTTPProxy are watched until ready.
pub fn first_apply_stages() -> Vec<Vec<Exchange>> {
    let (crds, rest) = phases();
    let mut s = vec![
        vec![Exchange::recorded(&format!("{NAMESPACE}.response.json"))],
        applied(&crds, "response"),
        // The 201 answers carry `conditions: null`; the watches bring Established.
        crds.iter()
            .map(|c| {
                let rv = resource_version(&format!("{c}.response.json"));
                watch(c, &rv, CRD_WATCH_SECS, crd_established(c))
            })
            .collect(),
    ];
    s.push(discovery());
    // The Secrets before the workloads that mount them.
    s.push(vec![Exchange::recorded(&format!("{SECRET}.response.json"))]);
    s.push(applied(&rest, "response"));
    s.push(vec![Exchange::recorded(&format!(
        "{HTTPPROXY}.response.json"
    ))]);
    let mut waits = workload_watches("response");
    let deployment_rv = resource_version(&format!("{DEPLOYMENT}.response.json"));
    // The Deployment's first watch sees nothing change but a bookmark (rv 272) before
    // the server closes it; the next, from the bookmark, brings the ready status.
    waits.push(watch(
        DEPLOYMENT,
        &deployment_rv,
        WORKLOAD_WATCH_SECS,
        recorded_text("watch/deployment-contour.watch-no-changes-bookmark.jsonl"),
    ));
    waits.push(watch(
        DEPLOYMENT,
        "272",
        WORKLOAD_WATCH_SECS,
        recorded_text("status-shapes/deployment.watch.1-stream.jsonl"),
    ));
    // The HTTPProxy: Contour's first status, then valid.
    waits.push(watch(
        HTTPPROXY,
        &resource_version(&format!("{HTTPPROXY}.response.json")),
        HTTPPROXY_WATCH_SECS,
        event(
            "MODIFIED",
            &recorded("tls-httpproxy/04-httpproxy-veba01.get-before-status.json"),
        ) + &event(
            "MODIFIED",
            &recorded("tls-httpproxy/06-httpproxy-veba01.get-valid.json"),
        ),
    ));
    s.push(waits);
    s
}

/// Pass 2, identical bodies: each apply answers 200 with the stored object.
pub fn reapply_stages() -> Vec<Vec<Exchange>> {
    let (crds, rest) = phases();
    // The re-apply answers of the CRDs are Established already: no watches.
    let mut s = vec![
        vec![Exchange::recorded(&format!(
            "{NAMESPACE}.reapply.response.json"
        ))],
        applied(&crds, "reapply.response"),
    ];
    s.push(discovery());
    // No re-apply of the Secret was recorded; the server answers 200 with the
    // stored object (the recorded GET of it).
    let mut secret = Exchange::recorded(&format!("{SECRET}.response.json"));
    secret.reply = Exchange::recorded("tls-httpproxy/07-secret-veba01-tls.get.json").reply;
    s.push(vec![secret]);
    s.push(applied(&rest, "reapply.response"));
    s.push(vec![Exchange::recorded(
        "tls-httpproxy/03-httpproxy-veba01.reapply.response.json",
    )]);
    let mut waits = workload_watches("reapply.response");
    waits.push(watch(
        DEPLOYMENT,
        &resource_version(&format!("{DEPLOYMENT}.reapply.response.json")),
        WORKLOAD_WATCH_SECS,
        recorded_text("status-shapes/deployment.watch.1-stream.jsonl"),
    ));
    waits.push(watch(
        HTTPPROXY,
        &resource_version("tls-httpproxy/03-httpproxy-veba01.reapply.response.json"),
        HTTPPROXY_WATCH_SECS,
        event(
            "MODIFIED",
            &recorded("tls-httpproxy/06-httpproxy-veba01.get-valid.json"),
        ),
    ));
    s.push(waits);
    s
}
