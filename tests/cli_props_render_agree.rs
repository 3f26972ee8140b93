//! `props` refuses what `render` (and so `firstboot`) refuses, with the same
//! line: one table of bad OVF environments, each run through both commands.

mod cli_support;

use rcgen::{CustomExtension, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use time::Duration;

use cli_support::*;

/// One bad environment: the properties on top of the fixtures' static
/// network, and what the one error line must say.
struct Case {
    name: &'static str,
    properties: Vec<(&'static str, String)>,
    says: Vec<&'static str>,
}

fn case(name: &'static str, properties: &[(&'static str, &str)], says: &[&'static str]) -> Case {
    Case {
        name,
        properties: properties
            .iter()
            .map(|(k, v)| (*k, (*v).to_owned()))
            .collect(),
        says: says.to_vec(),
    }
}

/// The admin's certificate (for `dns`, edited) and its key.
fn tls(
    dns: &str,
    from: i64,
    until: i64,
    edit: impl FnOnce(&mut rcgen::CertificateParams),
) -> [(&'static str, String); 2] {
    let issuer = ca("ovaboot test issuing CA", None);
    let key = KeyPair::generate().unwrap();
    let (pem, _) = leaf_edited(
        &issuer,
        dns,
        &key,
        Duration::days(from),
        Duration::days(until),
        edit,
    );
    [
        ("guestinfo.tls_cert", pem),
        ("guestinfo.tls_key", key.serialize_pem()),
    ]
}

fn tls_case(name: &'static str, tls: [(&'static str, String); 2], says: &[&'static str]) -> Case {
    Case {
        name,
        properties: tls.to_vec(),
        says: says.to_vec(),
    }
}

fn cases() -> Vec<Case> {
    let mismatched = {
        let [cert, _] = tls(FQDN, -1, 90, |_| {});
        let other_key = KeyPair::generate().unwrap().serialize_pem();
        [cert, ("guestinfo.tls_key", other_key)]
    };
    vec![
        tls_case(
            "certificate for another host",
            tls("other.corp.example.net", -1, 90, |_| {}),
            &[
                "guestinfo.tls_cert",
                "subjectAltName includes appliance7.corp.example.net",
            ],
        ),
        tls_case(
            "key of another certificate",
            mismatched,
            &["guestinfo.tls_key", "does not match"],
        ),
        tls_case(
            "expired certificate",
            tls(FQDN, -90, -1, |_| {}),
            &[
                "guestinfo.tls_cert",
                "expired",
                "leave both TLS fields blank",
            ],
        ),
        tls_case(
            "leaf without serverAuth",
            tls(FQDN, -1, 90, |p| {
                p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            }),
            &["guestinfo.tls_cert", "lacks serverAuth"],
        ),
        tls_case(
            "leaf that is a CA",
            tls(FQDN, -1, 90, |p| {
                p.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            }),
            &["guestinfo.tls_cert", "CA:TRUE"],
        ),
        tls_case(
            "leaf with an unknown critical extension",
            tls(FQDN, -1, 90, |p| {
                let mut ext =
                    CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 99999, 7], vec![5, 0]);
                ext.set_criticality(true);
                p.custom_extensions.push(ext);
            }),
            &[
                "guestinfo.tls_cert",
                "critical extension",
                "1.3.6.1.4.1.99999.7",
            ],
        ),
        case(
            "gateway outside the subnet",
            &[("guestinfo.gateway", "192.168.41.1")],
            &[
                "guestinfo.gateway",
                "outside the subnet",
                "192.168.40.1 to 192.168.40.254",
            ],
        ),
        case(
            "netmask with a sign",
            &[("guestinfo.netmask", "+24")],
            &["guestinfo.netmask", "+24"],
        ),
        case(
            "an address as the host name",
            &[("guestinfo.hostname", "10.0.0.20")],
            &["guestinfo.hostname", "is an IP address, not a host name"],
        ),
        case(
            "proxy password with a slash",
            &[("guestinfo.http_proxy", "http://user:Pa/ss@proxy:3128")],
            &["guestinfo.http_proxy", "percent-encoded", "'/' as %2F"],
        ),
        case(
            "no_proxy entry with credentials",
            &[
                ("guestinfo.http_proxy", "http://proxy:3128"),
                ("guestinfo.no_proxy", "localhost,svc:Hunter2@vcenter"),
            ],
            &["guestinfo.no_proxy", "entry 2"],
        ),
        // A warning (no_proxy without a proxy) comes before the refusal: it
        // must not make a second line.
        case(
            "warning, then a certificate without its key",
            &[
                ("guestinfo.no_proxy", ".corp.example.net"),
                ("guestinfo.tls_cert", "-----BEGIN CERTIFICATE-----"),
            ],
            &[
                "guestinfo.tls_key",
                "is required when guestinfo.tls_cert is set",
            ],
        ),
    ]
}

