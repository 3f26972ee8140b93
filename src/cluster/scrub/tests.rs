use super::*;
use serde_json::json;

const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgq1b2c3d4e5f6g7h8\ni9j0k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6A7B8C9D0E1F2G3H4\n-----END PRIVATE KEY-----\n";

fn secret() -> Value {
    json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "veba01-tls", "namespace": "projectcontour"},
               "type": "kubernetes.io/tls",
               "data": {"tls.key": STANDARD.encode(PEM)}})
}

#[test]
fn base64_and_decoded_values_and_their_runs_are_cut_but_the_rest_is_kept() {
    let s = Scrub::of(&secret());
    let b64 = STANDARD.encode(PEM);
    let msg = format!(
        "Secret \"veba01-tls\" is invalid: data[tls.key]: Invalid value: \"{b64}\"; decoded {PEM}; part {}",
        &b64[100..140]
    );
    let got = s.text(&msg);
    assert_eq!(
        got,
        "Secret \"veba01-tls\" is invalid: data[tls.key]: Invalid value: \"[redacted]\"; \
             decoded [redacted]; part [redacted]"
    );
}

#[test]
fn a_pem_quoted_with_escaped_newlines_is_cut() {
    let s = Scrub::of(&secret());
    let quoted = serde_json::to_string(PEM).unwrap();
    let got = s.text(&format!("webhook: bad key {quoted}"));
    assert_eq!(got, "webhook: bad key \"[redacted]\"");
}

#[test]
fn string_data_is_cut_also_as_the_server_stores_it_base64_encoded() {
    let password = "correct-horse-battery";
    let s = Scrub::of(&json!({"kind": "Secret", "stringData": {"password": password}}));
    let stored = STANDARD.encode(password);
    assert_eq!(
        s.text(&format!("{password} / {stored}")),
        "[redacted] / [redacted]"
    );
}

#[test]
fn a_value_between_min_and_window_length_is_cut_whole() {
    let s = Scrub::of(&json!({"kind": "Secret", "stringData": {"user": "ovaboot-admin"}}));
    assert_eq!(
        s.text("user ovaboot-admin exists"),
        "user [redacted] exists"
    );
}

#[test]
fn a_value_too_short_to_cut_safely_withholds_the_whole_message() {
    let s = Scrub::of(&json!({"kind": "Secret", "stringData": {"pin": "1234"}}));
    assert_eq!(s.text("pin 1234 refused"), WITHHELD);
    let f = s.failure(Failure::Permanent {
        code: 422,
        reason: "Invalid".into(),
        message: "pin 1234 refused".into(),
    });
    assert_eq!(f.to_string(), format!("422 Invalid: {WITHHELD}"));
}

#[test]
fn an_object_without_data_changes_nothing() {
    let s = Scrub::of(&json!({"kind": "HTTPProxy", "spec": {"virtualhost": {"fqdn": "x"}}}));
    let f = Failure::Transient {
        status: Some((500, "InternalError".into())),
        message: "boom".into(),
        retry_after: None,
    };
    assert_eq!(s.failure(f.clone()), f);
    assert_eq!(format!("{s:?}"), "Scrub { values: 0, withhold: false }");
}

#[test]
fn non_ascii_text_next_to_a_value_stays_whole() {
    let s = Scrub::of(&json!({"stringData": {"k": "0123456789abcdefXYZ"}}));
    assert_eq!(s.text("é0123456789abcdefXYZ→ok"), "é[redacted]→ok");
}
