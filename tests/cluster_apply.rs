//! Scenarios of `apply_plan`, replayed from recorded kube-apiserver v1.32 responses
//! (every request asserted), or run against a real cluster with
//! `OVABOOT_TEST_KUBECONFIG=/path/to/kubeconfig` (outcome assertions only).

mod cluster_support;

use std::time::Duration;

use cluster_support::{Exchange, TestCluster, contour};
use ovaboot::cluster::{ApplyOptions, Outcome, apply_plan, wait_for_api_server};
use ovaboot::failure::Transience;

fn options() -> ApplyOptions {
    ApplyOptions::default()
}

fn names(summary: &ovaboot::cluster::ApplySummary) -> Vec<String> {
    summary
        .objects
        .iter()
        .map(|o| o.object.to_string())
        .collect()
}

#[tokio::test]
async fn contour_with_tls_and_httpproxy_applies_in_stage_order_and_a_rerun_changes_no_generation() {
    let first_stages = contour::first_apply_stages();
    let pass1_len: usize = first_stages.iter().map(Vec::len).sum();
    let stages = [first_stages, contour::reapply_stages()].concat();
    // The CRDs, their watches and discovery (stages 1, 2 and 3) must be in flight
    // all at once before any is answered: they are sent concurrently.
    let mut tc = TestCluster::staged_together(stages, &[1, 2, 3]).await;
    let plan = contour::plan();

    let first = apply_plan(tc.client(), &plan, &options()).await;
    let first = tc.ok(first).await;
    let order = names(&first);
    assert_eq!(order.len(), 23);
    assert_eq!(order[0], "Namespace projectcontour");
    assert!(
        order[1..6]
            .iter()
            .all(|n| n.starts_with("CustomResourceDefinition ")),
        "{order:#?}"
    );
    assert_eq!(
        order[6], "Secret projectcontour/veba01-tls",
        "then the Secrets, before the workloads that mount them"
    );
    assert_eq!(
        order[7], "ServiceAccount projectcontour/contour",
        "then the rest in plan order"
    );
    assert_eq!(order[22], "HTTPProxy projectcontour/veba01");
    assert_eq!(first.created + first.changed + first.unchanged, 23);

    let second = apply_plan(tc.client(), &plan, &options()).await;
    let second = tc.ok(second).await;
    assert_eq!(names(&second), order);
    for (a, b) in first.objects.iter().zip(&second.objects) {
        assert_eq!(
            a.generation, b.generation,
            "{}: re-applying identical objects changes no generation",
            a.object
        );
        assert_ne!(b.outcome, Outcome::Created, "{}", b.object);
    }

    if tc.is_replay() {
        assert!(first.objects.iter().all(|o| o.outcome == Outcome::Created));
        // The re-run changes none of ovaboot's fields (what the server writes on its
        // own, a Namespace's server-set fields or an HTTPProxy's defaulted status, is
        // not ovaboot's change); see `outcome` for how a 200 is read.
        assert_eq!(
            (second.created, second.changed, second.unchanged),
            (0, 0, 23)
        );
        assert_eq!(
            second.get("Deployment", "contour").unwrap().generation,
            Some(1)
        );
        // The paused clock moves only when something sleeps: every status change
        // was taken from a watch as it came, no poll interval was waited out.
        assert_eq!(first.elapsed, Duration::ZERO);
        assert_eq!(second.elapsed, Duration::ZERO);
    }
    let seen = tc.finish().await;
    if !seen.is_empty() {
        // The stages fixed the order already; spelled out: one request per object
        // (no reads before applies), and the stages in the plan's order.
        for pass in [&seen[..pass1_len], &seen[pass1_len..]] {
            let patches = pass.iter().filter(|s| s.method == "PATCH").count();
            assert_eq!(patches, 23, "one apply per object");
            assert!(
                pass.iter()
                    .all(|s| s.method == "PATCH" || s.accept.is_none()),
                "no metadata reads"
            );
        }
        let pass1 = &seen[..pass1_len];
        let crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
        let stage_of = |pred: &dyn Fn(&cluster_support::Seen) -> bool| {
            pass1
                .iter()
                .filter(|s| pred(s))
                .map(|s| s.stage)
                .collect::<Vec<_>>()
        };
        let crd_applies = stage_of(&|s| s.method == "PATCH" && s.path.starts_with(crd_path));
        let crd_watches =
            stage_of(&|s| s.path.starts_with(crd_path) && s.path.contains("watch=true"));
        let discovery = stage_of(&|s| s.path == "/api/v1");
        let secrets = stage_of(&|s| s.method == "PATCH" && s.path.contains("/secrets/"));
        let rest = stage_of(&|s| s.method == "PATCH" && s.path.contains("/serviceaccounts/"));
        let workloads = stage_of(&|s| {
            s.method == "PATCH"
                && (s.path.contains("/deployments/") || s.path.contains("/daemonsets/"))
        });
        assert_eq!((crd_applies.len(), crd_watches.len()), (5, 5));
        assert!(crd_applies.iter().max() < crd_watches.iter().min());
        assert!(crd_watches.iter().max() < discovery.iter().min());
        assert!(discovery.iter().max() < secrets.iter().min());
        assert!(secrets.iter().max() < rest.iter().min());
        assert!(secrets.iter().max() < workloads.iter().min());
    }
}

