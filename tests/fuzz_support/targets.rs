//! The fuzz targets: each takes bytes, runs one of the parsers hostile input
//! reaches, and panics when an invariant breaks. Beyond "never panics", each
//! checks what issue #17 found: the one error line names the fault without
//! a secret or a raw control character, and nothing is dropped.

use std::path::Path;

use ovaboot::config::Config;
use ovaboot::failure::Failure;
use ovaboot::ovf::{Properties, PropertyValue};
use ovaboot::secret::Secret;
use ovaboot::settings::Settings;
use ovaboot::settings::credentials::Credentials;
use ovaboot::settings::network::NetworkSettings;
use ovaboot::settings::proxy::ProxySettings;
use ovaboot::show;

/// root's password in every property set a target makes: it must never
/// appear in an error, whichever field the fuzzer pastes it into.
pub const ROOT_PASSWORD: &str = "Sekr3t-Passw0rd-77";
/// The endpoint password every target sets too (password-typed): never quoted.
const ENDPOINT_PASSWORD: &str = "Endpoint-Fuzz-Pass-7";

/// The error line as `main` prints it: one line, no raw control character.
fn assert_one_clean_line(line: &str) {
    assert!(!line.contains('\n'), "two lines: {line:?}");
    assert!(
        !line.chars().any(show::is_unsafe),
        "a raw control character: {line:?}"
    );
}

/// The line `main` prints for `error`, checked ([`assert_one_clean_line`]).
fn error_line<E>(error: E) -> String
where
    Failure: From<E>,
{
    let line = Failure::from(error).one_line();
    assert_one_clean_line(&line);
    line
}

/// No value of `props` that must not be quoted is quoted in `line`: a
/// password-typed value, or one that looks like it carries a credential
/// (`show::withheld`). Values are only ever shown quoted (`show::quoted`),
/// so no `"…"` in the line may hold a piece of one; root's password may not
/// show anywhere, nor the endpoint password.
fn assert_nothing_withheld_quoted(props: &Properties, line: &str) {
    let secrets: Vec<&str> = props
        .values()
        .filter(|v| v.is_secret())
        .map(PropertyValue::expose)
        .collect();
    for password in [ROOT_PASSWORD, ENDPOINT_PASSWORD] {
        assert!(!line.contains(password), "a password: {line}");
    }
    // A PEM marker is quoted as the parser found it, by design: a known
    // label, or any label of the public certificate field.
    let quoted: Vec<String> = quoted_segments(line)
        .into_iter()
        .filter(|q| !q.starts_with("-----BEGIN") && !q.starts_with("-----END"))
        .collect();
    // Every error is about the property it starts with.
    let about = line.split(": ").next().unwrap_or_default();
    if let Some(value) = props.get(about) {
        let value = value.expose();
        let hidden = props[about].is_secret() || show::withheld(value, secrets.iter().copied());
        let pieces = value
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|piece| piece.chars().count() >= 4 && piece.chars().any(char::is_alphanumeric));
        for piece in pieces.filter(|_| hidden) {
            let shown = show::escaped(piece);
            assert!(
                quoted.iter().all(|q| !q.contains(shown.as_ref())),
                "{about}'s value is quoted: {line}"
            );
        }
    }
}

/// The `"…"` segments of `line` (a `\"` inside one does not end it).
fn quoted_segments(line: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut current: Option<String> = None;
    let mut escaped = false;
    for c in line.chars() {
        match (&mut current, c) {
            (None, '"') => current = Some(String::new()),
            (None, _) => {}
            (Some(_), '\\') if !escaped => escaped = true,
            (Some(segment), '"') if !escaped => {
                segments.push(std::mem::take(segment));
                current = None;
            }
            (Some(segment), c) => {
                segment.push(c);
                escaped = false;
            }
        }
    }
    segments
}

