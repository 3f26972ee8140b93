//! `ovaboot props`: the transport used and every property, secrets redacted,
//! after every check `render` and `firstboot` make of the properties.

use std::path::Path;

use serde::Serialize;
use std::collections::BTreeMap;
use time::OffsetDateTime;

use crate::config::Config;
use crate::facts::{FactsError, SYS_CLASS_NET, first_ethernet_interface};
use crate::ovf::OvfEnvironment;
use crate::plan::appliance::{self, HostFacts, PlanError};
use crate::settings::proxy::{KEY_HTTP_PROXY, KEY_HTTPS_PROXY};
use crate::settings::{Settings, SettingsError};
use crate::show::escaped;

/// Why `props` refused: the errors `render` would give, so the same line.
#[derive(Debug, thiserror::Error)]
pub enum PropsError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Facts(#[from] FactsError),
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// Validates the properties as the plan does (host files, network, proxy,
/// the admin's certificate against the host name, its key, dates, chain and
/// what browsers require), writing and generating nothing. The network
/// interface comes from the running kernel, as for `render`.
pub fn check(
    env: &OvfEnvironment,
    config: &Config,
    now: OffsetDateTime,
) -> Result<Settings, PropsError> {
    let settings = Settings::from_properties(&env.properties)?;
    let facts = HostFacts {
        interface: first_ethernet_interface(Path::new(SYS_CLASS_NET))?,
        ..HostFacts::default()
    };
    appliance::check(&settings, config, &facts, now)?;
    Ok(settings)
}

/// What is shown for each property: its value, `<redacted>` when secret, and
/// a proxy URL with only its password masked (`http://user:***@proxy:3128`).
fn shown<'a>(env: &'a OvfEnvironment, settings: &'a Settings) -> BTreeMap<&'a str, &'a str> {
    let proxy = settings.proxy.as_ref();
    env.properties
        .iter()
        .map(|(key, value)| {
            let url = match key.as_str() {
                KEY_HTTP_PROXY => proxy.and_then(|p| p.http.as_ref()),
                KEY_HTTPS_PROXY => proxy.and_then(|p| p.https.as_ref()),
                _ => None,
            };
            let shown = url.map_or_else(|| value.display(), |url| url.redacted());
            (key.as_str(), shown)
        })
        .collect()
}

/// One `key = value` line per property, after a line naming the transport;
/// keys and values escaped ([`crate::show::escaped`]): a CR, NEL or U+2028
/// in a value cannot break or overwrite the line.
pub fn text(env: &OvfEnvironment, settings: &Settings) -> String {
    let mut out = format!("transport: {}\n", env.transport);
    for (key, value) in shown(env, settings) {
        out.push_str(&format!("{} = {}\n", escaped(key), escaped(value)));
    }
    out
}

/// One JSON object: `{"transport": "...", "properties": {"key": "value", ...}}`,
/// every control character escaped ([`crate::show::json`]).
pub fn json(env: &OvfEnvironment, settings: &Settings) -> String {
    #[derive(Serialize)]
    struct Output<'a> {
        transport: &'a str,
        properties: BTreeMap<&'a str, &'a str>,
    }
    let output = Output {
        transport: &env.transport,
        properties: shown(env, settings),
    };
    let mut out = crate::show::json(&output);
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
            "guestinfo.http_proxy".into(),
            PropertyValue::Secret(Secret::new(
                "http://svc:Pa%2Fss@proxy.example.com:3128".into(),
            )),
        );
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

    /// The settings as `check` returns them (the key is not checked here).
    fn settings(env: &OvfEnvironment) -> Settings {
        let mut properties = env.properties.clone();
        properties.remove("guestinfo.tls_key");
        Settings::from_properties(&properties).unwrap()
    }

    #[test]
    fn text_lists_transport_and_properties_with_secrets_redacted() {
        let env = env();
        let out = text(&env, &settings(&env));
        assert_eq!(
            out,
            "transport: file\nguestinfo.hostname = veba01.lab.example.com\nguestinfo.http_proxy = http://svc:***@proxy.example.com:3128\nguestinfo.tls_key = <redacted>\n"
        );
        assert!(!out.contains("Pa%2Fss"));
    }

    /// An accepted value (or a key) holding CR, NEL, U+2028 or an escape
    /// sequence used to reach the terminal raw.
    #[test]
    fn keys_and_values_reach_the_terminal_escaped() {
        let mut env = env();
        env.properties.insert(
            "guestinfo.note".into(),
            PropertyValue::Plain("a\rb\u{85}c\u{2028}d\u{1b}[2J".into()),
        );
        env.properties.insert(
            "guestinfo.k\u{1b}]0;x\u{7}".into(),
            PropertyValue::Plain("v".into()),
        );
        let settings = settings(&env);
        let out = text(&env, &settings);
        assert!(
            out.contains("guestinfo.note = a\\rb\\u{85}c\\u{2028}d\\u{1b}[2J\n"),
            "{out}"
        );
        assert!(out.contains("guestinfo.k\\u{1b}]0;x\\u{7} = v\n"), "{out}");
        let json_text = json(&env, &settings);
        for out in [out, json_text.clone()] {
            assert!(
                !out.chars().any(|c| c != '\n' && crate::show::is_unsafe(c)),
                "{out:?}"
            );
        }
        let value: serde_json::Value = serde_json::from_str(&json_text).unwrap();
        assert_eq!(
            value["properties"]["guestinfo.note"],
            "a\rb\u{85}c\u{2028}d\u{1b}[2J"
        );
    }

    #[test]
    fn json_is_one_object_with_transport_and_properties() {
        let env = env();
        let value: serde_json::Value = serde_json::from_str(&json(&env, &settings(&env))).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"transport": "file", "properties": {
                "guestinfo.hostname": "veba01.lab.example.com",
                "guestinfo.http_proxy": "http://svc:***@proxy.example.com:3128",
                "guestinfo.tls_key": "<redacted>"}})
        );
    }
}