/// Exit status 2, nothing on stdout, one stderr line; the line.
fn one_refusal(command: &str, case: &Case, o: &std::process::Output) -> String {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{command}, {}: {err}", case.name);
    assert_eq!(text(&o.stdout), "", "{command}, {}", case.name);
    assert_eq!(err.lines().count(), 1, "{command}, {}: {err}", case.name);
    err
}

#[test]
fn props_and_render_refuse_the_same_input_with_the_same_line() {
    let config = fixture("defaults-only.toml");
    for case in cases() {
        let work = tempfile::tempdir().unwrap();
        let properties: Vec<(&str, &str)> = case
            .properties
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        // Later entries win: environment() lists the fixture's first.
        let mut merged: Vec<(&str, &str)> = vec![
            ("guestinfo.hostname", FQDN),
            ("guestinfo.ipaddress", IP),
            ("guestinfo.netmask", "24"),
            ("guestinfo.gateway", "192.168.40.1"),
        ];
        for (key, value) in properties {
            merged.retain(|(k, _)| *k != key);
            merged.push((key, value));
        }
        let env = environment_with(&work.path().join("ovf-env.xml"), &merged);

        let props = ovaboot(&["props", "--ovf-env", &env]);
        let props_line = one_refusal("props", &case, &props);

        let out = work.path().join("rendered");
        let root = work.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let render = ovaboot(&[
            "render",
            "--out",
            out.to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
            "--config",
            &config,
            "--ovf-env",
            &env,
        ]);
        let render_line = one_refusal("render", &case, &render);

        assert_eq!(props_line, render_line, "{}", case.name);
        assert!(props_line.starts_with("ovaboot: error: "), "{props_line}");
        for needle in &case.says {
            assert!(
                props_line.contains(needle),
                "{}: {props_line:?} should say {needle:?}",
                case.name
            );
        }
        for secret in ["Hunter2", "Pa/ss", "PRIVATE KEY"] {
            assert!(!props_line.contains(secret), "{}: {props_line}", case.name);
        }
        assert!(
            !out.exists(),
            "{}: render wrote {}",
            case.name,
            out.display()
        );
    }
}

#[test]
fn warnings_show_when_the_command_succeeds() {
    let work = tempfile::tempdir().unwrap();
    let env = environment(
        work.path(),
        &[
            ("guestinfo.no_proxy", ".corp.example.net"),
            ("guestinfo.https_proxy", ""),
        ],
    );
    let o = ovaboot(&["props", "--ovf-env", &env]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("guestinfo.no_proxy is set but neither"),
        "the warning is shown on success: {err:?}"
    );
}

#[test]
fn props_shows_a_proxy_with_only_its_password_masked() {
    let work = tempfile::tempdir().unwrap();
    let env = environment(
        work.path(),
        &[(
            "guestinfo.http_proxy",
            "http://svc-veba:Hunter2%2F@proxy.corp.example.net:3128",
        )],
    );
    let o = ovaboot(&["props", "--ovf-env", &env]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("guestinfo.http_proxy = http://svc-veba:***@proxy.corp.example.net:3128\n"),
        "{out}"
    );
    assert!(!out.contains("Hunter2") && !text(&o.stderr).contains("Hunter2"));
}