/// The OVF document, then the settings and every check `props` makes.
pub fn ovf_document(data: &[u8]) {
    let mut properties = match ovaboot::ovf::document::parse(data) {
        Ok(properties) => properties,
        Err(e) => {
            error_line(ovaboot::ovf::OvfError::Document {
                transport: "file",
                origin: "fuzz".into(),
                source: e,
            });
            return;
        }
    };
    properties.insert(
        "guestinfo.root_password".into(),
        PropertyValue::Secret(Secret::new(ROOT_PASSWORD.into())),
    );
    properties.insert(
        "guestinfo.endpoint_password".into(),
        PropertyValue::Secret(Secret::new(ENDPOINT_PASSWORD.into())),
    );
    settings_and_checks(&properties);
}

fn settings_and_checks(properties: &Properties) {
    let settings = match Settings::from_properties(properties) {
        Ok(settings) => settings,
        Err(e) => {
            let line = error_line(e);
            assert_nothing_withheld_quoted(properties, &line);
            return;
        }
    };
    let facts = ovaboot::plan::appliance::HostFacts::default();
    let now = time::OffsetDateTime::now_utc();
    if let Err(e) = ovaboot::plan::appliance::check(&settings, &Config::default(), &facts, now) {
        let line = error_line(e);
        assert_nothing_withheld_quoted(properties, &line);
    }
}

/// The network and proxy properties, one a line in this order.
const NETWORK_KEYS: [&str; 9] = [
    "guestinfo.ipaddress",
    "guestinfo.netmask",
    "guestinfo.gateway",
    "guestinfo.dns",
    "guestinfo.domain",
    "guestinfo.ntp",
    "guestinfo.http_proxy",
    "guestinfo.https_proxy",
    "guestinfo.no_proxy",
];

/// Line `i` (split on LF only: CR, NEL and U+2028 stay in the value) is
/// the value of `NETWORK_KEYS[i]`, classified as the document would; root's
/// password is set too.
pub fn network_values(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut properties = Properties::new();
    for (key, value) in NETWORK_KEYS.iter().zip(text.split('\n')) {
        let value = ovaboot::ovf::document::classify(key, value.to_owned(), |_| false);
        properties.insert((*key).to_owned(), value);
    }
    properties.insert(
        "guestinfo.root_password".into(),
        PropertyValue::Secret(Secret::new(ROOT_PASSWORD.into())),
    );
    properties.insert(
        "guestinfo.endpoint_password".into(),
        PropertyValue::Secret(Secret::new(ENDPOINT_PASSWORD.into())),
    );
    for line in [
        NetworkSettings::from_properties(&properties)
            .err()
            .map(|e| error_line(ovaboot::settings::SettingsError::from(e))),
        ProxySettings::from_properties(&properties)
            .err()
            .map(|e| error_line(ovaboot::settings::SettingsError::from(e))),
    ]
    .into_iter()
    .flatten()
    {
        assert_nothing_withheld_quoted(&properties, &line);
    }
    if let Ok(Some(proxy)) = ProxySettings::from_properties(&properties) {
        for url in [&proxy.http, &proxy.https].into_iter().flatten() {
            let shown = url.redacted();
            assert!(!shown.chars().any(show::is_unsafe), "{shown:?}");
            if url.is_secret() {
                assert!(!shown.contains(ROOT_PASSWORD) && !shown.contains(ENDPOINT_PASSWORD));
            }
        }
    }
}

/// What separates keys in `guestinfo.ssh_authorized_keys`.
const KEY_SEPARATORS: [char; 8] = [
    ',', '\n', '\r', '\u{85}', '\u{2028}', '\u{2029}', '\u{0b}', '\u{0c}',
];

/// `guestinfo.ssh_authorized_keys`: every piece becomes one clean line, or
/// the whole value is refused; never a key dropped or merged.
pub fn ssh_keys(data: &[u8]) {
    let value = String::from_utf8_lossy(data).into_owned();
    let mut properties = Properties::new();
    properties.insert(
        "guestinfo.ssh_authorized_keys".into(),
        PropertyValue::Plain(value.clone()),
    );
    match Credentials::from_properties(&properties) {
        Ok(credentials) => {
            let pieces = value
                .split(KEY_SEPARATORS)
                .filter(|p| !p.trim().is_empty())
                .count();
            assert_eq!(
                credentials.ssh_authorized_keys.len(),
                pieces,
                "a key dropped or merged"
            );
            for key in &credentials.ssh_authorized_keys {
                assert!(
                    !key.chars().any(|c| c != '\t' && show::is_unsafe(c)),
                    "a control character kept: {key:?}"
                );
                assert!(!key.starts_with("ssh-dss "), "a DSA key kept");
            }
        }
        Err(e) => {
            let line = error_line(e);
            assert!(!line.contains("PRIVATE KEY-----"), "{line}");
        }
    }
}

