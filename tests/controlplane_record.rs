//! The apply record against a real control plane (`tests/controlplane/up DIR`,
//! `OVABOOT_TEST_KUBECONFIG=DIR/kubeconfig`; `#[ignore]`d, run with `--include-ignored`): a re-apply does
//! not send the CRDs, one changed by someone else is applied again, and an apply
//! that does not fit the schema stops at once.
//!
//! The record is one ConfigMap for the whole cluster, and the first test edits a CRD
//! every scenario carries: the binary has it to itself (cargo runs test binaries one
//! after the other), and the other test here applies no CRD.

mod cli_support;
mod controlplane_support;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use cli_support::text;
use controlplane_support::*;
use ovaboot::cluster::{ApplyOptions, ApplySummary, Outcome, apply_plan};

const CRD: &str = "httpproxies.projectcontour.io";
const ANNOTATION: &str = "controller-gen.kubebuilder.io/version";

fn skipped(summary: &ApplySummary) -> Vec<String> {
    summary
        .objects
        .iter()
        .filter(|o| o.skipped)
        .map(|o| o.object.name.clone())
        .collect()
}

fn crds(summary: &ApplySummary) -> Vec<String> {
    summary
        .objects
        .iter()
        .filter(|o| o.object.kind == "CustomResourceDefinition")
        .map(|o| o.object.name.clone())
        .collect()
}

/// `patch` (a JSON merge patch) on the CRD as another field manager, as kubectl sends it.
async fn edit(crds: &Api<CustomResourceDefinition>, manager: &str, patch: serde_json::Value) {
    let params = PatchParams {
        field_manager: Some(manager.to_owned()),
        ..Default::default()
    };
    crds.patch(CRD, &params, &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("{manager} on {CRD}: {e}"));
}

#[test]
#[ignore = "needs a control plane: OVABOOT_TEST_KUBECONFIG (tests/controlplane/up)"]
fn a_reapply_sends_no_crd_and_one_changed_by_someone_else_is_applied_again() {
    let kubeconfig = kubeconfig();
    let base = default_plan_applied(&kubeconfig);
    // `ovaboot apply` keeps the record: run twice, the second sends no CRD (the
    // first may have had to record them).
    base.apply_command(&kubeconfig).output().unwrap();
    let out = base.apply_command(&kubeconfig).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(" unchanged (5 of them not sent: unchanged since ovaboot applied them"),
        "{stdout}"
    );

    let objects = base.objects();
    block_on(async {
        let c = client(&kubeconfig).await;
        let options = ApplyOptions {
            record: true,
            ..ApplyOptions::default()
        };
        let first = apply_plan(&c, &objects, &options).await.unwrap();
        let all_crds = crds(&first);
        assert_eq!(all_crds.len(), 5);
        assert_eq!(skipped(&first), all_crds, "recorded by the binary's runs");

        // Someone else labels the CRD (as `kubectl label` does): a new
        // resourceVersion, so it is applied again; the label is not ovaboot's.
        let api: Api<CustomResourceDefinition> = Api::all(c.clone());
        edit(
            &api,
            "kubectl-label",
            json!({"metadata": {"labels": {"cp-record": "x"}}}),
        )
        .await;
        let labelled = apply_plan(&c, &objects, &options).await.unwrap();
        let others: Vec<String> = all_crds.iter().filter(|n| *n != CRD).cloned().collect();
        assert_eq!(skipped(&labelled), others);
        let proxy_crd = labelled.get("CustomResourceDefinition", CRD).unwrap();
        assert_eq!(proxy_crd.outcome, Outcome::Unchanged);
        let live = api.get(CRD).await.unwrap();
        assert_eq!(live.metadata.labels.unwrap()["cp-record"], "x");
        // Applied and recorded again: the next run sends it no more.
        let again = apply_plan(&c, &objects, &options).await.unwrap();
        assert_eq!(skipped(&again), all_crds);

        // Someone edits a field ovaboot applied (as `kubectl edit` would): applied
        // again, ovaboot's value restored, `changed`.
        let planned = live.metadata.annotations.unwrap()[ANNOTATION].clone();
        edit(
            &api,
            "kubectl-edit",
            json!({"metadata": {"annotations": {ANNOTATION: "edited"}}}),
        )
        .await;
        let restored = apply_plan(&c, &objects, &options).await.unwrap();
        assert_eq!(skipped(&restored), others);
        let proxy_crd = restored.get("CustomResourceDefinition", CRD).unwrap();
        assert_eq!(proxy_crd.outcome, Outcome::Changed);
        let live = api.get(CRD).await.unwrap();
        assert_eq!(live.metadata.annotations.unwrap()[ANNOTATION], planned);
        let again = apply_plan(&c, &objects, &options).await.unwrap();
        assert_eq!(skipped(&again), all_crds);

        // No generation moved in all this (a label and an annotation are no spec).
        for (a, b) in first.objects.iter().zip(&again.objects) {
            assert_eq!(a.generation, b.generation, "{}", a.object);
        }
        edit(
            &api,
            "kubectl-label",
            json!({"metadata": {"labels": {"cp-record": null}}}),
        )
        .await;
    });
}

#[test]
#[ignore = "needs a control plane: OVABOOT_TEST_KUBECONFIG (tests/controlplane/up)"]
fn an_apply_with_a_field_the_schema_lacks_stops_at_once_naming_object_and_field() {
    let kubeconfig = kubeconfig();
    let work = tempfile::tempdir().unwrap();
    let manifests = work.path().join("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::write(
        manifests.join("00-namespace.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cp-record-bad\n",
    )
    .unwrap();
    std::fs::write(
        manifests.join("01-configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: unknown-field\n  namespace: cp-record-bad\nbogus: 1\n",
    )
    .unwrap();
    let config = work.path().join("ovaboot.toml");
    std::fs::write(&config, "").unwrap();
    let out = ovaboot_command()
        .args(["apply", "--from"])
        .arg(work.path())
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "permanent: {stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("ovaboot: error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    let line = errors[0];
    assert!(
        line.starts_with(
            "ovaboot: error: apply ConfigMap cp-record-bad/unknown-field: the API server refused it \
             (500 InternalServerError): failed to create typed patch object \
             (cp-record-bad/unknown-field; /v1, Kind=ConfigMap): .bogus: field not declared in schema"
        ),
        "{line}"
    );
    // One answer, not retries until request_retry_secs (each would log "retry N in").
    assert!(!stderr.contains("retry"), "not retried: {stderr}");
}
