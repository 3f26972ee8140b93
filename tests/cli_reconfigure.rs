//! `ovaboot reconfigure` on a prepared root: first boot done with one set of
//! properties, then another. Exactly the files a changed property owns change
//! (modes kept), an unchanged set writes nothing, a new host name is refused
//! with nothing applied, a dry run changes nothing, and no secret (nor its
//! plain SHA-256) lands in any file but its target.
//!
//! The cluster here is unreachable (loopback port 9, 1 s deadline): a run that
//! needs the Secret fails with exit 1 and records nothing; the Secret itself is
//! tested in tests/cluster_reconfigure.rs.

mod cli_support;

use std::path::Path;

use base64::Engine as _;
use cli_support::appliance::{Appliance, differences, snapshot};
use cli_support::{FQDN, IP, ca, leaf, mode, openssl_fingerprint, text};
use rcgen::KeyPair;
use time::Duration;

const PASSWORD_A: &str = "first-Password-4-day-one";
const PASSWORD_B: &str = "second-Password-4-day-two";

/// A user certificate for the FQDN from `issuer`: (chain PEM, key PEM).
fn user_pair(issuer: &cli_support::Ca) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let (cert, _) = leaf(issuer, FQDN, &key, -Duration::days(1), Duration::days(90));
    (format!("{cert}{}", issuer.pem), key.serialize_pem())
}

fn properties<'a>(
    address: &'a str,
    ntp: &'a str,
    password: &'a str,
    pair: &'a (String, String),
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("guestinfo.hostname", FQDN),
        ("guestinfo.ipaddress", address),
        ("guestinfo.netmask", "24"),
        ("guestinfo.gateway", "192.168.40.1"),
        ("guestinfo.ntp", ntp),
        ("guestinfo.root_password", password),
        ("guestinfo.tls_cert", &pair.0),
        ("guestinfo.tls_key", &pair.1),
    ]
}

