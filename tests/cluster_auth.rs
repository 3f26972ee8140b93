//! The auth server's ExtensionService in the apply order, replayed: no
//! recording holds an ExtensionService, so the API server's answers are made
//! here and what is asserted is the exact sequence of requests ovaboot
//! sends: its CA Secret and Service first, then the
//! ExtensionService, then a watch of it until Contour calls it valid, and
//! only then the HTTPProxy that names it. (Against a real cluster, see
//! tests/controlplane_auth.rs.)

mod cluster_support;

use serde_json::{Value, json};

use cluster_support::contour::HTTPPROXY_WATCH_SECS;
use cluster_support::{APPLY_CONTENT_TYPE, APPLY_QUERY, Exchange, Reply, TestCluster, event};
use ovaboot::cluster::{ApplyOptions, apply_plan};

const NS: &str = "projectcontour-auth";

fn meta(name: &str, namespace: &str) -> Value {
    json!({"name": name, "namespace": namespace})
}

fn plan() -> Vec<Value> {
    vec![
        json!({"apiVersion": "projectcontour.io/v1", "kind": "HTTPProxy", "metadata": meta("ovaboot", "ovaboot"),
               "spec": {"virtualhost": {"fqdn": "veba01.lab.example.com", "tls": {"secretName": "ovaboot-tls"},
                 "authorization": {"extensionRef": {"name": "htpasswd", "namespace": NS}, "failOpen": false, "responseTimeout": "5s"}},
                 "routes": [{"services": [{"name": "status", "port": 80}]}]}}),
        json!({"apiVersion": "projectcontour.io/v1alpha1", "kind": "ExtensionService", "metadata": meta("htpasswd", NS),
               "spec": {"protocol": "h2", "services": [{"name": "htpasswd", "port": 9443}],
                 "validation": {"caSecret": "htpasswd-ca", "subjectName": "htpasswd.projectcontour-auth.svc"}}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta("htpasswd-ca", NS), "data": {"ca.crt": "LS0t"}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": meta("htpasswd", NS),
               "spec": {"ports": [{"name": "auth", "port": 9443}]}}),
    ]
}

/// The API server's 201 to the apply of `object`: the object, stored.
fn created(path: &str, object: &Value, status: Option<Value>) -> Exchange {
    let mut stored = object.clone();
    stored["metadata"]["resourceVersion"] = json!("100");
    stored["metadata"]["generation"] = json!(1);
    if let Some(status) = status {
        stored["status"] = status;
    }
    Exchange {
        method: "PATCH".into(),
        path: format!("{path}{APPLY_QUERY}"),
        content_type: Some(APPLY_CONTENT_TYPE.into()),
        accept: Some("application/json".into()),
        body: Some(object.clone()),
        reply: Reply::Http {
            status: 201,
            content_type: "application/json".into(),
            headers: Vec::new(),
            body: stored.to_string(),
        },
    }
}

#[tokio::test]
async fn the_extension_service_is_applied_after_its_secret_and_service_and_waited_valid_before_the_httpproxy()
 {
    if std::env::var_os("OVABOOT_TEST_KUBECONFIG").is_some() {
        // Made-up answers: replay only (the real order: controlplane_auth.rs).
        return;
    }
    let plan = plan();
    let extensions = format!("/apis/projectcontour.io/v1alpha1/namespaces/{NS}/extensionservices");
    let mut valid = plan[1].clone();
    valid["metadata"]["resourceVersion"] = json!("101");
    valid["metadata"]["generation"] = json!(1);
    valid["status"] = json!({"conditions": [{"type": "Valid", "status": "True", "observedGeneration": 1,
        "reason": "Valid", "message": "Valid ExtensionService"}]});
    let discovery = [
        "api-v1",
        "apis-projectcontour.io-v1alpha1",
        "apis-projectcontour.io-v1",
    ]
    .iter()
    .map(|f| Exchange::recorded(&format!("discovery/after-crds/{f}.json")))
    .collect();
    let tc = TestCluster::staged(vec![
        discovery,
        vec![created(
            &format!("/api/v1/namespaces/{NS}/secrets/htpasswd-ca"),
            &plan[2],
            None,
        )],
        vec![created(
            &format!("/api/v1/namespaces/{NS}/services/htpasswd"),
            &plan[3],
            None,
        )],
        // Contour has not seen it yet: no status in the apply's answer.
        vec![created(&format!("{extensions}/htpasswd"), &plan[1], None)],
        vec![Exchange::watch(
            &extensions,
            "htpasswd",
            "100",
            HTTPPROXY_WATCH_SECS,
            event("MODIFIED", &valid),
        )],
        vec![created(
            "/apis/projectcontour.io/v1/namespaces/ovaboot/httpproxies/ovaboot",
            &plan[0],
            None,
        )],
    ])
    .await;
    let options = ApplyOptions {
        wait: false,
        ..ApplyOptions::default()
    };
    let summary = apply_plan(tc.client(), &plan, &options).await.unwrap();
    assert_eq!(summary.created, 4);
    let seen = tc.finish().await;
    let order: Vec<String> = seen
        .iter()
        .filter(|s| !s.path.starts_with("/api/v1?") && s.path != "/api/v1")
        .map(|s| format!("{} {}", s.method, s.path.split('?').next().unwrap()))
        .filter(|s| !s.starts_with("GET /apis/projectcontour.io/v1") || s.contains("namespaces"))
        .collect();
    assert_eq!(
        order,
        [
            format!("PATCH /api/v1/namespaces/{NS}/secrets/htpasswd-ca"),
            format!("PATCH /api/v1/namespaces/{NS}/services/htpasswd"),
            format!("PATCH {extensions}/htpasswd"),
            format!("GET {extensions}"),
            "PATCH /apis/projectcontour.io/v1/namespaces/ovaboot/httpproxies/ovaboot".to_owned(),
        ]
    );
}
