//! Reshape Contour's stock objects for the chosen envoy exposure. Works on the
//! parsed objects, never on text, and refuses (naming object and field) any
//! manifest that is not laid out as expected, rather than guessing.
//!
//! `host-network` needs five coordinated changes; the two-line patch
//! (`hostNetwork: true` alone) leaves envoy on 8080/8443:
//! 1. envoy DaemonSet: `hostNetwork: true`, `dnsPolicy: ClusterFirstWithHostNet`
//!    (envoy resolves the `contour` xDS Service through cluster DNS);
//! 2. envoy container ports http/https 80/443, each hostPort equal to its
//!    containerPort (the API requires that with hostNetwork);
//! 3. `contour serve --envoy-service-http-port=80 --envoy-service-https-port=443`:
//!    these flags set the ports of envoy's listeners, which Contour programs over xDS;
//! 4. envoy Service `ClusterIP` (no LoadBalancer, so no `externalTrafficPolicy`
//!    and no cloud load-balancer annotations), targetPorts 80/443;
//! 5. a host sysctl so the unprivileged envoy (UID 65534) may bind 80/443:
//!    see [`super::sysctl`].

use serde_json::{Map, Value, json};

use super::objects::{list_mut, locate_mut, map_mut, named_mut, port_number};
use super::{ContourError, EnvoyExposure, Object};

pub(crate) const NAMESPACE: &str = "projectcontour";
pub(crate) const ENVOY: &str = "envoy";
pub(crate) const CONTOUR: &str = "contour";
pub(crate) const HTTP_PORT: u16 = 80;
pub(crate) const HTTPS_PORT: u16 = 443;
pub(crate) const HTTP_PORT_FLAG: &str = "--envoy-service-http-port";
pub(crate) const HTTPS_PORT_FLAG: &str = "--envoy-service-https-port";

/// Service fields that only mean something for NodePort/LoadBalancer Services;
/// the API server refuses some of them on a ClusterIP Service.
const LOAD_BALANCER_FIELDS: [&str; 6] = [
    "externalTrafficPolicy",
    "loadBalancerIP",
    "loadBalancerSourceRanges",
    "loadBalancerClass",
    "allocateLoadBalancerNodePorts",
    "healthCheckNodePort",
];

/// Annotation prefixes read by cloud load-balancer controllers.
const CLOUD_ANNOTATION_PREFIXES: [&str; 2] =
    ["service.beta.kubernetes.io/", "service.kubernetes.io/"];

/// Return the objects reshaped for `exposure`, in the same (apply) order.
/// `host-port` is Contour's stock layout: the objects come back unchanged.
pub fn transform(
    mut objects: Vec<Object>,
    exposure: EnvoyExposure,
) -> Result<Vec<Object>, ContourError> {
    match exposure {
        EnvoyExposure::HostPort => {}
        EnvoyExposure::HostNetwork => {
            envoy_on_host_network(&mut objects)?;
            contour_serve_ports(&mut objects)?;
            envoy_service_cluster_ip(&mut objects)?;
        }
    }
    Ok(objects)
}

