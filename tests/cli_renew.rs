//! The self-signed certificate renews itself at reconfigure, with no property
//! changed: made with the same names when it is within `expiry_warning_days`
//! of expiry, recorded like any applied change; the admin's certificate is
//! never replaced; one far from expiry changes nothing. And the cluster part
//! alone (what the daily timer runs on the running system) leaves a property
//! change whose host files are not written to the next boot.
//!
//! A certificate near expiry without waiting: first boot completed as if it
//! had run 815 days ago (`complete_first_boot_at`), so its self-signed
//! certificate, valid 825 days, has 10 left. The cluster is unreachable here
//! (the Secret is tested in tests/cluster_renew.rs).

mod cli_support;

use cli_support::appliance::{Appliance, complete_first_boot_at, config, differences, snapshot};
use cli_support::{FQDN, IP, assert_key_matches_cert, ca, leaf, mode, openssl_fingerprint, text};
use rcgen::KeyPair;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

const CRT: &str = "etc/ovaboot/tls/tls.crt";
const KEY: &str = "etc/ovaboot/tls/tls.key";
const PASSWORD: &str = "first-Password-4-day-one";

fn properties<'a>(extra: &[(&'static str, &'a str)]) -> Vec<(&'static str, &'a str)> {
    let mut properties = vec![
        ("guestinfo.hostname", FQDN),
        ("guestinfo.ipaddress", IP),
        ("guestinfo.netmask", "24"),
        ("guestinfo.gateway", "192.168.40.1"),
        ("guestinfo.root_password", PASSWORD),
    ];
    properties.extend_from_slice(extra);
    properties
}