#[tokio::test]
async fn invalid_httpproxy_stops_with_the_api_servers_422_message_and_the_object_named() {
    let tc = TestCluster::start(vec![
        Exchange::recorded("discovery/after-crds/apis-projectcontour.io-v1.json"),
        Exchange::recorded("errors/a-422-httpproxy-without-fqdn.response.json"),
    ])
    .await;
    let plan = vec![cluster_support::recorded(
        "errors/a-422-httpproxy-without-fqdn.request.json",
    )];
    let err = apply_plan(tc.client(), &plan, &options())
        .await
        .expect_err("a 422 must stop the apply")
        .to_string();
    assert!(
        err.starts_with(
            "apply HTTPProxy projectcontour/nofqdn: the API server refused it (422 Invalid): "
        ),
        "{err}"
    );
    assert!(
        err.contains("spec.virtualhost.fqdn: Required value"),
        "{err}"
    );
    tc.finish().await; // and no request was retried or sent after it
}

#[tokio::test]
async fn kind_of_an_unknown_group_stops_at_discovery_naming_the_object() {
    let tc = TestCluster::start(vec![Exchange::answered_with(
        "GET",
        "/apis/widgets.example.com/v1",
        None,
        "errors/b-404-unknown-group-widget.response.txt",
    )])
    .await;
    let plan = vec![cluster_support::recorded(
        "errors/b-404-unknown-group-widget.request.json",
    )];
    let err = apply_plan(tc.client(), &plan, &options())
        .await
        .expect_err("unknown kind")
        .to_string();
    assert!(
        err.starts_with("Widget projectcontour/w1: the API server does not serve kind Widget in widgets.example.com/v1"),
        "{err}"
    );
    if tc.is_replay() {
        assert!(
            err.ends_with("(GET /apis/widgets.example.com/v1: 404 page not found)"),
            "{err}"
        );
    }
    tc.finish().await;
}

#[tokio::test]
async fn unknown_kind_in_a_served_group_stops_naming_the_object() {
    let tc = TestCluster::start(vec![Exchange::recorded(
        "discovery/after-crds/apis-projectcontour.io-v1.json",
    )])
    .await;
    let plan = vec![cluster_support::recorded(
        "errors/b-404-unknown-resource-in-known-group.request.json",
    )];
    let err = apply_plan(tc.client(), &plan, &options())
        .await
        .expect_err("unknown kind")
        .to_string();
    assert_eq!(
        err,
        "Widget projectcontour/w1: the API server does not serve kind Widget in projectcontour.io/v1 \
         (/apis/projectcontour.io/v1 lists no Widget)"
    );
    tc.finish().await;
}

/// Namespace + the Contour ConfigMap, where the API server answers the ConfigMap's
/// apply with `first` before it succeeds.
fn configmap_after(first: Exchange) -> Vec<Exchange> {
    let ns = "apply-contour/00-namespace-projectcontour";
    let cm = "apply-contour/03-configmap-contour";
    vec![
        Exchange::recorded(&format!("{ns}.response.json")),
        Exchange::recorded("discovery/after-crds/api-v1.json"),
        first,
        Exchange::recorded(&format!("{cm}.response.json")),
    ]
}

fn namespace_and_configmap() -> Vec<serde_json::Value> {
    [
        "apply-contour/00-namespace-projectcontour",
        "apply-contour/03-configmap-contour",
    ]
    .iter()
    .map(|s| cluster_support::recorded(&format!("{s}.request.json")))
    .collect()
}

#[tokio::test]
async fn a_503_is_retried_and_the_next_answer_201_creates_the_object() {
    let path = contour::object_path("apply-contour/03-configmap-contour");
    let unavailable = Exchange::apply_answered_by_fixture(
        &path,
        "apply-contour/03-configmap-contour.request.json",
        503,
        &[],
        "503-apiserver-not-ready.json",
    );
    let mut tc = TestCluster::start(configmap_after(unavailable)).await;
    let summary = apply_plan(tc.client(), &namespace_and_configmap(), &options()).await;
    let summary = tc.ok(summary).await;
    let cm = summary
        .get("ConfigMap", "contour")
        .expect("ConfigMap applied");
    if tc.is_replay() {
        assert_eq!(cm.outcome, Outcome::Created);
    }
    tc.finish().await;
}

