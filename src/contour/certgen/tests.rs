//! The certgen drop, on the real pinned manifest and on copies of it changed
//! one field at a time.

use serde_json::{Value, json};

use super::*;
use crate::contour::objects::{at_mut, position};
use crate::contour::test_support::real_objects;

fn ids(objects: &[Object]) -> Vec<String> {
    objects.iter().map(crate::contour::describe).collect()
}

fn find_mut<'o>(objects: &'o mut [Object], kind: &str, name_prefix: &str) -> &'o mut Object {
    objects
        .iter_mut()
        .find(|o| {
            o["kind"] == kind
                && o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(name_prefix))
        })
        .unwrap()
}

#[test]
fn the_pinned_certgen_job_and_its_rbac_leave_and_nothing_else_does() {
    let before = real_objects();
    let after = drop_certgen(before.clone()).unwrap();
    let gone: Vec<String> = ids(&before)
        .into_iter()
        .filter(|id| !ids(&after).contains(id))
        .collect();
    assert_eq!(
        gone,
        [
            "ServiceAccount projectcontour/contour-certgen",
            "RoleBinding projectcontour/contour",
            "Role projectcontour/contour-certgen",
            "Job projectcontour/contour-certgen-v1-33-6",
        ],
    );
    assert_eq!(after.len(), before.len() - 4);
    // The rest keep their order and content.
    let kept: Vec<&Object> = before.iter().filter(|o| after.contains(o)).collect();
    assert_eq!(kept, after.iter().collect::<Vec<_>>());
    assert!(position(&after, "RoleBinding", NAMESPACE, "contour-rolebinding").is_some());
}

/// Each change to what certgen does, or to where the pods read its files, is
/// refused naming the object and field.
#[test]
fn a_release_whose_certgen_differs_is_refused_naming_what_changed() {
    type Change = fn(&mut Vec<Object>);
    let cases: [(Change, &str); 8] = [
        (
            |o| {
                let job = find_mut(o, "Job", JOB_PREFIX);
                at_mut(job, "spec.template.spec.containers").unwrap()[0]["command"][5] =
                    json!("--secrets-format=legacy");
            },
            "Job projectcontour/contour-certgen-v1-33-6: spec.template.spec.containers[0].command: expected exactly `contour certgen --kube --incluster --overwrite --secrets-format=compact --namespace=$(CONTOUR_NAMESPACE)` (no args), found `contour certgen --kube --incluster --overwrite --secrets-format=legacy --namespace=$(CONTOUR_NAMESPACE)`",
        ),
        (
            |o| {
                let job = find_mut(o, "Job", JOB_PREFIX);
                at_mut(job, "spec.template.spec.containers").unwrap()[0]["args"] =
                    json!(["--certificate-lifetime=30"]);
            },
            "Job projectcontour/contour-certgen-v1-33-6: spec.template.spec.containers[0].command: expected exactly",
        ),
        (
            |o| {
                let role = find_mut(o, "Role", CERTGEN);
                role["rules"][0]["resources"] = json!(["secrets", "configmaps"]);
            },
            "Role projectcontour/contour-certgen: rules[0].resources: differs from the certgen RBAC ovaboot replaces",
        ),
        (
            |o| {
                let binding = find_mut(o, "RoleBinding", CERTGEN_BINDING);
                binding["subjects"][0]["name"] = json!("contour");
            },
            "RoleBinding projectcontour/contour: subjects[0].name: differs",
        ),
        (
            |o| {
                let job = find_mut(o, "Job", JOB_PREFIX);
                let second = job.clone();
                let mut second = second;
                second["metadata"]["name"] = json!("contour-certgen-extra");
                o.push(second);
            },
            "Job projectcontour/contour-certgen-*: metadata.name: expected one certgen Job, found 2",
        ),
        (
            |o| o.retain(|x| !(x["kind"] == "Job")),
            "Job projectcontour/contour-certgen-*: metadata.name: expected one certgen Job, found 0",
        ),
        (
            |o| {
                let deployment = find_mut(o, "Deployment", "contour");
                at_mut(deployment, "spec.template.spec.volumes").unwrap()[0]["secret"]["secretName"] =
                    json!("contourcert-v2");
            },
            "Deployment projectcontour/contour: spec.template.spec.volumes: no volume of Secret contourcert",
        ),
        (
            |o| {
                let ds = find_mut(o, "DaemonSet", "envoy");
                let init = &mut at_mut(ds, "spec.template.spec.initContainers").unwrap()[0];
                let args = init["args"].as_array_mut().unwrap();
                args.retain(|a| a != "--envoy-cafile=/certs/ca.crt");
                args.push(json!("--envoy-cafile=/certs/ca-bundle.crt"));
            },
            "DaemonSet projectcontour/envoy: spec.template.spec.initContainers[envoy-initconfig].args: no --envoy-cafile=/certs/ca.crt",
        ),
    ];
    for (change, expected) in cases {
        let mut objects = real_objects();
        change(&mut objects);
        let err = drop_certgen(objects).unwrap_err().to_string();
        assert!(err.contains(expected), "expected {expected:?} in:\n{err}");
        assert!(
            err.starts_with("the Contour manifest no longer has the shape ovaboot expects"),
            "{err}"
        );
    }
}

#[test]
fn the_first_difference_is_named_by_its_path() {
    let a: Value = json!({"a": {"b": [1, {"c": 2}]}, "d": 1});
    let mut b = a.clone();
    b["a"]["b"][1]["c"] = json!(3);
    assert_eq!(first_difference(&a, &b, "").as_deref(), Some("a.b[1].c"));
    b = a.clone();
    b["e"] = json!(1);
    assert_eq!(first_difference(&a, &b, "").as_deref(), Some("e"));
    assert_eq!(first_difference(&a, &a, ""), None);
}
