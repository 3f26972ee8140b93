use super::*;
use serde_json::json;

fn obj(api_version: &str, kind: &str, name: &str) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": "projectcontour"}})
}

#[test]
fn namespaces_then_crds_then_secrets_then_the_rest_then_httpproxies() {
    let plan = vec![
        obj("projectcontour.io/v1", "HTTPProxy", "root"),
        obj("v1", "Secret", "tls"),
        obj("v1", "ServiceAccount", "contour"),
        obj(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "httpproxies.projectcontour.io",
        ),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "projectcontour"}}),
        obj("apps/v1", "Deployment", "contour"),
        obj(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "extensionservices.projectcontour.io",
        ),
        obj("projectcontour.io/v1", "HTTPProxy", "veba01"),
    ];
    let o = order(&plan).unwrap();
    assert_eq!(
        o.apply_order().collect::<Vec<_>>(),
        vec![4, 3, 6, 1, 2, 5, 0, 7]
    );
    assert_eq!(o.refs[7].to_string(), "HTTPProxy projectcontour/veba01");
    assert_eq!(o.refs[4].to_string(), "Namespace projectcontour");
    assert_eq!(o.refs[7].group(), "projectcontour.io");
    assert_eq!(o.refs[2].group(), "");
}

#[test]
fn extension_services_come_after_the_secrets_and_before_every_httpproxy() {
    let plan = vec![
        obj("projectcontour.io/v1", "HTTPProxy", "root"),
        obj("projectcontour.io/v1alpha1", "ExtensionService", "htpasswd"),
        obj("v1", "Secret", "htpasswd-ca"),
        obj("v1", "Service", "htpasswd"),
    ];
    let o = order(&plan).unwrap();
    assert_eq!(o.apply_order().collect::<Vec<_>>(), vec![2, 3, 1, 0]);
    assert_eq!(o.extension_services, vec![1]);
}

#[test]
fn an_object_without_a_name_is_named_by_its_place() {
    let plan = vec![
        obj("v1", "ConfigMap", "a"),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}),
    ];
    let err = order(&plan).unwrap_err();
    assert_eq!(err.to_string(), "plan object #1 has no metadata.name");
}

#[test]
fn the_same_object_twice_is_refused() {
    let plan = vec![obj("v1", "ConfigMap", "a"), obj("v1", "ConfigMap", "a")];
    let err = order(&plan).unwrap_err();
    assert!(
        err.to_string().contains("ConfigMap projectcontour/a"),
        "{err}"
    );
}

#[test]
fn a_kind_of_the_same_name_in_another_group_is_not_a_crd() {
    let r = object_ref(0, &obj("example.com/v1", "CustomResourceDefinition", "x")).unwrap();
    assert_eq!(Class::of(&r), Class::Other);
}
