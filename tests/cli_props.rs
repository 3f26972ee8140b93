//! `ovaboot props` as a user runs it: the built binary, real documents on disk.

mod cli_support;

use std::path::Path;
use std::process::Output;

fn ovaboot(args: &[&str]) -> Output {
    cli_support::ovaboot(args)
}

/// Writes an ESXi-style OVF environment with these properties and returns its path.
fn environment(dir: &Path, properties: &[(&str, &str)]) -> String {
    cli_support::environment_with(&dir.join("ovf-env.xml"), properties)
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn props_prints_transport_and_properties_with_the_key_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["veba01.lab.example.com".into()]).unwrap();
    let key_pem = cert.signing_key.serialize_pem();
    // The vSphere wizard turns newlines into spaces.
    let mangled_key = key_pem.replace('\n', " ");
    let path = environment(
        dir.path(),
        &[
            ("guestinfo.hostname", "VEBA01.lab.example.com"),
            ("guestinfo.tls_cert", &cert.cert.pem()),
            ("guestinfo.tls_key", &mangled_key),
        ],
    );
    let out = ovaboot(&["props", "--ovf-env", &path]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("transport: file\n"), "{text}");
    assert!(
        text.contains("guestinfo.hostname = VEBA01.lab.example.com\n"),
        "{text}"
    );
    assert!(text.contains("guestinfo.tls_key = <redacted>\n"), "{text}");
    let key_body: Vec<&str> = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for line in key_body {
        assert!(
            !text.contains(line) && !stderr(&out).contains(line),
            "key material printed"
        );
    }

    let out = ovaboot(&["props", "--json", "--ovf-env", &path]);
    assert!(out.status.success());
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&out)).expect("--json prints one JSON object");
    assert_eq!(json["transport"], "file");
    assert_eq!(json["properties"]["guestinfo.tls_key"], "<redacted>");
    assert_eq!(
        json["properties"]["guestinfo.hostname"],
        "VEBA01.lab.example.com"
    );
}

#[test]
fn the_sample_environment_is_built_in() {
    let out = ovaboot(&["props", "--sample"]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(stdout(&out).contains("guestinfo.hostname = veba01.lab.example.com\n"));
}

/// Bad input: exit non-zero, one line on stderr naming the property, nothing on stdout.
fn assert_refused(out: &Output, names: &str) {
    assert!(!out.status.success());
    assert_eq!(stdout(out), "", "nothing on stdout");
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "exactly one line on stderr: {err}");
    assert!(err.contains(names), "{err:?} should name {names}");
}

#[test]
fn an_invalid_hostname_is_refused_naming_the_property() {
    let dir = tempfile::tempdir().unwrap();
    let path = environment(dir.path(), &[("guestinfo.hostname", "veba_01")]);
    let out = ovaboot(&["props", "--ovf-env", &path]);
    assert_refused(&out, "guestinfo.hostname");
}

#[test]
fn a_missing_hostname_is_refused_naming_the_property() {
    let dir = tempfile::tempdir().unwrap();
    let path = environment(dir.path(), &[("guestinfo.ntp", "pool.ntp.org")]);
    assert_refused(
        &ovaboot(&["props", "--ovf-env", &path]),
        "guestinfo.hostname",
    );
}

#[test]
fn a_broken_key_is_refused_without_showing_it() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["veba01.lab.example.com".into()]).unwrap();
    let secret_marker = "TOPSECRETKEYMATERIAL0123456789";
    let key = format!("-----BEGIN PRIVATE KEY-----\n{secret_marker}\n-----END PRIVATE KEY-----\n");
    let path = environment(
        dir.path(),
        &[
            ("guestinfo.hostname", "veba01.lab.example.com"),
            ("guestinfo.tls_cert", &cert.cert.pem()),
            ("guestinfo.tls_key", &key),
        ],
    );
    let out = ovaboot(&["props", "--ovf-env", &path]);
    assert_refused(&out, "guestinfo.tls_key");
    assert!(!stderr(&out).contains(secret_marker));
}

#[test]
fn a_document_with_a_doctype_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ovf-env.xml");
    std::fs::write(
        &path,
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><Environment xmlns=\"http://schemas.dmtf.org/ovf/environment/1\"/>",
    )
    .unwrap();
    assert_refused(
        &ovaboot(&["props", "--ovf-env", path.to_str().unwrap()]),
        "DOCTYPE",
    );
}

#[test]
fn a_missing_file_is_refused_naming_it() {
    assert_refused(
        &ovaboot(&["props", "--ovf-env", "/nonexistent/ovf-env.xml"]),
        "/nonexistent/ovf-env.xml",
    );
}

#[test]
fn props_reads_the_config_given_and_refuses_what_render_refuses_with_it() {
    let bad = cli_support::fixture("unknown-key-in-tls-table.toml");
    let out = ovaboot(&["props", "--sample", "--config", &bad]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("lifetime_days"), "{err}");
    assert!(out.stdout.is_empty());
    let good = cli_support::fixture("defaults-only.toml");
    let out = ovaboot(&["props", "--sample", "--config", &good]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("transport: "), "{}", stdout(&out));
}

#[test]
fn a_blank_secret_shows_as_empty_not_as_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let path = environment(
        dir.path(),
        &[
            ("guestinfo.hostname", "veba01.lab.example.com"),
            ("guestinfo.tls_cert", ""),
            ("guestinfo.tls_key", ""),
        ],
    );
    let out = ovaboot(&["props", "--ovf-env", &path]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("\nguestinfo.tls_key = \n"), "{text}");
    // Only the endpoint password the fixtures give is redacted.
    assert_eq!(text.matches("<redacted>").count(), 1, "{text}");
    assert!(
        text.contains("guestinfo.endpoint_password = <redacted>"),
        "{text}"
    );
    let out = ovaboot(&["props", "--ovf-env", &path, "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["properties"]["guestinfo.tls_key"], "");
}

#[test]
fn an_ovf_environment_file_that_cannot_be_read_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.xml");
    let out = ovaboot(&["props", "--ovf-env", missing.to_str().unwrap()]);
    assert!(!out.status.success());
    assert_eq!(
        stderr(&out),
        format!(
            "ovaboot: error: the OVF environment could not be read: file transport: {}: No such file or directory (os error 2)\n",
            missing.display()
        )
    );
}

#[test]
fn a_static_address_without_gateway_refuses_servers_off_its_subnet_and_warns_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let base = [
        ("guestinfo.hostname", "veba01.lab.example.com"),
        ("guestinfo.ipaddress", "192.168.10.20"),
        ("guestinfo.netmask", "24"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut properties = base.to_vec();
        properties.extend_from_slice(extra);
        environment(dir.path(), &properties)
    };
    let off = with(&[
        ("guestinfo.dns", "10.0.0.53"),
        ("guestinfo.ntp", "10.0.0.123"),
    ]);
    let out = ovaboot(&["props", "--ovf-env", &off]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("ovaboot: error: guestinfo.dns: 10.0.0.53 is outside 192.168.10.0/24 and guestinfo.gateway is not set"),
        "{err}"
    );
    let isolated = with(&[("guestinfo.dns", "192.168.10.2")]);
    let out = ovaboot(&["props", "--ovf-env", &isolated]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("guestinfo.gateway is not set: the appliance reaches 192.168.10.0/24 only (an isolated network)"),
        "{}",
        stderr(&out)
    );
}
