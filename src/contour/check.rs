//! Prove the Contour objects agree with each other before anything is applied:
//! every port one object names is a port another object listens on.
//!
//! Each object is read once into a small view (`ContourServe`, `EnvoyPods`,
//! `EnvoyService`); each rule is one function over those views.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

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
    let contour = ContourServe::read(objects)?;
    contour.runs_pinned_version(&config.version)?;
    let envoy = EnvoyPods::read(objects)?;
    envoy.listens_where_contour_says(&contour)?;
    envoy.probes_hit_declared_ports()?;
    let service = EnvoyService::read(objects)?;
    service.selects(&envoy)?;
    service.targets_declared_ports(&envoy)?;
    match config.envoy_exposure {
        EnvoyExposure::HostNetwork => host_network_rules(&contour, &envoy, &service),
        EnvoyExposure::HostPort => host_port_rules(&envoy),
    }
}

/// The contour Deployment's `contour serve` container.
struct ContourServe<'o> {
    who: String,
    field: String,
    container: &'o Value,
    /// envoy's listener ports as `contour serve` sets them.
    http: u16,
    https: u16,
}

impl<'o> ContourServe<'o> {
    fn read(objects: &'o [Object]) -> Result<Self, ContourError> {
        let deployment = locate(objects, "Deployment", NAMESPACE, CONTOUR)?;
        let who = format!("Deployment {NAMESPACE}/{CONTOUR}");
        let field = format!("spec.template.spec.containers[{CONTOUR}]");
        let pod = map(deployment, &who, "spec.template.spec")?;
        let containers = list(pod, "containers", &who, "spec.template.spec.containers")?;
        let container = named(containers, CONTOUR)
            .ok_or_else(|| ContourError::shape(&who, &field, "no container of that name"))?;
        let args: Vec<&str> = container
            .get("args")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let args_field = format!("{field}.args");
        let port = |flag, default| flag_port(&args, flag, default, &who, &args_field);
        let http = port(HTTP_PORT_FLAG, CONTOUR_DEFAULT_HTTP_PORT)?;
        let https = port(HTTPS_PORT_FLAG, CONTOUR_DEFAULT_HTTPS_PORT)?;
        Ok(Self {
            who,
            field,
            container,
            http,
            https,
        })
    }

    fn runs_pinned_version(&self, version: &str) -> Result<(), ContourError> {
        let image = self
            .container
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or("");
        let tag = image.rsplit_once(':').map_or("", |(_, tag)| tag);
        if tag == version {
            return Ok(());
        }
        Err(ContourError::inconsistent(
            &self.who,
            &format!("{}.image", self.field),
            format!("is {image:?} but contour.version is {version:?}"),
        ))
    }
}

/// The envoy DaemonSet's pod template and the ports its envoy container declares.
struct EnvoyPods<'o> {
    who: String,
    field: String,
    daemon_set: &'o Object,
    pod: &'o Map<String, Value>,
    container: &'o Value,
    host_network: bool,
    /// name -> (containerPort, hostPort) of the envoy container.
    declared: BTreeMap<String, (u16, Option<u16>)>,
}

