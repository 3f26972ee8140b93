//! An apply right after a CRD gained a field, against a real control plane
//! (`tests/controlplane/up DIR`, `OVABOOT_TEST_KUBECONFIG=DIR/kubeconfig`;
//! `#[ignore]`d, run with `--include-ignored`).
//!
//! The API server validates a server-side apply against the schema it has
//! cached for the kind, and that cache follows a CRD update a moment later
//! (argo-cd#25064): an object using the new field, applied in the same run
//! as the CRD, may be refused with a 500 "failed to create typed patch
//! object ... field not declared in schema". ovaboot retries that briefly
//! when a CRD changed in the run (`ovaboot::cluster::SCHEMA_SETTLE`), so each
//! round here must apply. Rounds: `OVABOOT_SCHEMA_ROUNDS` (default 10).
//!
//! The CRD is this test's own (`gadgets.lag<unique>.ovaboot.test`, cluster
//! scoped, a new group each run): no other test or earlier run touches it.

mod cli_support;
mod controlplane_support;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};

use controlplane_support::{block_on, client, kubeconfig};
use ovaboot::cluster::{ApplyOptions, Outcome, apply_plan};

/// This run's own API group.
fn group() -> &'static str {
    static GROUP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    GROUP.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        format!("lag{}x{nanos}.ovaboot.test", std::process::id())
    })
}

fn rounds() -> usize {
    std::env::var("OVABOOT_SCHEMA_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10)
}

/// The CRD with string fields `f0` to `f{last}` in its spec.
fn crd(last: usize) -> Value {
    let fields: serde_json::Map<String, Value> = (0..=last)
        .map(|i| (format!("f{i}"), json!({"type": "string"})))
        .collect();
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("gadgets.{}", group())},
        "spec": {
            "group": group(),
            "scope": "Cluster",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {"type": "object", "properties": fields}}
                }}
            }]
        }
    })
}

/// A Gadget that sets field `f{field}`.
fn gadget(field: usize) -> Value {
    json!({
        "apiVersion": format!("{}/v1", group()),
        "kind": "Gadget",
        "metadata": {"name": "lagging"},
        "spec": {format!("f{field}"): format!("set in round {field}")}
    })
}

#[test]
#[ignore = "needs a control plane: OVABOOT_TEST_KUBECONFIG (tests/controlplane/up)"]
fn an_object_using_a_field_its_crd_gains_in_the_same_run_is_applied() {
    let kubeconfig = kubeconfig();
    block_on(async {
        let client = client(&kubeconfig).await;
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        let options = ApplyOptions::default();
        apply_plan(&client, &[crd(0), gadget(0)], &options)
            .await
            .unwrap_or_else(|e| panic!("round 0: {e}"));
        for round in 1..=rounds() {
            let summary = apply_plan(&client, &[crd(round), gadget(round)], &options)
                .await
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            let crd_outcome = summary.objects[0].outcome;
            assert_ne!(
                crd_outcome,
                Outcome::Unchanged,
                "round {round}: the CRD gained f{round}"
            );
        }
        let stored: Api<kube::api::DynamicObject> = Api::all_with(
            client.clone(),
            &kube::api::ApiResource::from_gvk_with_plural(
                &kube::api::GroupVersionKind::gvk(group(), "v1", "Gadget"),
                "gadgets",
            ),
        );
        let last = stored.get("lagging").await.unwrap();
        assert_eq!(
            last.data["spec"][format!("f{}", rounds())],
            format!("set in round {}", rounds()),
            "the last field is stored, not pruned"
        );
        crds.delete(&format!("gadgets.{}", group()), &DeleteParams::default())
            .await
            .unwrap();
    });
}
