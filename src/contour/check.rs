//! Prove the Contour objects agree with each other before anything is applied:
//! every port one object names is a port another object listens on.

use std::collections::BTreeMap;

use serde_json::Value;

use super::objects::{at, list, locate, map, named, port_number};
use super::transform::{
    CONTOUR, ENVOY, HTTP_PORT, HTTP_PORT_FLAG, HTTPS_PORT, HTTPS_PORT_FLAG, NAMESPACE,
};
use super::{ContourConfig, ContourError, EnvoyExposure, Object};

/// Contour's own defaults for envoy's listener ports when `contour serve` is
/// not given `--envoy-service-http(s)-port`.
const CONTOUR_DEFAULT_HTTP_PORT: u16 = 8080;
const CONTOUR_DEFAULT_HTTPS_PORT: u16 = 8443;

/// Check that `objects` are a self-consistent Contour install for `config`:
/// the contour image is the pinned version; envoy's listener ports (from the
/// `contour serve` flags) are the ports the envoy container declares; every
/// envoy Service targetPort and the readiness probe hit a declared port; the
/// Service selects the envoy pods; and the exposure's own rules hold.
pub fn check(objects: &[Object], config: &ContourConfig) -> Result<(), ContourError> {
    let deployment = locate(objects, "Deployment", NAMESPACE, CONTOUR)?;
    let dep_who = format!("Deployment {NAMESPACE}/{CONTOUR}");
    let contour_field = format!("spec.template.spec.containers[{CONTOUR}]");
    let contour = named(
        list(
            map(deployment, &dep_who, "spec.template.spec")?,
            "containers",
            &dep_who,
            "spec.template.spec.containers",
        )?,
        CONTOUR,
    )
    .ok_or_else(|| ContourError::shape(&dep_who, &contour_field, "no container of that name"))?;

    let image = contour.get("image").and_then(Value::as_str).unwrap_or("");
    let tag = image.rsplit_once(':').map_or("", |(_, tag)| tag);
    if tag != config.version {
        return Err(ContourError::inconsistent(
            &dep_who,
            &format!("{contour_field}.image"),
            format!("is {image:?} but contour.version is {:?}", config.version),
        ));
    }

    let args: Vec<&str> = contour
        .get("args")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let args_field = format!("{contour_field}.args");
    let http = flag_port(
        &args,
        HTTP_PORT_FLAG,
        CONTOUR_DEFAULT_HTTP_PORT,
        &dep_who,
        &args_field,
    )?;
    let https = flag_port(
        &args,
        HTTPS_PORT_FLAG,
        CONTOUR_DEFAULT_HTTPS_PORT,
        &dep_who,
        &args_field,
    )?;

    let ds = locate(objects, "DaemonSet", NAMESPACE, ENVOY)?;
    let ds_who = format!("DaemonSet {NAMESPACE}/{ENVOY}");
    let pod = map(ds, &ds_who, "spec.template.spec")?;
    let host_network = pod.get("hostNetwork").and_then(Value::as_bool) == Some(true);
    let containers = list(pod, "containers", &ds_who, "spec.template.spec.containers")?;
    let envoy_field = format!("spec.template.spec.containers[{ENVOY}]");
    let envoy = named(containers, ENVOY)
        .ok_or_else(|| ContourError::shape(&ds_who, &envoy_field, "no container of that name"))?;

    // name -> (containerPort, hostPort) of the envoy container.
    let mut declared: BTreeMap<String, (u16, Option<u16>)> = BTreeMap::new();
    for port in envoy
        .get("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = port
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let field = format!("{envoy_field}.ports[{name}]");
        let container_port = port_number(port.get("containerPort")).ok_or_else(|| {
            ContourError::inconsistent(
                &ds_who,
                &field,
                "containerPort missing or not a port number",
            )
        })?;
        let host_port = port_number(port.get("hostPort"));
        if host_network && host_port.is_some_and(|h| h != container_port) {
            return Err(ContourError::inconsistent(
                &ds_who,
                &format!("{field}.hostPort"),
                format!(
                    "is {} but containerPort is {container_port}; with hostNetwork they must be equal",
                    host_port.unwrap_or_default()
                ),
            ));
        }
        declared.insert(name, (container_port, host_port));
    }

    // envoy listens where Contour tells it to (xDS); the container must declare that.
    for (name, listener, flag) in [
        ("http", http, HTTP_PORT_FLAG),
        ("https", https, HTTPS_PORT_FLAG),
    ] {
        match declared.get(name) {
            Some((container_port, _)) if *container_port == listener => {}
            Some((container_port, _)) => {
                return Err(ContourError::inconsistent(
                    &ds_who,
                    &format!("{envoy_field}.ports[{name}].containerPort"),
                    format!(
                        "is {container_port} but `contour serve` puts envoy's {name} listener on {listener} ({flag})"
                    ),
                ));
            }
            None => {
                return Err(ContourError::inconsistent(
                    &ds_who,
                    &format!("{envoy_field}.ports[{name}]"),
                    "no such port on the envoy container",
                ));
            }
        }
    }

    let resolves = |target: &Value| match target {
        Value::Number(_) => {
            port_number(Some(target)).is_some_and(|n| declared.values().any(|(c, _)| *c == n))
        }
        Value::String(name) => declared.contains_key(name),
        _ => false,
    };

    for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
        for handler in ["httpGet", "tcpSocket", "grpc"] {
            if let Some(port) = envoy
                .get(probe)
                .and_then(|p| p.get(handler))
                .and_then(|h| h.get("port"))
                && !resolves(port)
            {
                return Err(ContourError::inconsistent(
                    &ds_who,
                    &format!("{envoy_field}.{probe}.{handler}.port"),
                    format!("{port} is not a port the envoy container declares"),
                ));
            }
        }
    }

    let service = locate(objects, "Service", NAMESPACE, ENVOY)?;
    let svc_who = format!("Service {NAMESPACE}/{ENVOY}");
    let spec = map(service, &svc_who, "spec")?;
    let labels = at(ds, "spec.template.metadata.labels").and_then(Value::as_object);
    let selector = spec.get("selector").and_then(Value::as_object);
    let selects = match (selector, labels) {
        (Some(selector), Some(labels)) => {
            !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
        }
        _ => false,
    };
    if !selects {
        return Err(ContourError::inconsistent(
            &svc_who,
            "spec.selector",
            format!("does not select the pods of {ds_who}"),
        ));
    }
    for port in list(spec, "ports", &svc_who, "spec.ports")? {
        let name = port.get("name").and_then(Value::as_str).unwrap_or("?");
        // An absent targetPort defaults to the Service port.
        let target = port.get("targetPort").or_else(|| port.get("port"));
        if !target.is_some_and(resolves) {
            return Err(ContourError::inconsistent(
                &svc_who,
                &format!("spec.ports[{name}].targetPort"),
                format!(
                    "{} is not a port the envoy container declares",
                    target.map_or_else(|| "nothing".to_owned(), Value::to_string)
                ),
            ));
        }
    }

    let service_type = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    match config.envoy_exposure {
        EnvoyExposure::HostNetwork => {
            if !host_network {
                return Err(ContourError::inconsistent(
                    &ds_who,
                    "spec.template.spec.hostNetwork",
                    "must be true for envoy_exposure host-network",
                ));
            }
            if pod.get("dnsPolicy").and_then(Value::as_str) != Some("ClusterFirstWithHostNet") {
                return Err(ContourError::inconsistent(
                    &ds_who,
                    "spec.template.spec.dnsPolicy",
                    "must be ClusterFirstWithHostNet so envoy on the host network still resolves the contour Service",
                ));
            }
            if (http, https) != (HTTP_PORT, HTTPS_PORT) {
                return Err(ContourError::inconsistent(
                    &dep_who,
                    &args_field,
                    format!(
                        "envoy listens on {http}/{https}; host-network needs {HTTP_PORT}/{HTTPS_PORT}"
                    ),
                ));
            }
            if service_type == "LoadBalancer" || spec.contains_key("externalTrafficPolicy") {
                return Err(ContourError::inconsistent(
                    &svc_who,
                    "spec.type",
                    format!(
                        "is {service_type} (or has externalTrafficPolicy); host-network needs a ClusterIP Service"
                    ),
                ));
            }
        }
        EnvoyExposure::HostPort => {
            if host_network {
                return Err(ContourError::inconsistent(
                    &ds_who,
                    "spec.template.spec.hostNetwork",
                    "is true but envoy_exposure is host-port",
                ));
            }
            for (name, want) in [("http", HTTP_PORT), ("https", HTTPS_PORT)] {
                let host = declared.get(name).and_then(|(_, h)| *h);
                if host != Some(want) {
                    return Err(ContourError::inconsistent(
                        &ds_who,
                        &format!("{envoy_field}.ports[{name}].hostPort"),
                        format!(
                            "is {} but host-port exposure needs {want}",
                            host.map_or_else(|| "unset".to_owned(), |h| h.to_string())
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The port a `contour serve` flag sets (`--flag=N` or `--flag N`), else Contour's default.
fn flag_port(
    args: &[&str],
    flag: &str,
    default: u16,
    who: &str,
    field: &str,
) -> Result<u16, ContourError> {
    let with_value = format!("{flag}=");
    let mut value = None;
    for (i, arg) in args.iter().enumerate() {
        if let Some(v) = arg.strip_prefix(&with_value) {
            value = Some(v);
        } else if *arg == flag {
            value = args.get(i + 1).copied();
        }
    }
    match value {
        None => Ok(default),
        Some(v) => v.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
            ContourError::inconsistent(who, field, format!("{flag} has {v:?}, not a port number"))
        }),
    }
}