#[tokio::test]
async fn a_429_waits_as_long_as_retry_after_says() {
    let path = contour::object_path("apply-contour/03-configmap-contour");
    let throttled = Exchange::apply_answered_by_fixture(
        &path,
        "apply-contour/03-configmap-contour.request.json",
        429,
        &[("Retry-After", "30")],
        "429-too-many-requests.json",
    );
    let mut tc = TestCluster::start(configmap_after(throttled)).await;
    let summary = apply_plan(tc.client(), &namespace_and_configmap(), &options()).await;
    let summary = tc.ok(summary).await;
    assert!(summary.get("ConfigMap", "contour").is_some());
    if tc.is_replay() {
        // Paused clock: elapsed is exactly the waits taken, and the header (30 s)
        // wins over the body's retryAfterSeconds (1 s) and the backoff (< 250 ms).
        assert!(
            summary.elapsed >= Duration::from_secs(30),
            "{:?}",
            summary.elapsed
        );
    }
    tc.finish().await;
}

#[tokio::test]
async fn secret_data_appears_in_no_summary_or_error() {
    let secret = cluster_support::recorded(&format!("{}.request.json", contour::SECRET));
    let key = secret["data"]["tls.key"].as_str().unwrap().to_owned();
    let mut refused = Exchange::recorded(&format!("{}.response.json", contour::SECRET));
    refused.reply =
        Exchange::recorded("errors/g-404-apply-into-missing-namespace.response.json").reply;
    let tc = TestCluster::start(vec![
        Exchange::recorded("discovery/after-crds/api-v1.json"),
        refused,
    ])
    .await;
    let result = apply_plan(tc.client(), &[secret], &options()).await;
    let shown = match &result {
        Ok(s) => format!("{s} {s:?} {}", serde_json::to_string(s).unwrap()),
        Err(e) => format!("{e} {e:?}"),
    };
    for fragment in [&key[..40], "PRIVATE KEY", "tls.key"] {
        assert!(!shown.contains(fragment), "{fragment:?} leaked: {shown}");
    }
    if tc.is_replay() {
        let err = result.expect_err("404 namespace not found");
        assert!(
            err.to_string().contains("Secret projectcontour/veba01-tls"),
            "{err}"
        );
    }
    tc.finish().await;
}

#[tokio::test]
async fn api_server_refusing_connections_while_starting_is_waited_for() {
    let version = Exchange::recorded("discovery/before-crds/version.json");
    let mut tc = TestCluster::start(vec![
        version.clone().refused(),
        version.clone().refused(),
        version.clone().refused(),
        version,
    ])
    .await;
    let got = wait_for_api_server(
        tc.client(),
        Duration::from_secs(60),
        Duration::from_secs(10),
    )
    .await;
    let got = tc.ok(got).await;
    assert!(got.starts_with("v1."), "{got}");
    if tc.is_replay() {
        assert_eq!(got, "v1.32.13");
    }
    tc.finish().await;
}

#[tokio::test]
async fn a_crds_group_still_404_in_discovery_after_established_is_retried() {
    // The group was 404 before the CRDs existed; a lagging server may still say so.
    applies_after_lagging_discovery(Exchange::recorded(
        "discovery/before-crds/apis-projectcontour.io-v1.404.txt",
    ))
    .await;
}

#[tokio::test]
async fn a_crds_group_served_without_the_kind_yet_is_retried() {
    // Seen against a real API server: the group is served as soon as one of its
    // CRDs is, while its list still lacks a kind another CRD of the plan defines.
    applies_after_lagging_discovery(served_without(
        "discovery/after-crds/apis-projectcontour.io-v1.json",
        "HTTPProxy",
    ))
    .await;
}

#[tokio::test]
async fn a_typed_patch_500_right_after_its_crd_changed_is_retried() {
    // The CRD is created in this run; the API server's schema for its kind
    // lags a moment (argo-cd#25064): the first applies of the HTTPProxy are
    // answered 500 "field not declared in schema", the next one as recorded.
    let proxy = contour::HTTPPROXY;
    let lagging = Exchange::apply_answered_by_fixture(
        &contour::object_path(proxy),
        &format!("{proxy}.request.json"),
        500,
        &[],
        "500-typed-patch-new-field.json",
    );
    applies_crd_then_proxy(
        vec![Exchange::recorded(
            "discovery/after-crds/apis-projectcontour.io-v1.json",
        )],
        vec![lagging.clone(), lagging],
    )
    .await;
}

