//! The recorded Contour v1.33.6 release + TLS Secret + HTTPProxy, as a plan and as
//! the exact request scripts that applying it must produce (pass 1 and re-run).

use serde_json::Value;

use super::{Exchange, index_entry, recorded, recordings};

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

/// Apply order: the Namespace, the CRDs, then everything else in plan order.
fn phases() -> (Vec<String>, Vec<String>) {
    let stems = manifest_stems();
    let crds = stems.iter().filter(|s| is_crd(s)).cloned().collect();
    let mut rest: Vec<String> = stems
        .into_iter()
        .filter(|s| !is_crd(s) && s != NAMESPACE)
        .collect();
    rest.extend([SECRET.to_owned(), HTTPPROXY.to_owned()]);
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

/// A recorded 404 Status for a GET of an object that does not exist.
fn missing(stem: &str) -> &'static str {
    if is_crd(stem) {
        "errors/f-404-get-missing-crd.response.json"
    } else if stem == HTTPPROXY {
        "errors/f-404-get-missing-httpproxy.response.json"
    } else {
        "errors/f-404-get-missing-deployment.response.json"
    }
}

fn crd_status(stem: &str) -> String {
    let name = stem.split("-customresourcedefinition-").nth(1).unwrap();
    format!("crd-status/{name}.json")
}

/// Discovery of the group-versions the non-CRD objects use, in order of first use.
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

/// Pass 1 on an empty cluster: each object is read (404) and created (201); the CRDs
/// are read until Established; discovery; the rest; then status reads until ready.
pub fn first_apply_script() -> Vec<Exchange> {
    let (crds, rest) = phases();
    let mut s = Vec::new();
    for stem in std::iter::once(&NAMESPACE.to_owned()).chain(&crds) {
        s.push(Exchange::read_meta(&object_path(stem), missing(stem)));
        s.push(Exchange::recorded(&format!("{stem}.response.json")));
    }
    // The 201 answers carry `conditions: null`; one poll later they are Established.
    s.extend(crds.iter().map(|c| Exchange::recorded(&crd_status(c))));
    s.extend(discovery());
    for stem in &rest {
        s.push(Exchange::read_meta(&object_path(stem), missing(stem)));
        s.push(Exchange::recorded(&format!("{stem}.response.json")));
    }
    // First poll: Job and DaemonSet ready, the Deployment and HTTPProxy not yet.
    s.push(Exchange::recorded("status-shapes/job.3-ready.json"));
    s.push(Exchange::recorded(
        "status-shapes/deployment.1-as-stored.json",
    ));
    s.push(Exchange::recorded("status-shapes/daemonset.3-ready.json"));
    s.push(Exchange::recorded(
        "tls-httpproxy/04-httpproxy-veba01.get-before-status.json",
    ));
    // Second poll: only those two are read again.
    s.push(Exchange::recorded("status-shapes/deployment.3-ready.json"));
    s.push(Exchange::recorded(
        "tls-httpproxy/06-httpproxy-veba01.get-valid.json",
    ));
    s
}

/// Pass 2, identical bodies: each read returns the stored object, each apply 200.
pub fn reapply_script() -> Vec<Exchange> {
    let (crds, rest) = phases();
    let mut s = Vec::new();
    s.push(Exchange::read_meta(
        &object_path(NAMESPACE),
        &format!("{NAMESPACE}.response.json"),
    ));
    s.push(Exchange::recorded(&format!(
        "{NAMESPACE}.reapply.response.json"
    )));
    for stem in &crds {
        // Stored = after the API server's own controllers wrote the CRD status.
        s.push(Exchange::read_meta(&object_path(stem), &crd_status(stem)));
        s.push(Exchange::recorded(&format!("{stem}.reapply.response.json")));
    }
    // The re-apply answers are Established already: no CRD status reads.
    s.extend(discovery());
    for stem in &rest {
        s.push(Exchange::read_meta(
            &object_path(stem),
            &format!("{stem}.response.json"),
        ));
        if stem == SECRET {
            // No re-apply of the Secret was recorded; the server answers 200 with the
            // stored object (the recorded GET of it).
            let mut x = Exchange::recorded(&format!("{SECRET}.response.json"));
            x.reply = Exchange::recorded("tls-httpproxy/07-secret-veba01-tls.get.json").reply;
            s.push(x);
        } else if stem == HTTPPROXY {
            s.push(Exchange::recorded(
                "tls-httpproxy/03-httpproxy-veba01.reapply.response.json",
            ));
        } else {
            s.push(Exchange::recorded(&format!("{stem}.reapply.response.json")));
        }
    }
    s.push(Exchange::recorded("status-shapes/job.3-ready.json"));
    s.push(Exchange::recorded("status-shapes/deployment.3-ready.json"));
    s.push(Exchange::recorded("status-shapes/daemonset.3-ready.json"));
    s.push(Exchange::recorded(
        "tls-httpproxy/06-httpproxy-veba01.get-valid.json",
    ));
    s
}
