//! The checked transform that takes the pinned release's `contour-certgen`
//! Job out of the plan, with its ServiceAccount, Role and RoleBinding. It mints
//! nothing: [`crate::xds`] mints and renews the xDS certificates certgen would
//! write, and the plan applies `contourcert` and `envoycert` before Contour's
//! and envoy's pods, which mount them.
//!
//! Checked, like the host-network transform: the Job, its ServiceAccount,
//! Role and RoleBinding are dropped only when each is exactly what this
//! transform was written for (command, arguments, the Secrets it writes, the
//! RBAC it needs), and the Deployment and DaemonSet still mount those two
//! Secrets where their flags read them. Anything else is refused, naming the
//! object and the field, rather than guessed at: a release whose certgen
//! writes other Secrets, or whose pods read other files, needs this read again.

use serde_json::{Value, json};

use super::objects::{at, list, locate, map, named};
use super::transform::{CONTOUR, ENVOY, NAMESPACE};
use super::{ContourError, Object};
use crate::xds::{CONTOUR_SECRET, ENVOY_SECRET};

/// certgen's ServiceAccount and Role.
const CERTGEN: &str = "contour-certgen";
/// The RoleBinding that gives certgen its Role (the pinned release names it `contour`).
const CERTGEN_BINDING: &str = "contour";
/// The Job's name: this prefix and the release (`contour-certgen-v1-33-6`).
const JOB_PREFIX: &str = "contour-certgen-";

/// What the pinned certgen runs: the two Secrets in compact format
/// (`ca.crt`, `tls.crt`, `tls.key`) in the pod's namespace.
const CERTGEN_COMMAND: [&str; 7] = [
    "contour",
    "certgen",
    "--kube",
    "--incluster",
    "--overwrite",
    "--secrets-format=compact",
    "--namespace=$(CONTOUR_NAMESPACE)",
];

/// The objects without certgen's, in the same order.
pub fn drop_certgen(objects: Vec<Object>) -> Result<Vec<Object>, ContourError> {
    let job = certgen_job(&objects)?;
    exactly(&objects, "ServiceAccount", CERTGEN, &service_account())?;
    exactly(&objects, "Role", CERTGEN, &role())?;
    exactly(&objects, "RoleBinding", CERTGEN_BINDING, &role_binding())?;
    check_job(&objects[job])?;
    mounts(
        &objects,
        "Deployment",
        CONTOUR,
        "containers",
        CONTOUR,
        CONTOUR_SECRET,
        &[
            "--contour-cafile=/certs/ca.crt",
            "--contour-cert-file=/certs/tls.crt",
            "--contour-key-file=/certs/tls.key",
        ],
    )?;
    mounts(
        &objects,
        "DaemonSet",
        ENVOY,
        "initContainers",
        "envoy-initconfig",
        ENVOY_SECRET,
        &[
            "--envoy-cafile=/certs/ca.crt",
            "--envoy-cert-file=/certs/tls.crt",
            "--envoy-key-file=/certs/tls.key",
        ],
    )?;
    let dropped = |o: &Object| {
        let kind = o["kind"].as_str().unwrap_or("");
        let name = at(o, "metadata.name").and_then(Value::as_str).unwrap_or("");
        let ours = at(o, "metadata.namespace").and_then(Value::as_str) == Some(NAMESPACE);
        ours && match kind {
            "Job" => name.starts_with(JOB_PREFIX),
            "ServiceAccount" | "Role" => name == CERTGEN,
            "RoleBinding" => name == CERTGEN_BINDING,
            _ => false,
        }
    };
    Ok(objects.into_iter().filter(|o| !dropped(o)).collect())
}

/// The one Job named for certgen.
fn certgen_job(objects: &[Object]) -> Result<usize, ContourError> {
    let jobs: Vec<usize> = objects
        .iter()
        .enumerate()
        .filter(|(_, o)| {
            o["kind"] == "Job"
                && at(o, "metadata.namespace").and_then(Value::as_str) == Some(NAMESPACE)
                && at(o, "metadata.name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.starts_with(JOB_PREFIX))
        })
        .map(|(i, _)| i)
        .collect();
    match jobs[..] {
        [one] => Ok(one),
        _ => Err(ContourError::shape(
            &format!("Job {NAMESPACE}/{JOB_PREFIX}*"),
            "metadata.name",
            format!("expected one certgen Job, found {}", jobs.len()),
        )),
    }
}

/// The object of `kind` and `name` is exactly `expected`.
fn exactly(
    objects: &[Object],
    kind: &str,
    name: &str,
    expected: &Value,
) -> Result<(), ContourError> {
    let found = locate(objects, kind, NAMESPACE, name)?;
    if found != expected {
        return Err(ContourError::shape(
            &format!("{kind} {NAMESPACE}/{name}"),
            first_difference(expected, found, "")
                .as_deref()
                .unwrap_or("(whole object)"),
            "differs from the certgen RBAC ovaboot replaces; refusing to drop it",
        ));
    }
    Ok(())
}

/// The path of the first field where `a` and `b` differ.
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.keys()
                .chain(y.keys())
                .find_map(|k| match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => first_difference(p, q, &join(k)),
                    _ => Some(join(k)),
                })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, &format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => Some(path.to_owned()),
    }
}

