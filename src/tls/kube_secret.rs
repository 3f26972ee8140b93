//! The `kubernetes.io/tls` Secret that carries the plan's chain and key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use zeroize::{Zeroize, Zeroizing};

use super::TlsPlan;
use crate::secret::Secret;

/// A JSON document that holds a secret somewhere inside. Zeroizing walks the
/// document and zeroes every string in place (keys of objects are names, not
/// secrets, and are left alone). Wrapped in [`Secret`] it redacts itself in
/// `Debug`/`Serialize` like any other secret; `expose().value()` reads it.
#[derive(Clone, PartialEq, Eq)]
pub struct ZeroizingJson(Value);

impl ZeroizingJson {
    pub fn new(value: Value) -> Self {
        ZeroizingJson(value)
    }

    /// The document, for handing to the Kubernetes client or writing to disk.
    pub fn value(&self) -> &Value {
        &self.0
    }
}

impl Zeroize for ZeroizingJson {
    fn zeroize(&mut self) {
        fn walk(value: &mut Value) {
            match value {
                Value::String(s) => s.zeroize(),
                Value::Array(items) => items.iter_mut().for_each(walk),
                Value::Object(map) => map.values_mut().for_each(walk),
                Value::Null | Value::Bool(_) | Value::Number(_) => {}
            }
        }
        walk(&mut self.0);
        self.0 = Value::Null;
    }
}

/// The Secret (`type: kubernetes.io/tls`) for the plan: `tls.crt` is the chain,
/// `tls.key` the key, both base64 of their PEM as the API wants in `data`.
/// Returned as a [`Secret`] so it cannot be logged or serialized by accident.
pub fn kubernetes_secret(plan: &TlsPlan, name: &str, namespace: &str) -> Secret<ZeroizingJson> {
    let crt = STANDARD.encode(plan.chain_pem.as_bytes());
    // This buffer is zeroed on drop; its copy in the document is zeroed with the document.
    let key = Zeroizing::new(STANDARD.encode(plan.key_pem.expose().as_bytes()));
    let document = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": { "app.kubernetes.io/managed-by": "ovaboot" },
        },
        "data": {
            "tls.crt": crt,
            "tls.key": key.as_str(),
        },
    });
    Secret::new(ZeroizingJson(document))
}
