//! Scenarios of the readiness waits: a failing Job stops the run with its reason,
//! a Deployment that never becomes available hits its own deadline, a watch that
//! fails falls back to one read and is watched again. They inject faults, so they
//! only replay (a real cluster would simply become ready).

mod cluster_support;

use std::time::Duration;

use cluster_support::{Exchange, Reply, TestCluster, contour, event, fixture, recorded};
use ovaboot::cluster::{ApplyError, ApplyOptions, apply_plan};

fn applied(stem: &str, discovery: &str) -> Vec<Exchange> {
    vec![
        Exchange::recorded(&format!("discovery/after-crds/{discovery}.json")),
        Exchange::recorded(&format!("{stem}.response.json")),
    ]
}

fn rv(stem: &str) -> String {
    contour::resource_version(&format!("{stem}.response.json"))
}

#[tokio::test]
async fn a_failed_job_stops_the_wait_with_the_jobs_reason() {
    let stem = "apply-contour/12-job-contour-certgen-v1-33-6";
    let mut script = applied(stem, "apis-batch-v1");
    let failed: serde_json::Value =
        serde_json::from_str(&fixture("job-certgen-failed-backoff-limit.json")).unwrap();
    script.push(contour::watch(
        stem,
        &rv(stem),
        contour::WORKLOAD_WATCH_SECS,
        event("MODIFIED", &failed),
    ));
    let tc = TestCluster::start(script).await;
    if !tc.is_replay() {
        return; // fault injection: replay only
    }
    let plan = vec![recorded(&format!("{stem}.request.json"))];
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
        ..ApplyOptions::default()
    };
    let mut script = applied(stem, "apis-apps-v1");
    // One watch, held open by the server, on an object whose status never changes.
    let mut watch = contour::watch(stem, &rv(stem), 10, String::new());
    watch.reply = Reply::Held {
        body: event(
            "MODIFIED",
            &recorded("status-shapes/deployment.1-as-stored.json"),
        ),
    };
    script.push(watch);
    let tc = TestCluster::start(script).await;
    if !tc.is_replay() {
        return; // fault injection: replay only
    }
    let plan = vec![recorded(&format!("{stem}.request.json"))];
    let started = tokio::time::Instant::now();
    let err = apply_plan(tc.client(), &plan, &options)
        .await
        .expect_err("never ready");
    assert_eq!(
        err.to_string(),
        "Deployment projectcontour/contour: not ready after 10s: \
         controller has not seen generation 1 yet (observedGeneration unset)"
    );
    // Paused clock: given up at the deadline itself (timers tick in milliseconds).
    let took = started.elapsed();
    assert!(
        (Duration::from_secs(10)..Duration::from_millis(10_010)).contains(&took),
        "{took:?}"
    );
    tc.finish().await;
}

#[tokio::test]
async fn a_failing_watch_falls_back_to_one_read_then_watches_again() {
    let crd = "apply-contour/07-customresourcedefinition-httpproxies.projectcontour.io";
    let options = ApplyOptions::default();
    let tc = TestCluster::start(vec![
        Exchange::recorded(&format!("{crd}.response.json")),
        // etcd 3.4's stale watch cache: one ERROR event (504), then the end.
        contour::watch(
            crd,
            &rv(crd),
            contour::CRD_WATCH_SECS,
            cluster_support::recorded_text(
                "watch/crd-httpproxies.watch.etcd34-stale-watch-cache-error.jsonl",
            ),
        ),
        // One poll interval later: read (not Established yet), then watched again.
        Exchange::read(&contour::object_path(crd), &format!("{crd}.response.json")),
        contour::watch(
            crd,
            &rv(crd),
            contour::CRD_WATCH_SECS - options.poll_interval.as_secs(),
            cluster_support::recorded_text("watch/crd-httpproxies.watch.jsonl"),
        ),
    ])
    .await;
    if !tc.is_replay() {
        return; // fault injection: replay only
    }
    let plan = vec![recorded(&format!("{crd}.request.json"))];
    let summary = apply_plan(tc.client(), &plan, &options)
        .await
        .expect("Established");
    // Paused clock: one poll interval was spent on the failed watch, nothing more.
    let interval = options.poll_interval;
    assert!(
        (interval..interval + Duration::from_millis(10)).contains(&summary.elapsed),
        "{:?}",
        summary.elapsed
    );
    tc.finish().await;
}

#[tokio::test]
async fn a_watch_from_a_version_too_old_reads_the_object_afresh_and_watches_from_there() {
    let stem = "apply-contour/19-deployment-contour";
    let options = ApplyOptions::default();
    let gone = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "too old resource version: 244 (300)", "reason": "Expired", "code": 410
    });
    let mut script = applied(stem, "apis-apps-v1");
    script.extend([
        contour::watch(
            stem,
            &rv(stem),
            contour::WORKLOAD_WATCH_SECS,
            event("ERROR", &gone),
        ),
        // The object as it is now (recorded after the patch: ready, rv 336)...
        Exchange::read(
            &contour::object_path(stem),
            "status-shapes/deployment.3-ready.json",
        ),
    ]);
    // ...is ready, so no watch follows the read.
    let tc = TestCluster::start(script).await;
    if !tc.is_replay() {
        return; // fault injection: replay only
    }
    let plan = vec![recorded(&format!("{stem}.request.json"))];
    let summary = apply_plan(tc.client(), &plan, &options)
        .await
        .expect("ready once read");
    // Paused clock: read at once, no poll interval waited out.
    assert_eq!(summary.elapsed, Duration::ZERO);
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
    let plan = vec![recorded(&format!("{stem}.request.json"))];
    let summary = apply_plan(tc.client(), &plan, &options)
        .await
        .expect("applied");
    assert_eq!(summary.objects.len(), 1);
    tc.finish().await; // no watch and no status read was made
}