fn service_account() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": { "name": CERTGEN, "namespace": NAMESPACE },
    })
}

fn role() -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": { "name": CERTGEN, "namespace": NAMESPACE },
        "rules": [{ "apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "update"] }],
    })
}

fn role_binding() -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": { "name": CERTGEN_BINDING, "namespace": NAMESPACE },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": CERTGEN },
        "subjects": [{ "kind": "ServiceAccount", "name": CERTGEN, "namespace": NAMESPACE }],
    })
}

/// The Job runs certgen as pinned: one container, its command exactly
/// [`CERTGEN_COMMAND`] (no args), the namespace from the pod's, as certgen's
/// ServiceAccount.
fn check_job(job: &Object) -> Result<(), ContourError> {
    let name = at(job, "metadata.name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let who = format!("Job {NAMESPACE}/{name}");
    let pod = map(job, &who, "spec.template.spec")?;
    let refuse = |field: &str, problem: String| Err(ContourError::shape(&who, field, problem));
    if pod.get("serviceAccountName").and_then(Value::as_str) != Some(CERTGEN) {
        return refuse(
            "spec.template.spec.serviceAccountName",
            format!("expected {CERTGEN}"),
        );
    }
    if pod.contains_key("initContainers") || pod.contains_key("volumes") {
        return refuse(
            "spec.template.spec",
            "has init containers or volumes certgen did not".into(),
        );
    }
    let containers = list(pod, "containers", &who, "spec.template.spec.containers")?;
    let [container] = containers.as_slice() else {
        return refuse(
            "spec.template.spec.containers",
            format!("expected one container, found {}", containers.len()),
        );
    };
    let command: Vec<&str> = container
        .get("command")
        .and_then(Value::as_array)
        .map(|c| c.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if command != CERTGEN_COMMAND || container.get("args").is_some() {
        return refuse(
            "spec.template.spec.containers[0].command",
            format!(
                "expected exactly `{}` (no args), found `{}`",
                CERTGEN_COMMAND.join(" "),
                command.join(" ")
            ),
        );
    }
    let env = json!([{ "name": "CONTOUR_NAMESPACE", "valueFrom": { "fieldRef": { "fieldPath": "metadata.namespace" } } }]);
    if container.get("env") != Some(&env) {
        return refuse(
            "spec.template.spec.containers[0].env",
            "expected CONTOUR_NAMESPACE from the pod's namespace alone".into(),
        );
    }
    Ok(())
}

/// `container` of the workload mounts `secret` read-only at `/certs` and
/// passes `flags` (the files certgen's Secret holds).
fn mounts(
    objects: &[Object],
    kind: &str,
    name: &str,
    list_key: &str,
    container_name: &str,
    secret: &str,
    flags: &[&str],
) -> Result<(), ContourError> {
    let who = format!("{kind} {NAMESPACE}/{name}");
    let object = locate(objects, kind, NAMESPACE, name)?;
    let pod = map(object, &who, "spec.template.spec")?;
    let volumes = list(pod, "volumes", &who, "spec.template.spec.volumes")?;
    let volume = volumes
        .iter()
        .find(|v| at(v, "secret.secretName").and_then(Value::as_str) == Some(secret));
    let Some(volume_name) = volume.and_then(|v| v.get("name")).and_then(Value::as_str) else {
        return Err(ContourError::shape(
            &who,
            "spec.template.spec.volumes",
            format!("no volume of Secret {secret}"),
        ));
    };
    let field = format!("spec.template.spec.{list_key}[{container_name}]");
    let containers = list(
        pod,
        list_key,
        &who,
        &format!("spec.template.spec.{list_key}"),
    )?;
    let container = named(containers, container_name)
        .ok_or_else(|| ContourError::shape(&who, &field, "no container of that name"))?;
    let mounted = container
        .get("volumeMounts")
        .and_then(Value::as_array)
        .is_some_and(|m| {
            m.iter().any(|m| {
                m.get("name").and_then(Value::as_str) == Some(volume_name)
                    && m.get("mountPath").and_then(Value::as_str) == Some("/certs")
            })
        });
    if !mounted {
        return Err(ContourError::shape(
            &who,
            &format!("{field}.volumeMounts"),
            format!("does not mount Secret {secret} at /certs"),
        ));
    }
    let args: Vec<&str> = container
        .get("args")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(missing) = flags.iter().find(|f| !args.contains(f)) {
        return Err(ContourError::shape(
            &who,
            &format!("{field}.args"),
            format!("no {missing}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
