//! An admission webhook or a proxy in front of the API server may quote a refused
//! Secret's data back. These scenarios answer the Secret's apply with such text
//! (a 422 Status, a 500 HTML-ish page) and check that neither the base64 `tls.key`
//! nor the PEM it decodes to reaches the error or the log, while the rest of the
//! server's message does. Fault injection: replay only.

mod cluster_support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cluster_support::{APPLY_CONTENT_TYPE, APPLY_QUERY, Exchange, Reply, TestCluster};
use ovaboot::cluster::{ApplyError, ApplyOptions, apply_plan};
use serde_json::{Value, json};

const PATH: &str = "/api/v1/namespaces/projectcontour/secrets/veba01-tls";

/// A TLS Secret with a fresh key and certificate; returns it, the key's base64 and PEM.
fn tls_secret() -> (Value, String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["veba01.example.com".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let pem = key.serialize_pem();
    let b64 = STANDARD.encode(&pem);
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "veba01-tls", "namespace": "projectcontour"},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": STANDARD.encode(cert.pem()), "tls.key": b64},
    });
    (secret, b64, pem)
}

/// Discovery, then the apply answered once per reply.
fn script(secret: &Value, replies: Vec<Reply>) -> Vec<Exchange> {
    let mut script = vec![Exchange::recorded("discovery/after-crds/api-v1.json")];
    for reply in replies {
        script.push(Exchange {
            method: "PATCH".into(),
            path: format!("{PATH}{APPLY_QUERY}"),
            content_type: Some(APPLY_CONTENT_TYPE.into()),
            accept: Some("application/json".into()),
            body: Some(secret.clone()),
            reply,
        });
    }
    script
}

fn http(status: u16, headers: &[(&str, &str)], content_type: &str, body: &str) -> Reply {
    Reply::Http {
        status,
        content_type: content_type.into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.into(),
    }
}

/// Fails if any 16-character run of `value` appears in `shown`.
fn assert_no_run_of(value: &str, shown: &str) {
    for run in value.as_bytes().windows(16) {
        let run = std::str::from_utf8(run).unwrap();
        assert!(!shown.contains(run), "{run:?} leaked into: {shown}");
    }
}

/// Log lines written while the guard lives (the runtime is single-threaded).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn install(&self) -> tracing::dispatcher::DefaultGuard {
        let sink = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[tokio::test]
async fn a_422_quoting_the_secrets_key_keeps_the_field_error_and_drops_the_key() {
    let (secret, b64, pem) = tls_secret();
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Invalid", "code": 422,
        "message": format!(
            "admission webhook \"tls.policy.example.com\" denied the request: Secret \"veba01-tls\" is invalid: \
             data[tls.key]: Invalid value: \"{b64}\": key {pem} is not allowed; excerpt {}",
            &b64[200..260]
        ),
    })
    .to_string();
    let reply = http(422, &[], "application/json", &status);
    let tc = TestCluster::start(script(&secret, vec![reply])).await;
    if !tc.is_replay() {
        return;
    }
    let logs = Captured::default();
    let _guard = logs.install();
    let err = apply_plan(tc.client(), &[secret], &ApplyOptions::default())
        .await
        .expect_err("a 422 stops the apply");
    let shown = format!("{err} {err:?} {}", logs.text());
    assert_no_run_of(&b64, &shown);
    assert_no_run_of(&pem, &shown);
    assert_no_run_of(&serde_json::to_string(&pem).unwrap(), &shown);
    assert!(
        matches!(err, ApplyError::Rejected { code: 422, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "apply Secret projectcontour/veba01-tls: the API server refused it (422 Invalid): \
         admission webhook \"tls.policy.example.com\" denied the request: Secret \"veba01-tls\" is invalid: \
         data[tls.key]: Invalid value: \"[redacted]\": key [redacted] is not allowed; excerpt [redacted]"
    );
    tc.finish().await;
}

#[tokio::test]
async fn a_500_page_from_a_proxy_quoting_the_request_is_scrubbed_in_the_retry_log_and_the_error() {
    let (secret, b64, pem) = tls_secret();
    // Not a Status: the whole body used to be quoted. A proxy echoing the request.
    let page = format!(
        "<html><body><h1>500 Internal Server Error</h1><pre>upstream failed for PATCH {PATH}\n{}\n</pre>\
         <p>decoded: {pem}</p></body></html>",
        serde_json::to_string_pretty(&secret).unwrap()
    );
    // Retry-After makes the tries exact: at 0 s, then 10 s; 10 s more would pass 15 s.
    let reply = http(500, &[("Retry-After", "10")], "text/html", &page);
    let tc = TestCluster::start(script(&secret, vec![reply.clone(), reply])).await;
    if !tc.is_replay() {
        return;
    }
    let logs = Captured::default();
    let _guard = logs.install();
    let options = ApplyOptions {
        request_retry: Duration::from_secs(15),
        ..ApplyOptions::default()
    };
    let err = apply_plan(tc.client(), &[secret], &options)
        .await
        .expect_err("still failing at the deadline");
    let logged = logs.text();
    assert!(
        logged.contains("apply Secret projectcontour/veba01-tls: 500 InternalServerError: "),
        "the retry was logged: {logged}"
    );
    let shown = format!("{err} {err:?} {logged}");
    assert_no_run_of(&b64, &shown);
    assert_no_run_of(&pem, &shown);
    assert!(matches!(err, ApplyError::GaveUp { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("\"tls.key\": \"[redacted]\"") && text.contains("decoded: [redacted]"),
        "the rest of the page is kept: {text}"
    );
    tc.finish().await;
}