/// First boot with `env` completed 815 days ago: the self-signed certificate
/// (825 days) expires in 10, within the default 30 warning days.
fn first_boot_815_days_ago(appliance: &Appliance, env: &str) {
    let out = appliance.run("firstboot", env, &["--phase", "host"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let at = OffsetDateTime::now_utc() - Duration::days(815);
    complete_first_boot_at(&appliance.root, env, &config(&appliance.config), at);
}

/// The leaf's SANs (as openssl prints them) and notAfter.
fn names_and_expiry(pem: &[u8]) -> (String, OffsetDateTime) {
    let sans = cli_support::openssl(&["x509", "-noout", "-ext", "subjectAltName"], pem);
    let der = &cli_support::pem_blocks_der(&text(pem))[0];
    let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    (sans, cert.validity().not_after.to_datetime())
}

fn state(appliance: &Appliance) -> Value {
    serde_json::from_slice(&appliance.read("var/lib/ovaboot/state.json")).unwrap()
}

#[test]
fn a_self_signed_certificate_near_expiry_is_renewed_with_the_same_names() {
    let appliance = Appliance::new();
    let env = appliance.env("a.xml", &properties(&[]));
    first_boot_815_days_ago(&appliance, &env);
    let old_pem = appliance.read(CRT);
    let old = openssl_fingerprint(&old_pem);
    let (sans, not_after) = names_and_expiry(&old_pem);
    assert!(sans.contains(FQDN) && sans.contains(IP), "{sans}");

    // A dry run says it would renew, and changes nothing.
    let before = snapshot(&appliance.root);
    let state_before = appliance.read("var/lib/ovaboot/state.json");
    let out = appliance.reconfigure(&env, &["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for line in [
        "properties unchanged\n",
        "certificate: renewal due: the self-signed certificate expires on ",
        "would change /etc/ovaboot/tls/tls.key\n",
        "would change /etc/ovaboot/tls/tls.crt\n",
        &format!("certificate: sha256 {old} would be replaced by sha256 "),
        "would apply Secret ovaboot/ovaboot-tls\n",
        "dry run: nothing was changed",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }
    assert_eq!(stdout.matches("would change").count(), 2, "{stdout}");
    assert_eq!(snapshot(&appliance.root), before, "byte-identical");
    assert_eq!(
        appliance.read("var/lib/ovaboot/state.json"),
        state_before,
        "a dry run records nothing"
    );

    // The boot's host part: a new pair, the same names, nothing else written.
    let out = appliance.reconfigure(&env, &["--phase", "host"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after = snapshot(&appliance.root);
    assert_eq!(differences(&before, &after), [CRT, KEY]);
    assert_eq!(mode(&appliance.root.join(KEY)), 0o600);
    assert_eq!(mode(&appliance.root.join(CRT)), 0o644);
    let new_pem = appliance.read(CRT);
    assert_key_matches_cert(&appliance.read(KEY), &new_pem);
    let new = openssl_fingerprint(&new_pem);
    assert_ne!(new, old);
    let (new_sans, new_not_after) = names_and_expiry(&new_pem);
    assert_eq!(new_sans, sans, "the same names");
    assert!(
        new_not_after > not_after,
        "{new_not_after} after {not_after}"
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("properties unchanged\ncertificate: renewal due")
            && stdout.contains(&format!(
                "certificate: sha256 {old} replaced by sha256 {new}"
            )),
        "{stdout}"
    );

    // Recorded like any applied change: state file, banner, `status`.
    let state = state(&appliance);
    assert_eq!(state["phase"], "reconfigure", "{state}");
    assert_eq!(state["outcome"], "done", "{state}");
    assert_eq!(state["certificate"]["sha256"], new.as_str(), "{state}");
    assert_eq!(state["certificate"]["source"], "self-signed", "{state}");
    let banner = text(&appliance.read("etc/issue.d/ovaboot.issue"));
    assert!(banner.contains(&new) && !banner.contains(&old), "{banner}");
    let root = appliance.root.to_str().unwrap();
    let status = cli_support::ovaboot(&["status", "--root", root]);
    assert!(
        text(&status.stdout).contains(&new),
        "{}",
        text(&status.stdout)
    );

    // The cluster part needs the Secret: unreachable here, so exit 1 with the
    // new pair kept as it is and nothing recorded (the next run tries again).
    let out = appliance.reconfigure(&env, &["--phase", "cluster"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        differences(&after, &snapshot(&appliance.root)),
        [""; 0],
        "the pair already in place; the digest not recorded"
    );
    let out = appliance.reconfigure(&env, &["--dry-run"]);
    assert!(
        text(&out.stdout).contains("certificate: renewal due")
            && text(&out.stdout).contains(&format!("certificate: sha256 {new} (unchanged)")),
        "still due for the Secret, and the new pair is kept: {}",
        text(&out.stdout)
    );
}

#[test]
fn the_cluster_part_alone_renews_the_pair_before_the_secret() {
    // The daily timer's run: the TLS pair alone is written (host files are
    // not), then the Secret, which cannot be reached here.
    let appliance = Appliance::new();
    let env = appliance.env("a.xml", &properties(&[]));
    first_boot_815_days_ago(&appliance, &env);
    let old = openssl_fingerprint(&appliance.read(CRT));
    let before = snapshot(&appliance.root);
    let out = appliance.reconfigure(&env, &["--phase", "cluster"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("the API server did not answer"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(differences(&before, &snapshot(&appliance.root)), [CRT, KEY]);
    assert_ne!(openssl_fingerprint(&appliance.read(CRT)), old);
    assert_eq!(mode(&appliance.root.join(KEY)), 0o600);
    assert_eq!(state(&appliance)["outcome"], "waiting_to_retry");
}

#[test]
fn the_admins_certificate_near_expiry_is_never_replaced() {
    let appliance = Appliance::new();
    let issuer = ca("Lab CA", None);
    let key = KeyPair::generate().unwrap();
    let (cert, _) = leaf(&issuer, FQDN, &key, -Duration::days(80), Duration::days(10));
    let chain = format!("{cert}{}", issuer.pem);
    let key_pem = key.serialize_pem();
    let env = appliance.env(
        "a.xml",
        &properties(&[
            ("guestinfo.tls_cert", &chain),
            ("guestinfo.tls_key", &key_pem),
        ]),
    );
    appliance.first_boot(&env);
    for stderr in nothing_to_do_in_any_phase(&appliance, &env) {
        assert!(
            stderr.contains("guestinfo.tls_cert: the admin's certificate expires on"),
            "warned: {stderr}"
        );
    }
    assert_eq!(text(&appliance.read(KEY)), key_pem);
    // Said where the admin looks: the state, the console banner, guestinfo.
    let state: ovaboot::state::State =
        serde_json::from_slice(&appliance.read("var/lib/ovaboot/state.json")).unwrap();
    let warning = state.certificate_warning.clone().expect("a warning");
    assert!(
        warning.starts_with(&format!(
            "certificate TLS serving certificate (CN={FQDN}) expires in "
        )),
        "{warning}"
    );
    let banner = text(&appliance.read("etc/issue.d/ovaboot.issue"));
    assert!(banner.contains(&format!("WARNING: {warning}")), "{banner}");
    let status = ovaboot::state::vsphere::values(&state, None);
    assert_eq!(status[0].1, format!("done; {warning}"));
}

#[test]
fn a_self_signed_certificate_far_from_expiry_changes_nothing() {
    let appliance = Appliance::new();
    let env = appliance.env("a.xml", &properties(&[]));
    appliance.first_boot(&env);
    for stderr in nothing_to_do_in_any_phase(&appliance, &env) {
        assert!(!stderr.contains("expires on"), "{stderr}");
    }
}

/// Runs each phase (and both) with `env`: each finds nothing to do and
/// writes nothing, not even the state. Returns what each said on stderr.
fn nothing_to_do_in_any_phase(appliance: &Appliance, env: &str) -> Vec<String> {
    let before = snapshot(&appliance.root);
    let state_before = appliance.read("var/lib/ovaboot/state.json");
    let mut said = Vec::new();
    for extra in [&[][..], &["--phase", "host"], &["--phase", "cluster"]] {
        let out = appliance.reconfigure(env, extra);
        assert!(out.status.success(), "{extra:?}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(
            stdout.contains("properties unchanged since"),
            "{extra:?}: {stdout}"
        );
        assert!(!stdout.contains("renewal"), "{extra:?}: {stdout}");
        assert_eq!(
            snapshot(&appliance.root),
            before,
            "{extra:?}: nothing written"
        );
        assert_eq!(appliance.read("var/lib/ovaboot/state.json"), state_before);
        said.push(text(&out.stderr));
    }
    said
}

#[test]
fn the_cluster_part_alone_leaves_a_changed_property_to_the_next_boot() {
    let appliance = Appliance::new();
    let env = appliance.env("a.xml", &properties(&[]));
    appliance.first_boot(&env);
    let before = snapshot(&appliance.root);
    // Changed on the running VM (a guestinfo value): the timer's run must
    // not record a change whose files only the boot's host part writes.
    let ntp = appliance.env(
        "ntp.xml",
        &properties(&[("guestinfo.ntp", "ntp2.corp.example.net")]),
    );
    let out = appliance.reconfigure(&ntp, &["--phase", "cluster"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let line = stderr.lines().last().unwrap();
    assert!(
        line.starts_with(
            "ovaboot: error: guestinfo.ntp changed since the host part last ran (/etc/systemd/timesyncd.conf.d/ovaboot.conf not written)"
        ) && line.contains("reboot to apply the change; nothing was applied"),
        "{stderr}"
    );
    assert_eq!(
        snapshot(&appliance.root),
        before,
        "nothing applied or recorded"
    );
    let state = state(&appliance);
    assert_eq!(state["outcome"], "failed", "{state}");
    // At the next boot: the host part, then the cluster part records it.
    for phase in ["host", "cluster"] {
        let out = appliance.reconfigure(&ntp, &["--phase", phase]);
        assert!(out.status.success(), "{phase}: {}", text(&out.stderr));
    }
    assert_eq!(
        differences(&before, &snapshot(&appliance.root)),
        [
            "etc/systemd/timesyncd.conf.d/ovaboot.conf",
            "var/lib/ovaboot/properties.json"
        ]
    );
}
