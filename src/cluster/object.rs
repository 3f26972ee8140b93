//! Naming and ordering of planned objects: pure.

use serde_json::Value;

use super::error::ApplyError;
use super::types::ObjectRef;

/// Reads `apiVersion`, `kind`, `metadata.name` and `metadata.namespace`;
/// `index` (the object's place in the plan) names it when one is missing.
fn object_ref(index: usize, obj: &Value) -> Result<ObjectRef, ApplyError> {
    let field = |ptr: &str| {
        obj.pointer(ptr)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let missing = |what: &'static str| ApplyError::InvalidObject { index, what };
    Ok(ObjectRef {
        api_version: field("/apiVersion")
            .ok_or(missing("apiVersion"))?
            .to_owned(),
        kind: field("/kind").ok_or(missing("kind"))?.to_owned(),
        namespace: field("/metadata/namespace").map(str::to_owned),
        name: field("/metadata/name")
            .ok_or(missing("metadata.name"))?
            .to_owned(),
    })
}

/// How the executor treats an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Applied first: everything namespaced needs it.
    Namespace,
    /// Applied second, then waited for: its group is not served until it is `Established`.
    CustomResourceDefinition,
    /// Before the workloads: the xDS pairs Contour's and envoy's pods mount,
    /// the TLS material the routes refer to.
    Secret,
    /// Everything else.
    Other,
    /// After everything else (its Service, its CA Secret), then waited
    /// valid: an HTTPProxy whose `authorization` names an ExtensionService
    /// Contour does not call valid is invalid as a whole, its public routes too.
    ExtensionService,
    /// Last: the routes, once what they route to and their certificates are there.
    HttpProxy,
}

impl Class {
    pub fn of(r: &ObjectRef) -> Class {
        match (r.api_version.as_str(), r.kind.as_str()) {
            ("v1", "Namespace") => Class::Namespace,
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => {
                Class::CustomResourceDefinition
            }
            ("v1", "Secret") => Class::Secret,
            ("projectcontour.io/v1alpha1", "ExtensionService") => Class::ExtensionService,
            ("projectcontour.io/v1", "HTTPProxy") => Class::HttpProxy,
            _ => Class::Other,
        }
    }
}

/// A plan split into its apply stages; each holds indexes into the plan, in plan order.
/// Objects of one stage have no order between them and are applied concurrently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ordered {
    pub refs: Vec<ObjectRef>,
    pub namespaces: Vec<usize>,
    pub crds: Vec<usize>,
    pub rest: Vec<usize>,
    pub secrets: Vec<usize>,
    pub extension_services: Vec<usize>,
    pub httpproxies: Vec<usize>,
}

impl Ordered {
    /// Every index in apply order.
    pub fn apply_order(&self) -> impl Iterator<Item = usize> + '_ {
        self.namespaces
            .iter()
            .chain(&self.crds)
            .chain(&self.secrets)
            .chain(&self.rest)
            .chain(&self.extension_services)
            .chain(&self.httpproxies)
            .copied()
    }
}

/// Names every object and sorts it into its stage. Fails on an object without
/// apiVersion, kind or name, and on the same object planned twice.
pub fn order(objects: &[Value]) -> Result<Ordered, ApplyError> {
    let mut ordered = Ordered {
        refs: Vec::new(),
        namespaces: Vec::new(),
        crds: Vec::new(),
        rest: Vec::new(),
        secrets: Vec::new(),
        extension_services: Vec::new(),
        httpproxies: Vec::new(),
    };
    for (index, obj) in objects.iter().enumerate() {
        let r = object_ref(index, obj)?;
        if let Some(first) = ordered.refs.iter().position(|seen| seen == &r) {
            return Err(ApplyError::Duplicate {
                object: Box::new(r),
                first,
                second: index,
            });
        }
        match Class::of(&r) {
            Class::Namespace => ordered.namespaces.push(index),
            Class::CustomResourceDefinition => ordered.crds.push(index),
            Class::Other => ordered.rest.push(index),
            Class::Secret => ordered.secrets.push(index),
            Class::ExtensionService => ordered.extension_services.push(index),
            Class::HttpProxy => ordered.httpproxies.push(index),
        }
        ordered.refs.push(r);
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests;
