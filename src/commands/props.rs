//! `ovaboot props`: the transport used and every property, secrets redacted.

use serde::Serialize;
use std::collections::BTreeMap;

use crate::ovf::OvfEnvironment;

/// One `key = value` line per property, after a line naming the transport.
pub fn text(env: &OvfEnvironment) -> String {
    let mut out = format!("transport: {}\n", env.transport);
    for (key, value) in &env.properties {
        out.push_str(&format!("{key} = {}\n", value.display()));
    }
    out
}

/// One JSON object: `{"transport": "...", "properties": {"key": "value", ...}}`.
pub fn json(env: &OvfEnvironment) -> String {
    #[derive(Serialize)]
    struct Output<'a> {
        transport: &'a str,
        properties: BTreeMap<&'a str, &'a str>,
    }
    let output = Output {
        transport: &env.transport,
        properties: env
            .properties
            .iter()
            .map(|(k, v)| (k.as_str(), v.display()))
            .collect(),
    };
    let mut out =
        serde_json::to_string_pretty(&output).expect("a map of strings always serializes");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ovf::PropertyValue;
    use crate::secret::Secret;

    fn env() -> OvfEnvironment {
        let mut properties = crate::ovf::Properties::new();
        properties.insert(
            "guestinfo.hostname".into(),
            PropertyValue::Plain("veba01.lab.example.com".into()),
        );
        properties.insert(
            "guestinfo.tls_key".into(),
            PropertyValue::Secret(Secret::new("KEYMATERIAL".into())),
        );
        OvfEnvironment {
            transport: "file".into(),
            properties,
        }
    }

    #[test]
    fn text_lists_transport_and_properties_with_secrets_redacted() {
        let out = text(&env());
        assert_eq!(
            out,
            "transport: file\nguestinfo.hostname = veba01.lab.example.com\nguestinfo.tls_key = <redacted>\n"
        );
    }

    #[test]
    fn json_is_one_object_with_transport_and_properties() {
        let value: serde_json::Value = serde_json::from_str(&json(&env())).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"transport": "file", "properties": {
                "guestinfo.hostname": "veba01.lab.example.com", "guestinfo.tls_key": "<redacted>"}})
        );
    }
}
