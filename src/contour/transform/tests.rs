use serde_json::{Value, json};

use super::*;
use crate::contour::test_support::{fixture_objects, real_objects};
use crate::contour::{ContourConfig, check, describe};

fn find<'o>(objects: &'o [Object], kind: &str, name: &str) -> &'o Value {
    objects
        .iter()
        .find(|o| {
            o["kind"] == kind
                && o["metadata"]["name"] == name
                && o["metadata"]["namespace"] == NAMESPACE
        })
        .unwrap_or_else(|| panic!("{kind} {name} not found"))
}

fn container<'o>(workload: &'o Value, name: &str) -> &'o Value {
    workload["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

fn port<'o>(container: &'o Value, name: &str) -> &'o Value {
    container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap()
}

fn host_network_config() -> ContourConfig {
    ContourConfig::default()
}

fn host_port_config() -> ContourConfig {
    ContourConfig {
        envoy_exposure: EnvoyExposure::HostPort,
        ..ContourConfig::default()
    }
}

#[test]
fn host_network_on_the_real_manifest() {
    let stock = real_objects();
    let objects = transform(stock.clone(), EnvoyExposure::HostNetwork).unwrap();

    // Same objects, same (apply) order.
    let names = |o: &[Object]| o.iter().map(describe).collect::<Vec<_>>();
    assert_eq!(names(&objects), names(&stock));

    let ds = find(&objects, "DaemonSet", "envoy");
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    assert_eq!(pod["dnsPolicy"], "ClusterFirstWithHostNet");
    let envoy = container(ds, "envoy");
    assert_eq!(port(envoy, "http")["containerPort"], 80);
    assert_eq!(port(envoy, "http")["hostPort"], 80);
    assert_eq!(port(envoy, "https")["containerPort"], 443);
    assert_eq!(port(envoy, "https")["hostPort"], 443);
    // Other ports keep their number; the readiness probe still hits one of them.
    assert_eq!(port(envoy, "metrics")["containerPort"], 8002);
    assert_eq!(port(envoy, "metrics")["hostPort"], 8002);
    assert_eq!(envoy["readinessProbe"]["httpGet"]["port"], 8002);
    // Nothing else in the envoy pod moved.
    let mut rest = pod.clone();
    let mut stock_rest = find(&stock, "DaemonSet", "envoy")["spec"]["template"]["spec"].clone();
    for p in [&mut rest, &mut stock_rest] {
        let p = p.as_object_mut().unwrap();
        p.remove("hostNetwork");
        p.remove("dnsPolicy");
        p.remove("containers");
    }
    assert_eq!(rest, stock_rest);
    assert_eq!(
        container(ds, "shutdown-manager"),
        container(find(&stock, "DaemonSet", "envoy"), "shutdown-manager")
    );

    let contour = container(find(&objects, "Deployment", "contour"), "contour");
    let args: Vec<&str> = contour["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "serve");
    assert_eq!(
        args.iter()
            .filter(|a| a.starts_with("--envoy-service-http-port"))
            .count(),
        1
    );
    assert!(args.ends_with(&[
        "--envoy-service-http-port=80",
        "--envoy-service-https-port=443"
    ]));
    let stock_args = container(find(&stock, "Deployment", "contour"), "contour")["args"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(args.len(), stock_args + 2);

    let service = find(&objects, "Service", "envoy");
    assert_eq!(service["spec"]["type"], "ClusterIP");
    assert!(service["spec"].get("externalTrafficPolicy").is_none());
    assert!(
        service["metadata"].get("annotations").is_none(),
        "the only annotation was the AWS one"
    );
    let ports = service["spec"]["ports"].as_array().unwrap();
    assert_eq!(
        ports[0],
        json!({"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80})
    );
    assert_eq!(
        ports[1],
        json!({"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443})
    );
    assert_eq!(service["spec"]["selector"], json!({"app": "envoy"}));

    // Everything else is byte-for-byte the stock release.
    for (new, old) in objects.iter().zip(&stock) {
        let who = describe(new);
        if ![
            "DaemonSet projectcontour/envoy",
            "Deployment projectcontour/contour",
            "Service projectcontour/envoy",
        ]
        .contains(&who.as_str())
        {
            assert_eq!(new, old, "{who} changed");
        }
    }

    check(&objects, &host_network_config()).unwrap();
}

#[test]
fn host_port_leaves_the_real_manifest_unchanged() {
    let stock = real_objects();
    let objects = transform(stock.clone(), EnvoyExposure::HostPort).unwrap();
    assert_eq!(objects, stock);
    check(&objects, &host_port_config()).unwrap();
}

#[test]
fn the_stock_layout_is_not_a_host_network_install() {
    let err = check(&real_objects(), &host_network_config()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the Contour objects are not self-consistent: DaemonSet projectcontour/envoy: spec.template.spec.hostNetwork: must be true for envoy_exposure host-network"
    );
}

#[test]
fn transform_is_idempotent_on_its_flags() {
    let once = transform(real_objects(), EnvoyExposure::HostNetwork).unwrap();
    let err = transform(once, EnvoyExposure::HostNetwork).unwrap_err();
    // The Service is ClusterIP now: a second pass refuses rather than guessing.
    assert_eq!(
        err.to_string(),
        "the Contour manifest no longer has the shape ovaboot expects: Service projectcontour/envoy: spec.type: expected LoadBalancer, found \"ClusterIP\""
    );
}

#[test]
fn hand_written_stock_layout_transforms_and_keeps_foreign_annotations() {
    let objects = transform(
        fixture_objects("minimal-stock-layout.yaml"),
        EnvoyExposure::HostNetwork,
    )
    .unwrap();
    let service = find(&objects, "Service", "envoy");
    assert_eq!(
        service["metadata"]["annotations"],
        json!({"example.com/keep-me": "yes"})
    );
    // `--envoy-service-http-port 8080` (two arguments) is replaced, not duplicated.
    let contour = container(find(&objects, "Deployment", "contour"), "contour");
    assert_eq!(
        contour["args"],
        json!([
            "serve",
            "--incluster",
            "--envoy-service-http-port=80",
            "--envoy-service-https-port=443"
        ])
    );
    check(&objects, &host_network_config()).unwrap();
}

/// Apply `edit` to the hand-written stock layout, transform, expect `message`.
fn shape_error(edit: impl FnOnce(&mut Vec<Object>), message: &str) {
    let mut objects = fixture_objects("minimal-stock-layout.yaml");
    edit(&mut objects);
    let err = transform(objects, EnvoyExposure::HostNetwork).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("the Contour manifest no longer has the shape ovaboot expects: {message}")
    );
}

fn object_mut<'o>(objects: &'o mut [Object], kind: &str) -> &'o mut Value {
    objects.iter_mut().find(|o| o["kind"] == kind).unwrap()
}

#[test]
fn missing_envoy_daemonset_is_refused() {
    shape_error(
        |o| o.retain(|o| o["kind"] != "DaemonSet"),
        "DaemonSet projectcontour/envoy: metadata.name: no such object in the manifest",
    );
}

#[test]
fn renamed_envoy_container_is_refused() {
    shape_error(
        |o| {
            object_mut(o, "DaemonSet")["spec"]["template"]["spec"]["containers"][1]["name"] =
                json!("proxy")
        },
        "DaemonSet projectcontour/envoy: spec.template.spec.containers[envoy]: no container of that name",
    );
}

#[test]
fn envoy_without_an_https_port_is_refused() {
    shape_error(
        |o| {
            object_mut(o, "DaemonSet")["spec"]["template"]["spec"]["containers"][1]["ports"]
                .as_array_mut()
                .unwrap()
                .remove(1);
        },
        "DaemonSet projectcontour/envoy: spec.template.spec.containers[envoy].ports[https]: no port of that name",
    );
}

#[test]
fn envoy_port_with_a_named_container_port_is_refused() {
    shape_error(
        |o| {
            object_mut(o, "DaemonSet")["spec"]["template"]["spec"]["containers"][1]["ports"][0]["containerPort"] =
                json!("http")
        },
        "DaemonSet projectcontour/envoy: spec.template.spec.containers[envoy].ports[http].containerPort: missing or not a port number",
    );
}

#[test]
fn envoy_port_with_a_different_host_port_is_refused() {
    shape_error(
        |o| {
            object_mut(o, "DaemonSet")["spec"]["template"]["spec"]["containers"][1]["ports"][2]["hostPort"] =
                json!(18002)
        },
        "DaemonSet projectcontour/envoy: spec.template.spec.containers[envoy].ports[metrics].hostPort: is 18002 but containerPort is 8002; with hostNetwork they must be equal",
    );
}

#[test]
fn daemonset_without_a_pod_spec_is_refused() {
    shape_error(
        |o| {
            object_mut(o, "DaemonSet")["spec"]["template"]
                .as_object_mut()
                .unwrap()
                .remove("spec");
        },
        "DaemonSet projectcontour/envoy: spec.template.spec: missing or not a mapping",
    );
}

#[test]
fn contour_not_running_serve_is_refused() {
    shape_error(
        |o| {
            object_mut(o, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"] =
                json!(["--incluster"])
        },
        "Deployment projectcontour/contour: spec.template.spec.containers[contour].args: expected the arguments of `contour serve` (first argument \"serve\")",
    );
}

#[test]
fn contour_args_in_command_only_are_refused() {
    shape_error(
        |o| {
            object_mut(o, "Deployment")["spec"]["template"]["spec"]["containers"][0]
                .as_object_mut()
                .unwrap()
                .remove("args");
        },
        "Deployment projectcontour/contour: spec.template.spec.containers[contour].args: missing or not a list",
    );
}

#[test]
fn envoy_service_of_another_type_is_refused() {
    shape_error(
        |o| object_mut(o, "Service")["spec"]["type"] = json!("NodePort"),
        "Service projectcontour/envoy: spec.type: expected LoadBalancer, found \"NodePort\"",
    );
}

#[test]
fn envoy_service_without_an_http_port_is_refused() {
    shape_error(
        |o| object_mut(o, "Service")["spec"]["ports"][0]["name"] = json!("web"),
        "Service projectcontour/envoy: spec.ports[http]: no port of that name",
    );
}

#[test]
fn load_balancer_only_fields_are_dropped() {
    let mut objects = fixture_objects("minimal-stock-layout.yaml");
    let spec = &mut object_mut(&mut objects, "Service")["spec"];
    spec["loadBalancerSourceRanges"] = json!(["10.0.0.0/8"]);
    spec["allocateLoadBalancerNodePorts"] = json!(true);
    spec["ports"][0]["nodePort"] = json!(30080);
    let objects = transform(objects, EnvoyExposure::HostNetwork).unwrap();
    let spec = &find(&objects, "Service", "envoy")["spec"];
    assert_eq!(
        spec.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["ports", "selector", "type"]
    );
    assert!(spec["ports"][0].get("nodePort").is_none());
}

fn inconsistent(objects: &[Object], config: &ContourConfig, message: &str) {
    assert_eq!(
        check(objects, config).unwrap_err().to_string(),
        format!("the Contour objects are not self-consistent: {message}")
    );
}

#[test]
fn check_catches_a_listener_port_the_container_does_not_declare() {
    // The two-line patch: hostNetwork on, but contour still programs 8080/8443.
    let mut objects = transform(real_objects(), EnvoyExposure::HostNetwork).unwrap();
    let dep = objects
        .iter_mut()
        .find(|o| o["kind"] == "Deployment")
        .unwrap();
    let args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array_mut()
        .unwrap();
    args.retain(|a| !a.as_str().unwrap().starts_with("--envoy-service"));
    inconsistent(
        &objects,
        &host_network_config(),
        "DaemonSet projectcontour/envoy: spec.template.spec.containers[envoy].ports[http].containerPort: is 80 but `contour serve` puts envoy's http listener on 8080 (--envoy-service-http-port)",
    );
}

#[test]
fn check_catches_a_service_target_port_nobody_listens_on() {
    let mut objects = transform(real_objects(), EnvoyExposure::HostNetwork).unwrap();
    let svc = objects
        .iter_mut()
        .find(|o| o["kind"] == "Service" && o["metadata"]["name"] == "envoy")
        .unwrap();
    svc["spec"]["ports"][1]["targetPort"] = json!(8443);
    inconsistent(
        &objects,
        &host_network_config(),
        "Service projectcontour/envoy: spec.ports[https].targetPort: 8443 is not a port the envoy container declares",
    );
}

#[test]
fn check_catches_a_readiness_probe_on_an_undeclared_port() {
    let mut objects = fixture_objects("minimal-stock-layout.yaml");
    object_mut(&mut objects, "DaemonSet")["spec"]["template"]["spec"]["containers"][1]["readinessProbe"]
        ["httpGet"]["port"] = json!(9001);
    inconsistent(
        &objects,
        &host_port_config(),
        "DaemonSet projectcontour/envoy: spec.template.spec.containers[envoy].readinessProbe.httpGet.port: 9001 is not a port the envoy container declares",
    );
}

#[test]
fn check_catches_a_service_that_selects_nothing() {
    let mut objects = fixture_objects("minimal-stock-layout.yaml");
    object_mut(&mut objects, "Service")["spec"]["selector"] = json!({"app": "proxy"});
    inconsistent(
        &objects,
        &host_port_config(),
        "Service projectcontour/envoy: spec.selector: does not select the pods of DaemonSet projectcontour/envoy",
    );
}

#[test]
fn check_catches_an_image_that_is_not_the_pinned_version() {
    let config = ContourConfig {
        version: "v1.34.0".into(),
        envoy_exposure: EnvoyExposure::HostPort,
        ..ContourConfig::default()
    };
    inconsistent(
        &real_objects(),
        &config,
        "Deployment projectcontour/contour: spec.template.spec.containers[contour].image: is \"ghcr.io/projectcontour/contour:v1.33.6\" but contour.version is \"v1.34.0\"",
    );
}

#[test]
fn check_catches_host_network_dns_policy_left_at_cluster_first() {
    let mut objects = transform(real_objects(), EnvoyExposure::HostNetwork).unwrap();
    let ds = objects
        .iter_mut()
        .find(|o| o["kind"] == "DaemonSet")
        .unwrap();
    ds["spec"]["template"]["spec"]["dnsPolicy"] = json!("ClusterFirst");
    inconsistent(
        &objects,
        &host_network_config(),
        "DaemonSet projectcontour/envoy: spec.template.spec.dnsPolicy: must be ClusterFirstWithHostNet so envoy on the host network still resolves the contour Service",
    );
}

#[test]
fn plan_runs_load_transform_and_check() {
    let config = ContourConfig {
        manifest: Some(crate::contour::test_support::real_manifest_path()),
        ..ContourConfig::default()
    };
    let objects = crate::contour::plan(&config).unwrap();
    assert_eq!(
        find(&objects, "Service", "envoy")["spec"]["type"],
        "ClusterIP"
    );
}
