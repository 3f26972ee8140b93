//! Scenarios of the readiness waits: a failing Job stops the run with its reason,
//! a Deployment that never becomes available hits its own deadline. They inject
//! faults, so they only replay (a real cluster would simply become ready).

mod cluster_support;

use std::time::Duration;

use cluster_support::{Exchange, TestCluster, contour};
use ovaboot::cluster::{ApplyError, ApplyOptions, apply_plan};

const MISSING: &str = "errors/f-404-get-missing-deployment.response.json";

fn applied(stem: &str, discovery: &str) -> Vec<Exchange> {
    vec![
        Exchange::recorded(&format!("discovery/after-crds/{discovery}.json")),
        Exchange::read_meta(&contour::object_path(stem), MISSING),
        Exchange::recorded(&format!("{stem}.response.json")),
    ]
}

#[tokio::test]
async fn a_failed_job_stops_the_wait_with_the_jobs_reason() {
    let stem = "apply-contour/12-job-contour-certgen-v1-33-6";
    let mut script = applied(stem, "apis-batch-v1");
    script.push(Exchange::recorded("status-shapes/job.1-as-stored.json"));
    script.push(Exchange::read_fixture(
        &contour::object_path(stem),
        "job-certgen-failed-backoff-limit.json",
    ));
    let tc = TestCluster::start(script).await;
    if !tc.is_replay() {
        return; // fault injection: replay only
    }
    let plan = vec![cluster_support::recorded(&format!("{stem}.request.json"))];
    let err = apply_plan(tc.client(), &plan, &ApplyOptions::default())
        .await
        .expect_err("the Job failed");
    assert!(matches!(err, ApplyError::Failed { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Job projectcontour/contour-certgen-v1-33-6 failed: \
         Job failed: BackoffLimitExceeded: Job has reached the specified backoff limit"
    );
    tc.finish().await;
}

#[tokio::test]
async fn a_deployment_never_available_times_out_at_its_deadline_saying_what_is_missing() {
    let stem = "apply-contour/19-deployment-contour";
    let options = ApplyOptions {
        workload_ready_timeout: Duration::from_secs(10),
        poll_interval: Duration::from_secs(2),
        ..ApplyOptions::default()
    };
    let mut script = applied(stem, "apis-apps-v1");
    // Polled every 2 s until the 10 s deadline: reads at 2, 4, 6, 8 and 10 s.
    script.extend((0..5).map(|_| Exchange::recorded("status-shapes/deployment.1-as-stored.json")));
    let tc = TestCluster::start(script).await;
    if !tc.is_replay() {
        return; // fault injection: replay only
    }
    let plan = vec![cluster_support::recorded(&format!("{stem}.request.json"))];
    let err = apply_plan(tc.client(), &plan, &options)
        .await
        .expect_err("never ready");
    assert_eq!(
        err.to_string(),
        "Deployment projectcontour/contour: not ready after 10s: \
         controller has not seen generation 1 yet (observedGeneration unset)"
    );
    tc.finish().await;
}

#[tokio::test]
async fn without_wait_the_apply_returns_once_accepted() {
    let stem = "apply-contour/19-deployment-contour";
    let tc = TestCluster::start(applied(stem, "apis-apps-v1")).await;
    let options = ApplyOptions {
        wait: false,
        ..ApplyOptions::default()
    };
    let plan = vec![cluster_support::recorded(&format!("{stem}.request.json"))];
    let summary = apply_plan(tc.client(), &plan, &options)
        .await
        .expect("applied");
    assert_eq!(summary.objects.len(), 1);
    tc.finish().await; // no status read was made
}
