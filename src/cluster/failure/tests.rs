use super::*;

#[test]
fn status_422_is_permanent_and_keeps_the_servers_message() {
    let body = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"HTTPProxy.projectcontour.io \"x\" is invalid","reason":"Invalid","code":422}"#;
    assert_eq!(
        classify(422, None, body),
        Failure::Permanent {
            code: 422,
            reason: "Invalid".into(),
            message: "HTTPProxy.projectcontour.io \"x\" is invalid".into()
        }
    );
}

#[test]
fn plain_text_404_is_permanent_with_the_text_as_message() {
    assert_eq!(
        classify(404, None, b"404 page not found\n"),
        Failure::Permanent {
            code: 404,
            reason: "NotFound".into(),
            message: "404 page not found".into()
        }
    );
}

#[test]
fn throttling_honours_retry_after_header_before_status_hint() {
    let body = br#"{"kind":"Status","reason":"TooManyRequests","message":"slow down","details":{"retryAfterSeconds":3},"code":429}"#;
    let Failure::Transient { retry_after, .. } = classify(429, Some(Duration::from_secs(7)), body)
    else {
        panic!("429 must be transient")
    };
    assert_eq!(retry_after, Some(Duration::from_secs(7)));
    let Failure::Transient { retry_after, .. } = classify(429, None, body) else {
        panic!()
    };
    assert_eq!(retry_after, Some(Duration::from_secs(3)));
}

#[test]
fn server_errors_are_transient() {
    for code in [500, 502, 503, 504] {
        assert!(
            matches!(classify(code, None, b"oops"), Failure::Transient { .. }),
            "{code}"
        );
    }
    for code in [400, 401, 403, 404, 409, 422] {
        assert!(
            matches!(classify(code, None, b"no"), Failure::Permanent { .. }),
            "{code}"
        );
    }
}

#[test]
fn an_apply_that_does_not_fit_the_schema_is_permanent_though_answered_500() {
    // kube-apiserver v1.33's answer to a server-side apply of a ConfigMap with a
    // top-level `bogus` field (the same text tests/controlplane_record.rs gets).
    let body = br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"failed to create typed patch object (default/skip-bad; /v1, Kind=ConfigMap): .bogus: field not declared in schema","code":500}"#;
    assert_eq!(
        classify(500, None, body),
        Failure::Permanent {
            code: 500,
            reason: "InternalServerError".into(),
            message:
                "failed to create typed patch object (default/skip-bad; /v1, Kind=ConfigMap): \
                      .bogus: field not declared in schema"
                    .into()
        }
    );
    // Any other 500 is still worth another try.
    let other = br#"{"kind":"Status","message":"etcdserver: request timed out","code":500}"#;
    assert!(matches!(
        classify(500, None, other),
        Failure::Transient { .. }
    ));
}
