use super::*;
use crate::failure::Transience;

#[test]
fn only_an_absent_or_unready_cluster_is_worth_retrying() {
    let object = ObjectRef {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: Some("ovaboot".into()),
        name: "ovaboot-tls".into(),
    };
    let transient = [
        ApplyError::NoClientConfig {
            tried: String::new(),
        },
        ApplyError::ApiServerUnreachable {
            waited: Duration::ZERO,
            last: String::new(),
        },
        ApplyError::GaveUp {
            what: String::new(),
            waited: Duration::ZERO,
            last: String::new(),
        },
        ApplyError::NotReady {
            object: Box::new(object.clone()),
            waited: Duration::ZERO,
            reason: String::new(),
        },
    ];
    for e in &transient {
        assert!(e.is_transient(), "{e}");
    }
    let permanent = [
        ApplyError::Rejected {
            what: String::new(),
            code: 422,
            reason: "Invalid".into(),
            message: String::new(),
        },
        ApplyError::Failed {
            object: Box::new(object.clone()),
            reason: String::new(),
        },
        ApplyError::Kubeconfig {
            path: "/etc/rancher/k3s/k3s.yaml".into(),
            message: String::new(),
        },
    ];
    for e in &permanent {
        assert!(!e.is_transient(), "{e}");
    }
}

#[test]
fn no_client_configuration_says_how_to_name_one() {
    let e = ApplyError::NoClientConfig {
        tried: "/etc/rancher/k3s/k3s.yaml did not appear in time".into(),
    };
    let text = e.to_string();
    assert!(
        text.contains("--kubeconfig") && text.contains("kube.kubeconfig"),
        "{text}"
    );
}

#[test]
fn an_error_at_an_endpoint_names_it_and_keeps_its_kind() {
    let e = ApplyError::At {
        endpoint: Box::new(Endpoint {
            server: "https://127.0.0.1:6443/".into(),
            origin: "kubeconfig /etc/rancher/k3s/k3s.yaml".into(),
        }),
        error: Box::new(ApplyError::ApiServerUnreachable {
            waited: Duration::from_millis(2999),
            last: "503 ServiceUnavailable: not now".into(),
        }),
    };
    assert_eq!(
        e.to_string(),
        "the API server did not answer within 3s (kube.api_server_timeout_secs): \
             503 ServiceUnavailable: not now \
             (API server https://127.0.0.1:6443/, kubeconfig /etc/rancher/k3s/k3s.yaml)"
    );
    assert!(e.is_transient());
}