#[test]
fn changed_properties_change_exactly_their_files_and_the_same_ones_change_nothing() {
    let appliance = Appliance::new();
    let issuer = ca("Lab CA", None);
    let (first, renewed) = (user_pair(&issuer), user_pair(&issuer));
    let a = appliance.env(
        "a.xml",
        &properties(IP, "ntp1.corp.example.net", PASSWORD_A, &first),
    );
    appliance.first_boot(&a);

    // The same properties again: nothing is planned or written.
    let before = snapshot(&appliance.root);
    let out = appliance.reconfigure(&a, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("properties unchanged since"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(snapshot(&appliance.root), before, "nothing written");

    // A new NTP server alone: its drop-in, and the digest; no cluster needed.
    let ntp = appliance.env(
        "ntp.xml",
        &properties(IP, "ntp2.corp.example.net", PASSWORD_A, &first),
    );
    let out = appliance.reconfigure(&ntp, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("properties changed: guestinfo.ntp\n"),
        "{}",
        text(&out.stdout)
    );
    let after = snapshot(&appliance.root);
    assert_eq!(
        differences(&before, &after),
        [
            "etc/systemd/timesyncd.conf.d/ovaboot.conf",
            "var/lib/ovaboot/properties.json"
        ]
    );
    assert!(text(&appliance.read("etc/systemd/timesyncd.conf.d/ovaboot.conf")).contains("ntp2"));

    // Address, password and a renewed certificate: the host part writes
    // exactly their files, keeping each mode; the Secret needs the cluster.
    let b = appliance.env(
        "b.xml",
        &properties(
            "192.168.40.18",
            "ntp2.corp.example.net",
            PASSWORD_B,
            &renewed,
        ),
    );
    let before = after;
    let out = appliance.reconfigure(&b, &["--phase", "host"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after = snapshot(&appliance.root);
    assert_eq!(
        differences(&before, &after),
        [
            "etc/hosts",
            "etc/ovaboot/tls/tls.crt",
            "etc/ovaboot/tls/tls.key",
            "etc/shadow",
            "etc/systemd/network/10-ovaboot.network",
        ]
    );
    for (file, want) in [
        ("etc/shadow", 0o640),
        ("etc/ovaboot/tls/tls.key", 0o600),
        ("etc/ovaboot/tls/tls.crt", 0o644),
        ("etc/systemd/network/10-ovaboot.network", 0o644),
    ] {
        assert_eq!(mode(&appliance.root.join(file)), want, "{file}");
    }
    assert_eq!(text(&appliance.read("etc/ovaboot/tls/tls.key")), renewed.1);
    assert!(
        text(&appliance.read("etc/systemd/network/10-ovaboot.network"))
            .contains("192.168.40.18/24")
    );

    // The whole run needs the Secret: the cluster is not there, exit 1, and
    // the digest is not recorded, so the next boot tries again.
    let out = appliance.reconfigure(&b, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .lines()
            .last()
            .unwrap()
            .contains("the API server did not answer"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        differences(&after, &snapshot(&appliance.root)),
        Vec::<String>::new(),
        "files already in place; digest not recorded"
    );

    // No secret in any file but its target, nor its plain SHA-256.
    assert_secrets_only_in_their_targets(
        &appliance,
        &[PASSWORD_A, PASSWORD_B],
        &[&first.1, &renewed.1],
    );
    for out in [&out] {
        for secret in [PASSWORD_B, &renewed.1] {
            assert!(!text(&out.stdout).contains(secret) && !text(&out.stderr).contains(secret));
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn assert_secrets_only_in_their_targets(appliance: &Appliance, passwords: &[&str], keys: &[&str]) {
    let mut needles: Vec<String> = Vec::new();
    for secret in passwords.iter().chain(keys) {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
        needles.push(sha256_hex(secret.as_bytes()));
        needles.push(base64::engine::general_purpose::STANDARD.encode(digest.as_ref()));
    }
    needles.extend(passwords.iter().map(|p| p.to_string()));
    for key in keys {
        needles.extend(cli_support::key_needles(key));
    }
    for (path, (bytes, _)) in snapshot(&appliance.root) {
        let haystack = String::from_utf8_lossy(&bytes).to_lowercase();
        for needle in &needles {
            if path == Path::new("etc/ovaboot/tls/tls.key")
                && !needle.chars().all(|c| c.is_ascii_hexdigit())
            {
                continue; // the key's own file holds the key
            }
            assert!(
                !haystack.contains(&needle.to_lowercase()),
                "a secret (or its plain SHA-256) is in {}",
                path.display()
            );
        }
    }
}

#[test]
fn a_new_host_name_is_refused_and_nothing_is_applied() {
    let appliance = Appliance::new();
    let pair = user_pair(&ca("Lab CA", None));
    let a = appliance.env(
        "a.xml",
        &properties(IP, "ntp1.corp.example.net", PASSWORD_A, &pair),
    );
    appliance.first_boot(&a);
    let before = snapshot(&appliance.root);
    // Renamed, and other properties changed with it: none of them applied.
    let mut renamed = properties("192.168.40.18", "ntp2.corp.example.net", PASSWORD_B, &pair);
    renamed[0].1 = "renamed.corp.example.net";
    let renamed = appliance.env("renamed.xml", &renamed);
    for phase in ["host", "cluster", "all"] {
        let out = appliance.reconfigure(&renamed, &["--phase", phase]);
        assert_eq!(out.status.code(), Some(2), "{phase}: {}", text(&out.stderr));
        let stderr = text(&out.stderr);
        let line = stderr.lines().last().unwrap();
        assert!(
            line.starts_with(&format!(
                "ovaboot: error: guestinfo.hostname: cannot change from {FQDN} to renamed.corp.example.net after first boot: k3s registered its node"
            )) && line.ends_with("nothing was applied"),
            "{stderr}"
        );
        assert_eq!(
            snapshot(&appliance.root),
            before,
            "{phase}: nothing changed"
        );
    }
    // The refusal shows where the admin looks: state file and console banner.
    let state: serde_json::Value =
        serde_json::from_slice(&appliance.read("var/lib/ovaboot/state.json")).unwrap();
    assert_eq!(state["phase"], "reconfigure", "{state}");
    assert_eq!(state["outcome"], "failed", "{state}");
    assert_eq!(state["permanent"], true, "{state}");
    assert!(
        state["error"]
            .as_str()
            .unwrap()
            .starts_with("guestinfo.hostname: cannot change"),
        "{state}"
    );
    let banner = String::from_utf8(appliance.read("etc/issue.d/ovaboot.issue")).unwrap();
    assert!(banner.contains("guestinfo.hostname"), "{banner}");
    let out = appliance.reconfigure(&renamed, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "a dry run refuses it too");
}

/// systemd reloads before k3s starts only when a proxy drop-in for k3s came
/// or went (the unit's `ExecStartPost=` acts on the flag): a dry run, a
/// rerun that finds the drop-in in place and other changes ask for nothing.
#[test]
fn a_proxy_that_comes_or_goes_asks_systemd_to_reload_and_nothing_else_does() {
    const DROPIN: &str = "/etc/systemd/system/k3s.service.d/ovaboot-proxy.conf";
    let appliance = Appliance::new();
    let pair = user_pair(&ca("Lab CA", None));
    let plain = properties(IP, "ntp1.corp.example.net", PASSWORD_A, &pair);
    appliance.first_boot(&appliance.env("plain.xml", &plain));
    let flag = ovaboot::root::under(&appliance.root, ovaboot::apply::units::RELOAD_FLAG);
    let reconfigure = |env: &str, extra: &[&str]| {
        let out = appliance.reconfigure(env, extra);
        assert!(out.status.success(), "{}", text(&out.stderr));
        // What the unit does: reload if asked, and take the flag away.
        let listed = std::fs::read_to_string(&flag).ok();
        if listed.is_some() {
            std::fs::remove_file(&flag).unwrap();
        }
        listed
    };

    let mut proxied = plain.clone();
    proxied.push(("guestinfo.http_proxy", "http://proxy.corp.example.net:3128"));
    let proxied = appliance.env("proxied.xml", &proxied);
    assert_eq!(reconfigure(&proxied, &["--dry-run"]), None, "a dry run");
    assert_eq!(
        reconfigure(&proxied, &["--phase", "host"]),
        Some(format!("{DROPIN}\n")),
        "the drop-in came"
    );
    assert!(appliance.root.join(&DROPIN[1..]).is_file());
    // The digest waits for the cluster part, so the next boot applies the
    // same properties again: the drop-in is in place, nothing to reload.
    assert_eq!(
        reconfigure(&proxied, &["--phase", "host"]),
        None,
        "the drop-in was there"
    );
    // Both parts (the Secret already holds the pair): the digest is recorded.
    assert_eq!(reconfigure(&proxied, &[]), None, "the drop-in was there");

    let mut new_ntp = plain.clone();
    for (key, value) in &mut new_ntp {
        if *key == "guestinfo.ntp" {
            *value = "ntp2.corp.example.net";
        }
    }
    assert_eq!(
        reconfigure(&appliance.env("ntp-without-proxy.xml", &new_ntp), &[]),
        Some(format!("{DROPIN}\n")),
        "the proxy cleared with the NTP server: the drop-in went"
    );
    assert!(!appliance.root.join(&DROPIN[1..]).exists());
    assert_eq!(
        reconfigure(&appliance.env("plain-again.xml", &plain), &[]),
        None,
        "timesyncd's drop-in is no unit's"
    );
}

#[test]
fn a_dry_run_names_the_files_and_fingerprints_and_changes_nothing() {
    let appliance = Appliance::new();
    let issuer = ca("Lab CA", None);
    let (first, renewed) = (user_pair(&issuer), user_pair(&issuer));
    let a = appliance.env("a.xml", &properties(IP, "", PASSWORD_A, &first));
    appliance.first_boot(&a);
    let old = openssl_fingerprint(&appliance.read("etc/ovaboot/tls/tls.crt"));
    let new = openssl_fingerprint(renewed.0.as_bytes());
    let b = appliance.env(
        "b.xml",
        &properties(IP, "ntp.corp.example.net", PASSWORD_A, &renewed),
    );
    let before = snapshot(&appliance.root);
    let state_before = appliance.read("var/lib/ovaboot/state.json");
    let out = appliance.reconfigure(&b, &["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(snapshot(&appliance.root), before, "byte-identical");
    assert_eq!(
        appliance.read("var/lib/ovaboot/state.json"),
        state_before,
        "a dry run records nothing"
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout
            .contains("properties changed: guestinfo.ntp, guestinfo.tls_cert, guestinfo.tls_key\n"),
        "{stdout}"
    );
    for line in [
        "would add /etc/systemd/timesyncd.conf.d/ovaboot.conf".to_owned(),
        "would change /etc/ovaboot/tls/tls.key".to_owned(),
        "would change /etc/ovaboot/tls/tls.crt".to_owned(),
        format!("certificate: sha256 {old} would be replaced by sha256 {new}"),
        "would apply Secret ovaboot/ovaboot-tls".to_owned(),
        "dry run: nothing was changed".to_owned(),
    ] {
        assert!(stdout.contains(&line), "{line:?} missing from:\n{stdout}");
    }
    assert!(!stdout.contains("/etc/shadow"), "same password: {stdout}");
    // Back to DHCP: the network file would be removed.
    let dhcp = appliance.env(
        "dhcp.xml",
        &[
            ("guestinfo.hostname", FQDN),
            ("guestinfo.root_password", PASSWORD_A),
            ("guestinfo.tls_cert", &first.0),
            ("guestinfo.tls_key", &first.1),
        ],
    );
    let out = appliance.reconfigure(&dhcp, &["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("would remove /etc/systemd/network/10-ovaboot.network"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(snapshot(&appliance.root), before);
}

#[test]
fn before_first_boot_completed_it_refuses_in_one_line() {
    let appliance = Appliance::new();
    let a = appliance.env("a.xml", &[("guestinfo.hostname", FQDN)]);
    let before = snapshot(&appliance.root);
    let out = appliance.reconfigure(&a, &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("ovaboot: error: first boot has not completed on this system"),
        "{stderr}"
    );
    assert_eq!(snapshot(&appliance.root), before);
}

/// Power lost between a day-2 run's last record (the digest) and its "done"
/// leaves the state file saying "running", in a boot that is over. The next
/// run whose cluster part finds nothing to do records that run done; the
/// host part alone (which does not look at the xDS certificates) leaves it.
#[test]
fn a_run_an_earlier_boot_left_running_is_recorded_done_once_nothing_is_left_to_do() {
    let appliance = Appliance::new();
    let a = appliance.env("a.xml", &[("guestinfo.hostname", FQDN)]);
    appliance.first_boot(&a);
    let state_path = appliance.root.join("var/lib/ovaboot/state.json");
    let read_state = || -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap()
    };
    let earlier_boot = "00000000-0000-4000-8000-000000000001";
    let mut cut = read_state();
    cut["phase"] = "reconfigure".into();
    cut["outcome"] = "running".into();
    cut["finished"] = serde_json::Value::Null;
    cut["boot_id"] = earlier_boot.into();
    std::fs::write(&state_path, serde_json::to_vec(&cut).unwrap()).unwrap();

    let out = appliance.reconfigure(&a, &["--phase", "host"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(read_state(), cut, "the host part alone settled the record");

    let out = appliance.reconfigure(&a, &["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(read_state(), cut, "a dry run recorded something");

    let out = appliance.reconfigure(&a, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let settled = read_state();
    assert_eq!(settled["outcome"], "done", "{settled}");
    assert!(settled["finished"].is_string(), "{settled}");
    assert_ne!(settled["boot_id"], earlier_boot, "{settled}");
    assert_eq!(settled["started"], cut["started"], "{settled}");
    let banner = std::fs::read_to_string(appliance.root.join("etc/issue.d/ovaboot.issue")).unwrap();
    assert!(!banner.contains("running"), "{banner}");
}