fn envoy_on_host_network(objects: &mut [Object]) -> Result<(), ContourError> {
    let ds = locate_mut(objects, "DaemonSet", NAMESPACE, ENVOY)?;
    let who = format!("DaemonSet {NAMESPACE}/{ENVOY}");
    let pod = map_mut(ds, &who, "spec.template.spec")?;
    pod.insert("hostNetwork".into(), json!(true));
    pod.insert("dnsPolicy".into(), json!("ClusterFirstWithHostNet"));

    let containers = list_mut(pod, "containers", &who, "spec.template.spec.containers")?;
    let envoy_field = format!("spec.template.spec.containers[{ENVOY}]");
    let envoy = named_mut(containers, ENVOY)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| ContourError::shape(&who, &envoy_field, "no container of that name"))?;
    let ports_field = format!("{envoy_field}.ports");
    let ports = list_mut(envoy, "ports", &who, &ports_field)?;
    for (name, number) in [("http", HTTP_PORT), ("https", HTTPS_PORT)] {
        let field = format!("{ports_field}[{name}]");
        let port = named_mut(ports, name)
            .and_then(Value::as_object_mut)
            .ok_or_else(|| ContourError::shape(&who, &field, "no port of that name"))?;
        if port_number(port.get("containerPort")).is_none() {
            return Err(ContourError::shape(
                &who,
                &format!("{field}.containerPort"),
                "missing or not a port number",
            ));
        }
        port.insert("containerPort".into(), json!(number));
        port.insert("hostPort".into(), json!(number));
    }

    // In the host's network namespace every containerPort is a host port; say so
    // explicitly (as the API server would default it) so render and apply agree.
    for key in ["initContainers", "containers"] {
        let Some(list) = pod.get_mut(key).and_then(Value::as_array_mut) else {
            continue;
        };
        for container in list {
            let name = container
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned();
            let Some(ports) = container.get_mut("ports").and_then(Value::as_array_mut) else {
                continue;
            };
            for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                let field = format!(
                    "spec.template.spec.{key}[{name}].ports[{}]",
                    port.get("name").and_then(Value::as_str).unwrap_or("?")
                );
                let Some(container_port) = port_number(port.get("containerPort")) else {
                    return Err(ContourError::shape(
                        &who,
                        &format!("{field}.containerPort"),
                        "missing or not a port number",
                    ));
                };
                match port_number(port.get("hostPort")) {
                    None => {
                        port.insert("hostPort".into(), json!(container_port));
                    }
                    Some(host) if host == container_port => {}
                    Some(host) => {
                        return Err(ContourError::shape(
                            &who,
                            &format!("{field}.hostPort"),
                            format!(
                                "is {host} but containerPort is {container_port}; with hostNetwork they must be equal"
                            ),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

fn contour_serve_ports(objects: &mut [Object]) -> Result<(), ContourError> {
    let deployment = locate_mut(objects, "Deployment", NAMESPACE, CONTOUR)?;
    let who = format!("Deployment {NAMESPACE}/{CONTOUR}");
    let pod = map_mut(deployment, &who, "spec.template.spec")?;
    let containers = list_mut(pod, "containers", &who, "spec.template.spec.containers")?;
    let field = format!("spec.template.spec.containers[{CONTOUR}]");
    let contour = named_mut(containers, CONTOUR)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| ContourError::shape(&who, &field, "no container of that name"))?;
    let args_field = format!("{field}.args");
    let args = list_mut(contour, "args", &who, &args_field)?;
    if args.first().and_then(Value::as_str) != Some("serve") {
        return Err(ContourError::shape(
            &who,
            &args_field,
            "expected the arguments of `contour serve` (first argument \"serve\")",
        ));
    }
    remove_flag(args, HTTP_PORT_FLAG);
    remove_flag(args, HTTPS_PORT_FLAG);
    args.push(json!(format!("{HTTP_PORT_FLAG}={HTTP_PORT}")));
    args.push(json!(format!("{HTTPS_PORT_FLAG}={HTTPS_PORT}")));
    Ok(())
}

/// Drop `--flag=value` and `--flag value` so the flag appears once, as we set it.
fn remove_flag(args: &mut Vec<Value>, flag: &str) {
    let with_value = format!("{flag}=");
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            Some(a) if a == flag => {
                let end = (i + 2).min(args.len());
                args.drain(i..end);
            }
            Some(a) if a.starts_with(&with_value) => {
                args.remove(i);
            }
            _ => i += 1,
        }
    }
}

fn envoy_service_cluster_ip(objects: &mut [Object]) -> Result<(), ContourError> {
    let service = locate_mut(objects, "Service", NAMESPACE, ENVOY)?;
    let who = format!("Service {NAMESPACE}/{ENVOY}");

    if let Some(metadata) = service.get_mut("metadata").and_then(Value::as_object_mut)
        && let Some(annotations) = metadata
            .get_mut("annotations")
            .and_then(Value::as_object_mut)
    {
        annotations.retain(|key, _| !CLOUD_ANNOTATION_PREFIXES.iter().any(|p| key.starts_with(p)));
        if annotations.is_empty() {
            metadata.remove("annotations");
        }
    }

    let spec = map_mut(service, &who, "spec")?;
    match spec.get("type").and_then(Value::as_str) {
        Some("LoadBalancer") => {}
        other => {
            return Err(ContourError::shape(
                &who,
                "spec.type",
                format!("expected LoadBalancer, found {}", shown(other)),
            ));
        }
    }
    spec.insert("type".into(), json!("ClusterIP"));
    for field in LOAD_BALANCER_FIELDS {
        spec.remove(field);
    }
    let ports = list_mut(spec, "ports", &who, "spec.ports")?;
    for (name, number) in [("http", HTTP_PORT), ("https", HTTPS_PORT)] {
        let port: &mut Map<String, Value> = named_mut(ports, name)
            .and_then(Value::as_object_mut)
            .ok_or_else(|| {
            ContourError::shape(&who, &format!("spec.ports[{name}]"), "no port of that name")
        })?;
        port.insert("targetPort".into(), json!(number));
    }
    for port in ports.iter_mut().filter_map(Value::as_object_mut) {
        port.remove("nodePort");
    }
    Ok(())
}

fn shown(value: Option<&str>) -> String {
    value.map_or_else(|| "nothing".to_owned(), |v| format!("{v:?}"))
}

#[cfg(test)]
mod tests;