/// A certificate chain and a key, split at the first line `====`: repaired
/// and parsed as the wizard's paste is. The key's text never shows in an error.
pub fn pem_repair(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (chain, key) = text.split_once("\n====\n").unwrap_or((&text, ""));
    let chain_alone = ovaboot::settings::parse_certificate_chain(chain);
    let key_alone = ovaboot::settings::parse_private_key(key);
    if let Err(problem) = &key_alone {
        assert_key_not_shown(key, "", &problem.to_string());
    }
    if let Err(problem) = &chain_alone {
        assert!(
            !problem.to_string().chars().any(|c| c.is_control()),
            "{problem}"
        );
    }
    if let Err(e) = ovaboot::settings::TlsMaterial::from_pem(chain, key) {
        let line = error_line(e);
        assert_key_not_shown(key, chain, &line);
    }
}

/// No run of 12 characters of the key's text (past its markers) is in
/// `line`, but for one the public `chain` holds as well.
fn assert_key_not_shown(key: &str, chain: &str, line: &str) {
    let body: String = key
        .lines()
        .filter(|l| !l.contains("-----"))
        .collect::<Vec<_>>()
        .join("");
    let chars: Vec<char> = body.chars().collect();
    for window in chars.windows(12) {
        let piece: String = window.iter().collect();
        let base64 = piece
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/');
        if base64 && !chain.contains(&piece) {
            assert!(!line.contains(&piece), "the key's text shows: {line}");
        }
    }
}

/// `ovaboot.toml`: refused in one clean line, or a config whose host file
/// keys name only ovaboot's own files.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::parse(text, Path::new("/etc/ovaboot/ovaboot.toml")) {
        Ok(config) => {
            let host = &config.host;
            for (rule, path) in [
                (&ovaboot::config::PROXY_ENV_FILE, &host.proxy_env_file),
                (&ovaboot::config::NETWORK_FILE, &host.network_file),
                (&ovaboot::config::TIMESYNCD_FILE, &host.timesyncd_file),
            ] {
                rule.check(path)
                    .expect("a loaded config passes its own rules");
            }
            assert!(config.credentials.min_password_length >= 8);
        }
        Err(e) => {
            error_line(e);
        }
    }
}

/// `/etc/shadow` as found: root's line gets the hash, every other line
/// keeps its bytes, or the plan refuses naming the property.
pub fn shadow(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let credentials = Credentials {
        root_password: Some(Secret::new(ROOT_PASSWORD.into())),
        ssh_authorized_keys: Vec::new(),
    };
    let facts = ovaboot::plan::credentials::ShadowFacts::Present {
        text: Secret::new(text.to_owned()),
        mode: 0o640,
    };
    let config = ovaboot::config::CredentialsConfig::default();
    match ovaboot::plan::credentials::plan(&credentials, &config, &facts, Path::new("/root"), 1) {
        Ok(files) => {
            let written = files[0]
                .contents
                .expose()
                .expect("the shadow file is written");
            let written = std::str::from_utf8(written).unwrap();
            let before: Vec<&str> = text.split('\n').collect();
            let after: Vec<&str> = written.split('\n').collect();
            assert_eq!(before.len(), after.len(), "a line gained or lost");
            let root = before.iter().position(|l| l.starts_with("root:")).unwrap();
            for (i, (b, a)) in before.iter().zip(&after).enumerate() {
                if i != root {
                    assert_eq!(b, a, "line {i} changed");
                }
            }
            let hash = after[root].split(':').nth(1).unwrap_or_default();
            assert!(!hash.contains(ROOT_PASSWORD), "the password itself written");
        }
        Err(e) => {
            let line = error_line(ovaboot::plan::appliance::PlanError::from(e));
            assert!(line.starts_with("guestinfo.root_password: "), "{line}");
            assert!(!line.contains(ROOT_PASSWORD));
        }
    }
}
