//! Test-only: validate an object against a CRD's `openAPIV3Schema` taken from
//! the pinned manifest, so every field the plan emits is one the API server
//! accepts. Covers the structural keywords the Contour CRDs use (type,
//! properties, required, items, additionalProperties, enum, bounds, lengths,
//! pattern, preserve-unknown-fields, int-or-string); CEL rules
//! (`x-kubernetes-validations`) are not evaluated.

use serde_json::Value;

use super::Object;

/// The `openAPIV3Schema` of CRD `crd_name`, served version `version`.
pub(crate) fn crd_schema(objects: &[Object], crd_name: &str, version: &str) -> Value {
    let crd = objects
        .iter()
        .find(|o| o["kind"] == "CustomResourceDefinition" && o["metadata"]["name"] == crd_name)
        .unwrap_or_else(|| panic!("no CRD {crd_name} in the manifest"));
    crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == version && v["served"] == true)
        .unwrap_or_else(|| panic!("CRD {crd_name} does not serve {version}"))["schema"]["openAPIV3Schema"]
        .clone()
}

/// Every violation, as `path: problem`; empty when `value` conforms.
pub(crate) fn validate(value: &Value, schema: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    walk(value, schema, "", &mut errors);
    errors
}

fn walk(value: &Value, schema: &Value, path: &str, errors: &mut Vec<String>) {
    let here = if path.is_empty() { "<root>" } else { path };
    let mut fail = |problem: String| errors.push(format!("{here}: {problem}"));

    let int_or_string = schema["x-kubernetes-int-or-string"] == true;
    if let Some(ty) = schema["type"].as_str() {
        let ok = match ty {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string() || (int_or_string && value.is_i64()),
            "integer" => value.is_i64() || value.is_u64() || (int_or_string && value.is_string()),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => true,
        };
        if !ok {
            fail(format!("{value} is not of type {ty}"));
            return;
        }
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        fail(format!(
            "{value} is not one of {}",
            Value::Array(allowed.clone())
        ));
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema["minimum"].as_f64()
            && n < min
        {
            fail(format!("{n} is below the minimum {min}"));
        }
        if let Some(max) = schema["maximum"].as_f64() {
            let exclusive = schema["exclusiveMaximum"] == true;
            if n > max || (exclusive && n >= max) {
                fail(format!("{n} is above the maximum {max}"));
            }
        }
    }
    if let Some(s) = value.as_str() {
        let len = s.chars().count() as u64;
        if schema["minLength"].as_u64().is_some_and(|m| len < m) {
            fail(format!("{s:?} is shorter than {}", schema["minLength"]));
        }
        if schema["maxLength"].as_u64().is_some_and(|m| len > m) {
            fail(format!("{s:?} is longer than {}", schema["maxLength"]));
        }
        if let Some(pattern) = schema["pattern"].as_str() {
            let re = regex::Regex::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
            if !re.is_match(s) {
                fail(format!("{s:?} does not match {pattern}"));
            }
        }
    }
    if let Some(items) = value.as_array() {
        if schema["minItems"]
            .as_u64()
            .is_some_and(|m| (items.len() as u64) < m)
        {
            fail(format!("has fewer than {} items", schema["minItems"]));
        }
        if schema["maxItems"]
            .as_u64()
            .is_some_and(|m| (items.len() as u64) > m)
        {
            fail(format!("has more than {} items", schema["maxItems"]));
        }
        if schema.get("items").is_some() {
            for (i, item) in items.iter().enumerate() {
                walk(item, &schema["items"], &format!("{path}[{i}]"), errors);
            }
        }
    }
    if let Some(fields) = value.as_object() {
        for key in schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !fields.contains_key(key) {
                errors.push(format!("{here}: required field {key} is missing"));
            }
        }
        let properties = schema["properties"].as_object();
        let preserve = schema["x-kubernetes-preserve-unknown-fields"] == true;
        for (key, field) in fields {
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match properties.and_then(|p| p.get(key)) {
                Some(sub) => walk(field, sub, &child, errors),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(true)) => {}
                    Some(sub @ Value::Object(_)) => walk(field, sub, &child, errors),
                    _ if preserve => {}
                    // `metadata` is validated by the API server, not the CRD schema.
                    _ if properties.is_none()
                        && schema["type"] == "object"
                        && path == "metadata" => {}
                    _ => errors.push(format!("{child}: unknown field")),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contour::test_support::real_objects;
    use serde_json::json;

    #[test]
    fn the_checker_finds_unknown_fields_wrong_types_and_missing_required_ones() {
        let schema = crd_schema(&real_objects(), "httpproxies.projectcontour.io", "v1");
        let proxy = json!({
            "apiVersion": "projectcontour.io/v1",
            "kind": "HTTPProxy",
            "metadata": {"name": "x", "namespace": "y"},
            "spec": {
                "virtualhost": {"fqdn": "Not_A_Host", "tls": {"secretName": "s"}},
                "routes": [{
                    "conditions": [{"prefix": "/"}],
                    "services": [{"name": "svc", "port": 70000}, {"port": 80}],
                    "enableWebSockets": true,
                }],
            },
        });
        let mut errors = validate(&proxy, &schema);
        errors.sort();
        assert_eq!(errors.len(), 4, "{errors:#?}");
        assert!(
            errors[0].starts_with("spec.routes[0].enableWebSockets: unknown field"),
            "{errors:#?}"
        );
        assert!(
            errors[1].starts_with("spec.routes[0].services[0].port: 70000 is above"),
            "{errors:#?}"
        );
        assert!(
            errors[2].starts_with("spec.routes[0].services[1]: required field name"),
            "{errors:#?}"
        );
        assert!(
            errors[3].starts_with("spec.virtualhost.fqdn: \"Not_A_Host\" does not match"),
            "{errors:#?}"
        );
    }
}