/// The HTTPProxy CRD and an HTTPProxy, where discovery of projectcontour.io/v1
/// first answers `lagging`, then the recorded list: the apply retries and succeeds.
async fn applies_after_lagging_discovery(lagging: Exchange) {
    applies_crd_then_proxy(
        vec![
            lagging,
            Exchange::recorded("discovery/after-crds/apis-projectcontour.io-v1.json"),
        ],
        Vec::new(),
    )
    .await;
}

/// The HTTPProxy CRD (created), `discovery`'s answers, `refusals` of the
/// HTTPProxy's apply, then its recorded apply and a watch to valid: the apply
/// retries through them and succeeds, every request as scripted.
async fn applies_crd_then_proxy(discovery: Vec<Exchange>, refusals: Vec<Exchange>) {
    let crd = "apply-contour/07-customresourcedefinition-httpproxies.projectcontour.io";
    let proxy = contour::HTTPPROXY;
    let mut script = vec![
        Exchange::recorded(&format!("{crd}.response.json")),
        contour::watch(
            crd,
            &contour::resource_version(&format!("{crd}.response.json")),
            contour::CRD_WATCH_SECS,
            cluster_support::recorded_text("watch/crd-httpproxies.watch.jsonl"),
        ),
    ];
    script.extend(discovery);
    script.extend(refusals);
    script.extend([
        Exchange::recorded(&format!("{proxy}.response.json")),
        contour::watch(
            proxy,
            &contour::resource_version(&format!("{proxy}.response.json")),
            contour::HTTPPROXY_WATCH_SECS,
            cluster_support::event(
                "MODIFIED",
                &cluster_support::recorded("tls-httpproxy/06-httpproxy-veba01.get-valid.json"),
            ),
        ),
    ]);
    let tc = TestCluster::start(script).await;
    let plan: Vec<_> = [crd, proxy]
        .iter()
        .map(|s| cluster_support::recorded(&format!("{s}.request.json")))
        .collect();
    let summary = apply_plan(tc.client(), &plan, &options())
        .await
        .expect("applied once the server has caught up");
    assert_eq!(
        names(&summary),
        [
            "CustomResourceDefinition httpproxies.projectcontour.io",
            "HTTPProxy projectcontour/veba01"
        ]
    );
    tc.finish().await;
}

/// The recorded discovery answer for a group-version, less one kind.
fn served_without(file: &str, kind: &str) -> Exchange {
    let mut x = Exchange::recorded(file);
    let mut list = cluster_support::recorded(file);
    let resources = list["resources"].as_array_mut().expect("a resource list");
    let before = resources.len();
    resources.retain(|r| r["kind"] != kind);
    assert!(resources.len() < before, "{file} lists {kind}");
    if let cluster_support::Reply::Http { body, .. } = &mut x.reply {
        *body = list.to_string();
    }
    x
}

#[tokio::test]
async fn an_apply_that_does_not_fit_the_schema_stops_at_once_naming_the_object_and_field() {
    // kube-apiserver answers 500 (not 422) when a field is not in the kind's schema;
    // the text is the one tests/controlplane_record.rs gets from a real one.
    let path = contour::object_path("apply-contour/03-configmap-contour");
    let refused = Exchange::apply_answered_by_fixture(
        &path,
        "apply-contour/03-configmap-contour.request.json",
        500,
        &[],
        "500-typed-patch-unknown-field.json",
    );
    let tc = TestCluster::start(vec![
        Exchange::recorded("apply-contour/00-namespace-projectcontour.response.json"),
        Exchange::recorded("discovery/after-crds/api-v1.json"),
        refused,
    ])
    .await;
    if !tc.is_replay() {
        return; // the recorded ConfigMap fits the schema: nothing to refuse
    }
    let err = apply_plan(tc.client(), &namespace_and_configmap(), &options())
        .await
        .expect_err("a body that does not fit the schema must stop the apply");
    assert!(!err.is_transient(), "{err}");
    // (The object's name in the middle is cut out by the scrubber: the ConfigMap's
    // data quotes it.)
    let err = err.to_string();
    assert!(
        err.starts_with(
            "apply ConfigMap projectcontour/contour: the API server refused it \
             (500 InternalServerError): failed to create typed patch object ("
        ),
        "{err}"
    );
    assert!(
        err.ends_with("): .bogus: field not declared in schema"),
        "{err}"
    );
    tc.finish().await; // not retried
}
