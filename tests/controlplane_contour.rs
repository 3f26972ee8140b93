//! What only a real Contour judges, and what only real controllers make ready:
//! against `tests/controlplane/up DIR` (kube-apiserver, controller-manager,
//! scheduler, a kwok node, Contour v1.33.6 out of cluster) with
//! `OVABOOT_TEST_KUBECONFIG=DIR/kubeconfig`. Skipped without it.
//!
//! Scenarios share the cluster and run in parallel: each has its own host name,
//! namespaces and root proxy; the Contour release they all carry is the same.

mod cli_support;
mod controlplane_support;

use std::process::Stdio;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::batch::v1::Job;
use kube::api::Api;

use cli_support::text;
use controlplane_support::*;

#[test]
#[ignore = "needs a control plane: OVABOOT_TEST_KUBECONFIG (tests/controlplane/up)"]
fn the_default_routes_with_their_services_are_valid_and_contours_workloads_become_ready() {
    let kubeconfig = kubeconfig();
    default_plan_applied(&kubeconfig);
    block_on(async {
        let c = client(&kubeconfig).await;
        let proxy = httpproxy(&c, "ovaboot", "ovaboot").await;
        assert_eq!(current_status(&proxy), Some("valid"), "{proxy:#?}");

        // Made ready by the Deployment, DaemonSet and Job controllers, the
        // scheduler and kwok's node, from exactly what ovaboot applied.
        let ns = "projectcontour";
        let contour = Api::<Deployment>::namespaced(c.clone(), ns)
            .get("contour")
            .await
            .unwrap();
        let (spec, status) = (contour.spec.unwrap(), contour.status.unwrap());
        assert_eq!(status.available_replicas, spec.replicas, "{status:?}");
        assert_eq!(status.updated_replicas, spec.replicas, "{status:?}");
        let envoy = Api::<DaemonSet>::namespaced(c.clone(), ns)
            .get("envoy")
            .await
            .unwrap()
            .status
            .unwrap();
        assert!(envoy.desired_number_scheduled > 0, "{envoy:?}");
        assert_eq!(
            envoy.number_ready, envoy.desired_number_scheduled,
            "{envoy:?}"
        );
        // No certgen Job: ovaboot applied the two Secrets the pods mount,
        // in certgen's compact format.
        let jobs = Api::<Job>::namespaced(c.clone(), ns)
            .list(&Default::default())
            .await
            .unwrap();
        assert!(
            jobs.items.iter().all(|j| !j
                .metadata
                .name
                .as_deref()
                .unwrap_or("")
                .starts_with("contour-certgen")),
            "{:?}",
            jobs.items
                .iter()
                .map(|j| &j.metadata.name)
                .collect::<Vec<_>>()
        );
        for name in ["contourcert", "envoycert"] {
            let secret = Api::<k8s_openapi::api::core::v1::Secret>::namespaced(c.clone(), ns)
                .get(name)
                .await
                .unwrap();
            assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
            let keys: Vec<&String> = secret.data.as_ref().unwrap().keys().collect();
            assert_eq!(keys, ["ca.crt", "tls.crt", "tls.key"], "{name}");
        }
    });
}

#[test]
#[ignore = "needs a control plane: OVABOOT_TEST_KUBECONFIG (tests/controlplane/up)"]
fn routes_across_namespaces_through_includes_and_a_delegated_secret_are_valid() {
    let kubeconfig = kubeconfig();
    default_plan_applied(&kubeconfig);
    // The root in cp-edge, a child proxy in cp-events that it includes, the
    // Secret in cp-certs delegated to cp-edge.
    let scenario = Scenario::new(
        "across.cp.example.net",
        r#"
[root_proxy]
name = "edge"
namespace = "cp-edge"

[tls_secret]
name = "edge-tls"
namespace = "cp-certs"

[[routes]]
prefix = "/"
service = "web"
namespace = "cp-edge"
port = 80

[[routes]]
prefix = "/events"
service = "events"
namespace = "cp-events"
port = 8080
"#,
    );
    let objects = scenario.objects();
    let kinds: Vec<String> = objects
        .iter()
        .map(|o| format!("{} {}", o["kind"].as_str().unwrap(), o["metadata"]["name"]))
        .collect();
    assert!(
        kinds
            .iter()
            .any(|k| k.starts_with("TLSCertificateDelegation ")),
        "{kinds:#?}"
    );
    block_on(async {
        let c = client(&kubeconfig).await;
        apply_objects(
            &c,
            &[
                namespace("cp-edge"),
                namespace("cp-events"),
                service("cp-edge", "web", 80),
                service("cp-events", "events", 8080),
            ],
        )
        .await;
    });
    let out = scenario.apply_command(&kubeconfig).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    block_on(async {
        let c = client(&kubeconfig).await;
        let root = httpproxy(&c, "cp-edge", "edge").await;
        assert_eq!(current_status(&root), Some("valid"), "{root:#?}");
        assert_eq!(
            root["spec"]["virtualhost"]["tls"]["secretName"],
            "cp-certs/edge-tls"
        );
        let child = httpproxy(&c, "cp-events", "edge-routes").await;
        assert_eq!(current_status(&child), Some("valid"), "{child:#?}");
    });
}

