//! `Settings::from_properties`: what is required, what counts as absent, what
//! is left for others, and what the errors look like.

use rcgen::generate_simple_self_signed;

use super::*;
use crate::secret::{REDACTED, Secret};

fn plain(v: &str) -> PropertyValue {
    PropertyValue::Plain(v.to_string())
}

fn props(pairs: &[(&str, PropertyValue)]) -> Properties {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// A self-signed certificate and its key, pasted the way the wizard mangles them.
fn wizard_tls() -> (String, String, Vec<u8>) {
    let made = generate_simple_self_signed(vec!["veba01.example.com".to_string()]).unwrap();
    let one_line = |pem: &str| pem.trim_end().replace(['\r', '\n'], " ");
    (
        one_line(&made.cert.pem()),
        one_line(&made.signing_key.serialize_pem()),
        made.signing_key.serialize_der(),
    )
}

fn error(p: &Properties) -> SettingsError {
    Settings::from_properties(p).unwrap_err()
}

#[test]
fn a_full_wizard_environment_is_typed_and_the_rest_kept() {
    let (cert, key, key_der) = wizard_tls();
    let p = props(&[
        (keys::HOSTNAME, plain("VEBA01.Example.com")),
        (keys::TLS_CERT, plain(&cert)),
        (keys::TLS_KEY, PropertyValue::Secret(Secret::new(key))),
        ("guestinfo.ipaddress", plain("192.0.2.10")),
        ("guestinfo.netmask", plain("24 (255.255.255.0)")),
        ("guestinfo.ntp", plain("")),
        ("guestinfo.vendor_note", plain("kept as a string")),
        (
            "guestinfo.root_password",
            PropertyValue::Secret(Secret::new("hunter2-hunter2".into())),
        ),
    ]);
    let s = Settings::from_properties(&p).unwrap();
    assert_eq!(s.hostname.fqdn(), "veba01.example.com");
    let tls = s.tls.as_ref().unwrap();
    assert_eq!(tls.certificates.len(), 1);
    assert_eq!(tls.private_key.format, KeyFormat::Pkcs8);
    assert_eq!(tls.private_key.der.expose(), &key_der);

    let other: Vec<&str> = s.other.keys().map(String::as_str).collect();
    assert_eq!(
        other,
        ["guestinfo.vendor_note"],
        "root_password is consumed"
    );
    let network = s.network.static_network.as_ref().expect("a static address");
    assert_eq!(network.address.to_string(), "192.0.2.10");
    assert_eq!(network.prefix, 24);
    assert_eq!(
        s.credentials
            .root_password
            .as_ref()
            .map(|p| p.expose().as_str()),
        Some("hunter2-hunter2")
    );
    assert!(!format!("{s:?}").contains("hunter2"));
}

#[test]
fn the_hostname_is_required() {
    let err = error(&Properties::new());
    assert_eq!(err.key(), keys::HOSTNAME);
    assert_eq!(err.problem(), &Problem::Missing);
    assert_eq!(
        err.to_string(),
        "guestinfo.hostname: is required but was not set"
    );

    let err = error(&props(&[(keys::HOSTNAME, plain("  "))]));
    assert_eq!(
        err.to_string(),
        "guestinfo.hostname: is required but is empty"
    );
}

#[test]
fn a_bad_hostname_is_one_line_naming_the_key() {
    let err = error(&props(&[(keys::HOSTNAME, plain("veba01"))]));
    assert_eq!(
        err.to_string(),
        "guestinfo.hostname: must be a fully qualified domain name (at least two labels, e.g. veba01.example.com)"
    );
    let err = error(&props(&[(keys::HOSTNAME, plain("veba\n01.example.com"))]));
    assert_eq!(
        err.to_string(),
        "guestinfo.hostname: has the character '\\n'; only letters, digits, '-' and '.' are allowed"
    );
}

#[test]
fn tls_cert_and_key_come_together_and_the_error_names_the_missing_one() {
    let (cert, key, _) = wizard_tls();
    let host = (keys::HOSTNAME, plain("veba01.example.com"));

    let err = error(&props(&[host.clone(), (keys::TLS_CERT, plain(&cert))]));
    assert_eq!(
        err.to_string(),
        "guestinfo.tls_key: is required when guestinfo.tls_cert is set (provide both, or neither for a self-signed certificate)"
    );

    let err = error(&props(&[
        host.clone(),
        (keys::TLS_CERT, plain(" ")),
        (keys::TLS_KEY, PropertyValue::Secret(Secret::new(key))),
    ]));
    assert_eq!(err.key(), keys::TLS_CERT);
    assert_eq!(
        err.problem(),
        &Problem::RequiredWith {
            other: keys::TLS_KEY
        }
    );
}

#[test]
fn empty_tls_fields_from_the_wizard_mean_no_tls_material() {
    let p = props(&[
        (keys::HOSTNAME, plain("veba01.example.com")),
        (keys::TLS_CERT, plain("")),
        (
            keys::TLS_KEY,
            PropertyValue::Secret(Secret::new(String::new())),
        ),
    ]);
    let s = Settings::from_properties(&p).unwrap();
    assert!(s.tls.is_none());
    assert!(s.other.is_empty(), "{:?}", s.other);
}

#[test]
fn a_plain_tls_key_property_is_still_treated_as_secret() {
    // Set through extraConfig, the value carries no password flag.
    let (cert, key, key_der) = wizard_tls();
    let body: String = key
        .split_whitespace()
        .filter(|w| !w.contains('-') && w.len() > 16)
        .collect();
    let p = props(&[
        (keys::HOSTNAME, plain("veba01.example.com")),
        (keys::TLS_CERT, plain(&cert)),
        (keys::TLS_KEY, plain(&key)),
    ]);
    let s = Settings::from_properties(&p).unwrap();
    let debug = format!("{s:?}");
    assert!(debug.contains(REDACTED), "{debug}");
    assert!(!debug.contains(&body[..24]), "{debug}");
    assert!(!debug.contains(&format!("{:?}", &key_der[..12])), "{debug}");
    assert!(!s.other.contains_key(keys::TLS_KEY));
}

#[test]
fn a_tls_key_error_is_one_line_without_the_key() {
    let (cert, key, _) = wizard_tls();
    let damaged = key.replacen("MI", "M*", 1);
    let err = error(&props(&[
        (keys::HOSTNAME, plain("veba01.example.com")),
        (keys::TLS_CERT, plain(&cert)),
        (keys::TLS_KEY, PropertyValue::Secret(Secret::new(damaged))),
    ]));
    assert_eq!(
        err.to_string(),
        "guestinfo.tls_key: block 1 (PRIVATE KEY) is not valid base64 between its BEGIN and END lines (a character lost or changed when pasting?)"
    );
}

#[test]
fn network_and_proxy_properties_are_validated_naming_the_key() {
    let err = error(&props(&[
        (keys::HOSTNAME, plain("veba01.example.com")),
        ("guestinfo.ipaddress", plain("192.0.2.10")),
        ("guestinfo.netmask", plain("24")),
        ("guestinfo.gateway", plain("198.51.100.1")),
    ]));
    assert_eq!(err.key(), "guestinfo.gateway");
    assert!(err.to_string().starts_with("guestinfo.gateway: "), "{err}");

    let err = error(&props(&[
        (keys::HOSTNAME, plain("veba01.example.com")),
        ("guestinfo.http_proxy", plain("ftp://proxy.example.com")),
    ]));
    assert_eq!(err.key(), "guestinfo.http_proxy");
}

/// ovf/product-section.xml is what the wizard asks; keys::READ is what the
/// agent reads. Neither may have a key the other lacks.
#[test]
fn the_product_section_declares_exactly_the_keys_the_agent_reads() {
    use std::collections::BTreeSet;
    let declared: BTreeSet<&str> = crate::ovf::descriptor::Descriptor::embedded()
        .declared_keys()
        .collect();
    let read: BTreeSet<&str> = keys::READ.into_iter().collect();
    assert_eq!(read.len(), keys::READ.len(), "keys::READ repeats a key");
    assert_eq!(
        declared.difference(&read).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "declared in ovf/product-section.xml but never read"
    );
    assert_eq!(
        read.difference(&declared).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "read by the agent but not in ovf/product-section.xml"
    );
}

/// keys::READ is the list from_properties consumes: each declared key, even
/// left blank, is taken and not passed on as someone else's property.
#[test]
fn every_declared_key_is_consumed_by_the_settings() {
    for key in crate::ovf::descriptor::Descriptor::embedded().declared_keys() {
        let mut p = props(&[(keys::HOSTNAME, plain("veba01.example.com"))]);
        p.insert(
            key.to_owned(),
            plain(if key == keys::HOSTNAME {
                "veba01.example.com"
            } else {
                ""
            }),
        );
        p.insert("guestinfo.undeclared".to_owned(), plain("x"));
        let settings = Settings::from_properties(&p).unwrap();
        assert!(!settings.other.contains_key(key), "{key} is not read");
        assert!(settings.other.contains_key("guestinfo.undeclared"));
    }
}

#[test]
fn every_secret_key_is_password_typed_and_no_other() {
    let descriptor = crate::ovf::descriptor::Descriptor::embedded();
    for property in descriptor.properties() {
        let secret = keys::SECRET.contains(&property.key.as_str());
        assert_eq!(
            property.password,
            secret,
            "{}: ovf:password is {}, but the agent treats it as {}",
            property.key,
            property.password,
            if secret { "secret" } else { "not secret" }
        );
        // A key named like a secret would be redacted anyway; the wizard must mask it too.
        if crate::ovf::descriptor::key_names_a_secret(&property.key) {
            assert!(
                property.password,
                "{} looks secret but is not password-typed",
                property.key
            );
        }
    }
    for key in keys::SECRET {
        assert!(descriptor.is_declared(key), "{key}");
    }
}

/// Found by the fuzzer: root's password typed as a PEM label in the public
/// certificate field was quoted in the refusal (public labels are shown).
#[test]
fn a_refusal_that_would_quote_another_propertys_secret_names_only_the_property() {
    let mut p = Properties::new();
    for (key, value) in [
        ("guestinfo.hostname", "veba01.example.com"),
        ("guestinfo.tls_cert", "-----BEGIN Correct-Horse9-----\nAAAA"),
        (
            "guestinfo.tls_key",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        ),
    ] {
        p.insert(key.into(), PropertyValue::Plain(value.into()));
    }
    p.insert(
        "guestinfo.root_password".into(),
        PropertyValue::Secret(crate::secret::Secret::new("Correct-Horse9".into())),
    );
    let err = Settings::from_properties(&p).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("guestinfo.tls_cert: {WITHHELD_REASON}")
    );
    // Without the password set, the label is shown as before.
    p.remove("guestinfo.root_password");
    let err = Settings::from_properties(&p).unwrap_err().to_string();
    assert!(err.contains("Correct-Horse9"), "{err}");
}
