//! `ovaboot render` refusing bad input: one stderr line that names the
//! property, config key or file at fault, and nothing written anywhere.

mod cli_support;

use std::path::{Path, PathBuf};

use rcgen::KeyPair;
use time::Duration;

use cli_support::*;

// ---- refusals: one line naming the culprit, nothing written ------------------

/// Renders with `args` twice, into an absent folder and into an existing empty
/// one: both refused with one stderr line containing every one of `names`, the
/// folder left absent (or empty), and nothing else beside it.
fn assert_refused(args: &[&str], manifest: &Path, names: &[&str]) -> String {
    let mut line = String::new();
    for existing_empty in [false, true] {
        let parent = tempfile::tempdir().unwrap();
        let out = parent.path().join("rendered");
        if existing_empty {
            std::fs::create_dir(&out).unwrap();
        }
        let mut all = vec!["render", "--out", out.to_str().unwrap()];
        all.extend_from_slice(args);
        let o = ovaboot_with_manifest(&all, manifest);
        assert_eq!(
            o.status.code(),
            Some(2),
            "bad input exits 2 (no retry): {args:?}"
        );
        assert_eq!(text(&o.stdout), "", "nothing on stdout");
        let err = text(&o.stderr);
        assert_eq!(err.lines().count(), 1, "exactly one line on stderr: {err}");
        assert!(err.starts_with("ovaboot: error: "), "{err}");
        for name in names {
            assert!(err.contains(name), "{err:?} should name {name}");
        }
        let beside: Vec<String> = std::fs::read_dir(parent.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        if existing_empty {
            assert_eq!(beside, ["rendered"], "nothing written beside the folder");
            assert_eq!(
                std::fs::read_dir(&out).unwrap().count(),
                0,
                "the folder stays empty"
            );
        } else {
            assert!(beside.is_empty(), "nothing written: {beside:?}");
        }
        line = err;
    }
    line
}

/// Config and root that cannot change the outcome, then `extra`.
fn hermetic<'a>(root: &'a tempfile::TempDir, config: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--root", root.path().to_str().unwrap(), "--config", config];
    args.extend_from_slice(extra);
    args
}

#[test]
fn a_bad_hostname_is_refused_naming_the_property() {
    let root = tempfile::tempdir().unwrap();
    let (config, env) = (
        fixture("defaults-only.toml"),
        fixture("hostname-with-underscore.xml"),
    );
    assert_refused(
        &hermetic(&root, &config, &["--ovf-env", &env]),
        &contour_manifest(),
        &["guestinfo.hostname"],
    );
}

#[test]
fn a_gateway_outside_the_subnet_is_refused_naming_the_property() {
    let root = tempfile::tempdir().unwrap();
    let (config, env) = (
        fixture("defaults-only.toml"),
        fixture("gateway-outside-subnet.xml"),
    );
    assert_refused(
        &hermetic(&root, &config, &["--ovf-env", &env]),
        &contour_manifest(),
        &["guestinfo.gateway"],
    );
}

/// An admin certificate issued by a fresh CA for `dns`, valid `from`..`until` from now.
fn refused_certificate(dns: &str, from: Duration, until: Duration) -> String {
    let work = tempfile::tempdir().unwrap();
    let issuer = ca("ovaboot test issuing CA", None);
    let key = KeyPair::generate().unwrap();
    let (leaf_pem, _) = leaf(&issuer, dns, &key, from, until);
    let key_pem = key.serialize_pem();
    let env = environment(
        work.path(),
        &[
            ("guestinfo.tls_cert", &leaf_pem),
            ("guestinfo.tls_key", &key_pem),
        ],
    );
    let config = fixture("defaults-only.toml");
    let line = assert_refused(
        &hermetic(&work, &config, &["--ovf-env", &env]),
        &contour_manifest(),
        &["guestinfo.tls_cert"],
    );
    for needle in key_needles(&key_pem) {
        assert!(!line.contains(&needle), "the key is in the error");
    }
    line
}

#[test]
fn a_certificate_for_another_host_is_refused_naming_the_property() {
    let line = refused_certificate(
        "other.corp.example.net",
        Duration::days(-1),
        Duration::days(90),
    );
    assert!(line.contains(FQDN), "{line}");
}

#[test]
fn an_expired_certificate_is_refused_naming_the_property() {
    let line = refused_certificate(FQDN, Duration::days(-90), Duration::days(-1));
    assert!(line.contains("expired"), "{line}");
}

#[test]
fn a_config_with_an_unknown_key_is_refused_naming_the_key() {
    let root = tempfile::tempdir().unwrap();
    let (config, env) = (
        fixture("unknown-key-in-tls-table.toml"),
        fixture("static-network-without-tls.xml"),
    );
    assert_refused(
        &hermetic(&root, &config, &["--ovf-env", &env]),
        &contour_manifest(),
        &["unknown-key-in-tls-table.toml", "lifetime_days"],
    );
}

#[test]
fn a_route_on_port_zero_is_refused_naming_the_key() {
    let root = tempfile::tempdir().unwrap();
    let (config, env) = (
        fixture("route-with-port-zero.toml"),
        fixture("static-network-without-tls.xml"),
    );
    assert_refused(
        &hermetic(&root, &config, &["--ovf-env", &env]),
        &contour_manifest(),
        &["routes[0].port"],
    );
}

#[test]
fn a_manifest_that_is_not_the_pinned_release_is_refused_naming_both_digests() {
    let work = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(contour_manifest()).unwrap();
    bytes.extend_from_slice(b"\n# one line more than the release\n");
    let modified = work.path().join("contour-v1.33.6.yaml");
    std::fs::write(&modified, &bytes).unwrap();
    let actual = openssl(&["dgst", "-sha256", "-r"], &bytes);
    let actual = actual.split_whitespace().next().unwrap();
    let pinned = openssl(
        &["dgst", "-sha256", "-r"],
        &std::fs::read(contour_manifest()).unwrap(),
    );
    let pinned = pinned.split_whitespace().next().unwrap();
    let (config, env) = (
        fixture("defaults-only.toml"),
        fixture("static-network-without-tls.xml"),
    );
    assert_refused(
        &hermetic(&work, &config, &["--ovf-env", &env]),
        &modified,
        &[modified.to_str().unwrap(), actual, pinned],
    );
}

#[test]
fn a_non_empty_output_folder_is_refused_and_left_as_it_was() {
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("rendered");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "the admin's notes\n").unwrap();
    let root = tempfile::tempdir().unwrap();
    let (config, env) = (
        fixture("defaults-only.toml"),
        fixture("static-network-without-tls.xml"),
    );
    let mut args = vec!["render", "--out", out.to_str().unwrap()];
    args.extend(hermetic(&root, &config, &["--ovf-env", &env]));
    let o = ovaboot(&args);
    assert!(!o.status.success());
    assert_eq!(text(&o.stdout), "");
    let err = text(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(out.to_str().unwrap()) && err.contains("absent or empty"),
        "{err}"
    );
    let inside: Vec<PathBuf> = files_under(&out);
    assert_eq!(inside, [out.join("notes.txt")]);
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "the admin's notes\n"
    );
    let beside = std::fs::read_dir(parent.path()).unwrap().count();
    assert_eq!(beside, 1, "no staging folder left beside it");
}