#[test]
#[ignore = "needs a control plane: OVABOOT_TEST_KUBECONFIG (tests/controlplane/up)"]
fn a_route_to_a_service_that_appears_later_is_waited_for_then_valid() {
    let kubeconfig = kubeconfig();
    default_plan_applied(&kubeconfig);
    let scenario = Scenario::new(
        "late.cp.example.net",
        "[root_proxy]\nname = \"late\"\n\n[[routes]]\nprefix = \"/\"\nservice = \"late-web\"\nnamespace = \"cp-late\"\nport = 80\n",
    );
    scenario.render();
    block_on(async {
        let c = client(&kubeconfig).await;
        delete_service(&c, "cp-late", "late-web").await;
    });
    let mut apply = scenario
        .apply_command(&kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    block_on(async {
        let c = client(&kubeconfig).await;
        // Contour itself says the Service is missing...
        let proxy = eventually(
            120,
            "Contour marks cp-late/late invalid for the missing Service",
            || httpproxy_if_present(&c, "cp-late", "late"),
            |p| p.as_ref().and_then(current_status) == Some("invalid"),
        )
        .await
        .unwrap();
        let why = proxy.to_string();
        assert!(why.contains("late-web"), "{why}");
        // ...and apply is still waiting for it, not failed.
        assert!(
            apply.try_wait().unwrap().is_none(),
            "apply ended before the Service existed"
        );
        apply_objects(&c, &[service("cp-late", "late-web", 80)]).await;
    });
    let out = apply.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    block_on(async {
        let c = client(&kubeconfig).await;
        let proxy = httpproxy(&c, "cp-late", "late").await;
        assert_eq!(current_status(&proxy), Some("valid"), "{proxy:#?}");
    });
}

#[test]
#[ignore = "needs a control plane: OVABOOT_TEST_KUBECONFIG (tests/controlplane/up)"]
fn a_rerun_after_contour_restarts_changes_no_generation() {
    let kubeconfig = kubeconfig();
    let dir = controlplane_dir(&kubeconfig);
    let base = default_plan_applied(&kubeconfig);
    let objects = base.objects();
    block_on(async {
        let c = client(&kubeconfig).await;
        let options = ovaboot::cluster::ApplyOptions::default();
        let before = ovaboot::cluster::apply_plan(&c, &objects, &options)
            .await
            .unwrap();
        controlplane("restart", &dir, &["contour"]);
        wait_for_contour(&dir);
        let after = ovaboot::cluster::apply_plan(&c, &objects, &options)
            .await
            .unwrap();
        for (a, b) in before.objects.iter().zip(&after.objects) {
            assert_eq!(a.object, b.object);
            assert_eq!(a.generation, b.generation, "{}", a.object);
            assert_ne!(
                b.outcome,
                ovaboot::cluster::Outcome::Created,
                "{}",
                b.object
            );
        }
        let proxy = httpproxy(&c, "ovaboot", "ovaboot").await;
        assert_eq!(current_status(&proxy), Some("valid"), "{proxy:#?}");
    });
}

#[test]
#[ignore = "needs a control plane: OVABOOT_TEST_KUBECONFIG (tests/controlplane/up)"]
fn the_firstboot_cluster_phase_completes_against_the_control_plane() {
    let kubeconfig = kubeconfig();
    default_plan_applied(&kubeconfig);
    let scenario = Scenario::new(
        "firstboot.cp.example.net",
        "[root_proxy]\nname = \"fb\"\n\n[[routes]]\nprefix = \"/\"\nservice = \"status\"\nnamespace = \"cp-firstboot\"\nport = 80\n",
    );
    block_on(async {
        let c = client(&kubeconfig).await;
        apply_objects(
            &c,
            &[
                namespace("cp-firstboot"),
                service("cp-firstboot", "status", 80),
            ],
        )
        .await;
    });
    let root = scenario.work.path().join("fbroot");
    std::fs::create_dir_all(&root).unwrap();
    let args = [
        "firstboot",
        "--phase",
        "cluster",
        "--root",
        root.to_str().unwrap(),
        "--config",
        scenario.config.to_str().unwrap(),
        "--ovf-env",
        scenario.env.to_str().unwrap(),
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ];
    run_ok(&args);
    assert!(root.join("var/lib/ovaboot/firstboot.json").is_file());
    assert!(root.join("etc/ovaboot/tls/tls.crt").is_file());
    // The properties' digest is recorded with completion: a later boot with
    // the same properties does nothing.
    assert!(root.join("var/lib/ovaboot/properties.json").is_file());
    let mut again = args;
    again[0] = "reconfigure";
    let out = text(&run_ok(&again).stdout);
    assert!(out.contains("properties unchanged since"), "{out}");
    block_on(async {
        let c = client(&kubeconfig).await;
        let proxy = httpproxy(&c, "cp-firstboot", "fb").await;
        assert_eq!(current_status(&proxy), Some("valid"), "{proxy:#?}");
    });
}