impl<'o> EnvoyPods<'o> {
    fn read(objects: &'o [Object]) -> Result<Self, ContourError> {
        let daemon_set = locate(objects, "DaemonSet", NAMESPACE, ENVOY)?;
        let who = format!("DaemonSet {NAMESPACE}/{ENVOY}");
        let field = format!("spec.template.spec.containers[{ENVOY}]");
        let pod = map(daemon_set, &who, "spec.template.spec")?;
        let host_network = pod.get("hostNetwork").and_then(Value::as_bool) == Some(true);
        let containers = list(pod, "containers", &who, "spec.template.spec.containers")?;
        let container = named(containers, ENVOY)
            .ok_or_else(|| ContourError::shape(&who, &field, "no container of that name"))?;
        let mut declared = BTreeMap::new();
        for port in container
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = port.get("name").and_then(Value::as_str).unwrap_or("");
            let port_field = format!("{field}.ports[{name}]");
            let container_port = port_number(port.get("containerPort")).ok_or_else(|| {
                ContourError::inconsistent(
                    &who,
                    &port_field,
                    "containerPort missing or not a port number",
                )
            })?;
            let host_port = port_number(port.get("hostPort"));
            if let Some(host_port) = host_port.filter(|h| host_network && *h != container_port) {
                return Err(ContourError::inconsistent(
                    &who,
                    &format!("{port_field}.hostPort"),
                    format!(
                        "is {host_port} but containerPort is {container_port}; with hostNetwork they must be equal"
                    ),
                ));
            }
            declared.insert(name.to_owned(), (container_port, host_port));
        }
        Ok(Self {
            who,
            field,
            daemon_set,
            pod,
            container,
            host_network,
            declared,
        })
    }

    /// A Service targetPort or probe port: a declared port's number or name.
    fn declares(&self, target: &Value) -> bool {
        match target {
            Value::Number(_) => port_number(Some(target))
                .is_some_and(|n| self.declared.values().any(|(c, _)| *c == n)),
            Value::String(name) => self.declared.contains_key(name),
            _ => false,
        }
    }

    /// envoy listens where Contour tells it to (xDS); the container must declare that.
    fn listens_where_contour_says(&self, contour: &ContourServe) -> Result<(), ContourError> {
        for (name, listener, flag) in [
            ("http", contour.http, HTTP_PORT_FLAG),
            ("https", contour.https, HTTPS_PORT_FLAG),
        ] {
            match self.declared.get(name) {
                Some((container_port, _)) if *container_port == listener => {}
                Some((container_port, _)) => {
                    return Err(ContourError::inconsistent(
                        &self.who,
                        &format!("{}.ports[{name}].containerPort", self.field),
                        format!(
                            "is {container_port} but `contour serve` puts envoy's {name} listener on {listener} ({flag})"
                        ),
                    ));
                }
                None => {
                    return Err(ContourError::inconsistent(
                        &self.who,
                        &format!("{}.ports[{name}]", self.field),
                        "no such port on the envoy container",
                    ));
                }
            }
        }
        Ok(())
    }

    fn probes_hit_declared_ports(&self) -> Result<(), ContourError> {
        for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
            for handler in ["httpGet", "tcpSocket", "grpc"] {
                let port = self
                    .container
                    .get(probe)
                    .and_then(|p| p.get(handler))
                    .and_then(|h| h.get("port"));
                if let Some(port) = port.filter(|port| !self.declares(port)) {
                    return Err(ContourError::inconsistent(
                        &self.who,
                        &format!("{}.{probe}.{handler}.port", self.field),
                        format!("{port} is not a port the envoy container declares"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The envoy Service's spec.
struct EnvoyService<'o> {
    who: String,
    spec: &'o Map<String, Value>,
}

impl<'o> EnvoyService<'o> {
    fn read(objects: &'o [Object]) -> Result<Self, ContourError> {
        let service = locate(objects, "Service", NAMESPACE, ENVOY)?;
        let who = format!("Service {NAMESPACE}/{ENVOY}");
        let spec = map(service, &who, "spec")?;
        Ok(Self { who, spec })
    }

    fn service_type(&self) -> &str {
        self.spec
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP")
    }

    fn selects(&self, envoy: &EnvoyPods) -> Result<(), ContourError> {
        let labels =
            at(envoy.daemon_set, "spec.template.metadata.labels").and_then(Value::as_object);
        let selector = self.spec.get("selector").and_then(Value::as_object);
        let selects = match (selector, labels) {
            (Some(selector), Some(labels)) => {
                !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
            }
            _ => false,
        };
        if selects {
            return Ok(());
        }
        Err(ContourError::inconsistent(
            &self.who,
            "spec.selector",
            format!("does not select the pods of {}", envoy.who),
        ))
    }

    fn targets_declared_ports(&self, envoy: &EnvoyPods) -> Result<(), ContourError> {
        for port in list(self.spec, "ports", &self.who, "spec.ports")? {
            let name = port.get("name").and_then(Value::as_str).unwrap_or("?");
            // An absent targetPort defaults to the Service port.
            let target = port.get("targetPort").or_else(|| port.get("port"));
            if !target.is_some_and(|t| envoy.declares(t)) {
                return Err(ContourError::inconsistent(
                    &self.who,
                    &format!("spec.ports[{name}].targetPort"),
                    format!(
                        "{} is not a port the envoy container declares",
                        target.map_or_else(|| "nothing".to_owned(), Value::to_string)
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// envoy on the host network: listening on 80/443 itself, still resolving
/// cluster names, behind a Service that no load balancer claims.
fn host_network_rules(
    contour: &ContourServe,
    envoy: &EnvoyPods,
    service: &EnvoyService,
) -> Result<(), ContourError> {
    if !envoy.host_network {
        return Err(ContourError::inconsistent(
            &envoy.who,
            "spec.template.spec.hostNetwork",
            "must be true for envoy_exposure host-network",
        ));
    }
    if envoy.pod.get("dnsPolicy").and_then(Value::as_str) != Some("ClusterFirstWithHostNet") {
        return Err(ContourError::inconsistent(
            &envoy.who,
            "spec.template.spec.dnsPolicy",
            "must be ClusterFirstWithHostNet so envoy on the host network still resolves the contour Service",
        ));
    }
    if (contour.http, contour.https) != (HTTP_PORT, HTTPS_PORT) {
        return Err(ContourError::inconsistent(
            &contour.who,
            &format!("{}.args", contour.field),
            format!(
                "envoy listens on {}/{}; host-network needs {HTTP_PORT}/{HTTPS_PORT}",
                contour.http, contour.https
            ),
        ));
    }
    let service_type = service.service_type();
    if service_type == "LoadBalancer" || service.spec.contains_key("externalTrafficPolicy") {
        return Err(ContourError::inconsistent(
            &service.who,
            "spec.type",
            format!(
                "is {service_type} (or has externalTrafficPolicy); host-network needs a ClusterIP Service"
            ),
        ));
    }
    Ok(())
}

/// envoy in the pod network, reached through hostPorts 80/443.
fn host_port_rules(envoy: &EnvoyPods) -> Result<(), ContourError> {
    if envoy.host_network {
        return Err(ContourError::inconsistent(
            &envoy.who,
            "spec.template.spec.hostNetwork",
            "is true but envoy_exposure is host-port",
        ));
    }
    for (name, want) in [("http", HTTP_PORT), ("https", HTTPS_PORT)] {
        let host = envoy.declared.get(name).and_then(|(_, h)| *h);
        if host != Some(want) {
            return Err(ContourError::inconsistent(
                &envoy.who,
                &format!("{}.ports[{name}].hostPort", envoy.field),
                format!(
                    "is {} but host-port exposure needs {want}",
                    host.map_or_else(|| "unset".to_owned(), |h| h.to_string())
                ),
            ));
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
