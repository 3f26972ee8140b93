//! How a 200 answer to an apply is read, on recorded answers.

use super::*;
use crate::cluster::test_support::recorded;

fn meta(file: &str) -> ObjectMeta {
    serde_json::from_value(recorded(file)["metadata"].clone()).unwrap()
}

fn at(http_date: &str) -> Option<k8s_openapi::jiff::Timestamp> {
    Some(
        k8s_openapi::jiff::fmt::rfc2822::DateTimeParser::new()
            .parse_timestamp(http_date)
            .unwrap(),
    )
}

const QUICK: Duration = Duration::from_millis(30);

#[test]
fn a_201_is_a_create() {
    let m = meta("apply-contour/03-configmap-contour.response.json");
    assert_eq!(outcome(201, &m, None, QUICK), Outcome::Created);
}

#[test]
fn taking_a_field_back_from_another_manager_is_a_change() {
    // ovaboot's entry was stamped 14:01:52 by this very apply.
    let m = meta("errors/c-3-force-takes-ownership-back.response.json");
    assert_eq!(
        outcome(200, &m, at("Fri, 27 Nov 2026 14:01:52 GMT"), QUICK),
        Outcome::Changed
    );
    // A slow answer (3 s round trip) still counts the write as this request's.
    assert_eq!(
        outcome(
            200,
            &m,
            at("Fri, 27 Nov 2026 14:01:55 GMT"),
            Duration::from_millis(3200)
        ),
        Outcome::Changed
    );
}

#[test]
fn an_identical_reapply_is_unchanged() {
    // ovaboot's entry is from the create, 14:00:52; the re-apply came later.
    let m = meta("apply-contour/03-configmap-contour.reapply.response.json");
    assert_eq!(
        outcome(200, &m, at("Fri, 27 Nov 2026 14:00:58 GMT"), QUICK),
        Outcome::Unchanged
    );
}

#[test]
fn without_a_date_or_an_entry_of_ovaboots_nothing_is_claimed() {
    let m = meta("errors/c-3-force-takes-ownership-back.response.json");
    assert_eq!(outcome(200, &m, None, QUICK), Outcome::Unchanged);
    // The Namespace: ovaboot owns no field of it, the server's own write is not ovaboot's.
    let m = meta("apply-contour/00-namespace-projectcontour.reapply.response.json");
    assert_eq!(
        outcome(200, &m, at("Fri, 27 Nov 2026 14:00:58 GMT"), QUICK),
        Outcome::Unchanged
    );
}

fn rejected(code: u16, message: &str) -> ApplyError {
    ApplyError::Rejected {
        what: "apply HTTPProxy projectcontour/veba01".into(),
        code,
        reason: "InternalServerError".into(),
        message: message.into(),
    }
}

const LAGGING: &str = "failed to create typed patch object (projectcontour/veba01; projectcontour.io/v1, Kind=HTTPProxy): .spec.newField: field not declared in schema";

#[test]
fn a_typed_patch_500_is_retried_only_after_a_crd_change_and_within_the_bound() {
    let soon = Duration::from_secs(1);
    assert!(schema_may_lag(&rejected(500, LAGGING), true, soon));
    assert!(schema_may_lag(&rejected(500, LAGGING), true, SCHEMA_SETTLE));
    // No CRD changed in this run: the body does not fit the schema, for good.
    assert!(!schema_may_lag(&rejected(500, LAGGING), false, soon));
    // Past the bound: the schema is not lagging, the body is wrong.
    assert!(!schema_may_lag(
        &rejected(500, LAGGING),
        true,
        SCHEMA_SETTLE + Duration::from_millis(1)
    ));
    // Other refusals are not the schema's lag.
    assert!(!schema_may_lag(&rejected(422, LAGGING), true, soon));
    assert!(!schema_may_lag(
        &rejected(500, "etcdserver: request timed out"),
        true,
        soon
    ));
}
