//! Plain Kubernetes objects and the small helpers the transform and check use to
//! walk them with errors that name the object and the field.

use serde_json::{Map, Value};

use super::ContourError;

/// One Kubernetes object (apiVersion, kind, metadata, ...), as the executor applies it.
pub type Object = Value;

/// `Kind namespace/name` (or `Kind name` for cluster-scoped objects), for messages.
pub fn describe(object: &Object) -> String {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("<no kind>");
    let name = at(object, "metadata.name")
        .and_then(Value::as_str)
        .unwrap_or("<no name>");
    match at(object, "metadata.namespace").and_then(Value::as_str) {
        Some(namespace) => format!("{kind} {namespace}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// The value at a dotted path such as `spec.template.spec`.
pub(crate) fn at<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

pub(crate) fn at_mut<'v>(value: &'v mut Value, path: &str) -> Option<&'v mut Value> {
    path.split('.').try_fold(value, |v, key| v.get_mut(key))
}

/// Index of the object with this kind, namespace and name.
pub(crate) fn position(
    objects: &[Object],
    kind: &str,
    namespace: &str,
    name: &str,
) -> Option<usize> {
    objects.iter().position(|o| {
        o.get("kind").and_then(Value::as_str) == Some(kind)
            && at(o, "metadata.namespace").and_then(Value::as_str) == Some(namespace)
            && at(o, "metadata.name").and_then(Value::as_str) == Some(name)
    })
}

/// The object with this kind, namespace and name, or a shape error.
pub(crate) fn locate<'o>(
    objects: &'o [Object],
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<&'o Object, ContourError> {
    position(objects, kind, namespace, name)
        .map(|i| &objects[i])
        .ok_or_else(|| not_found(kind, namespace, name))
}

pub(crate) fn locate_mut<'o>(
    objects: &'o mut [Object],
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<&'o mut Object, ContourError> {
    match position(objects, kind, namespace, name) {
        Some(i) => Ok(&mut objects[i]),
        None => Err(not_found(kind, namespace, name)),
    }
}

fn not_found(kind: &str, namespace: &str, name: &str) -> ContourError {
    ContourError::shape(
        &format!("{kind} {namespace}/{name}"),
        "metadata.name",
        "no such object in the manifest",
    )
}

/// The mapping at `path`, or a shape error naming `object` and the field.
pub(crate) fn map_mut<'v>(
    value: &'v mut Value,
    object: &str,
    path: &str,
) -> Result<&'v mut Map<String, Value>, ContourError> {
    at_mut(value, path)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| ContourError::shape(object, path, "missing or not a mapping"))
}

pub(crate) fn map<'v>(
    value: &'v Value,
    object: &str,
    path: &str,
) -> Result<&'v Map<String, Value>, ContourError> {
    at(value, path)
        .and_then(Value::as_object)
        .ok_or_else(|| ContourError::shape(object, path, "missing or not a mapping"))
}

/// The list under `key` of a mapping, or a shape error naming `field`.
pub(crate) fn list_mut<'v>(
    parent: &'v mut Map<String, Value>,
    key: &str,
    object: &str,
    field: &str,
) -> Result<&'v mut Vec<Value>, ContourError> {
    parent
        .get_mut(key)
        .and_then(Value::as_array_mut)
        .ok_or_else(|| ContourError::shape(object, field, "missing or not a list"))
}

pub(crate) fn list<'v>(
    parent: &'v Map<String, Value>,
    key: &str,
    object: &str,
    field: &str,
) -> Result<&'v Vec<Value>, ContourError> {
    parent
        .get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| ContourError::shape(object, field, "missing or not a list"))
}

/// The element of a list of named things (containers, ports) with this `name`.
pub(crate) fn named<'v>(items: &'v [Value], name: &str) -> Option<&'v Value> {
    items
        .iter()
        .find(|i| i.get("name").and_then(Value::as_str) == Some(name))
}

pub(crate) fn named_mut<'v>(items: &'v mut [Value], name: &str) -> Option<&'v mut Value> {
    items
        .iter_mut()
        .find(|i| i.get("name").and_then(Value::as_str) == Some(name))
}

/// A port number field (`containerPort`, `hostPort`, `port`) as u16, if it is one.
pub(crate) fn port_number(value: Option<&Value>) -> Option<u16> {
    value
        .and_then(Value::as_u64)
        .and_then(|n| u16::try_from(n).ok())
}
