//! A guest clock that is wrong at first boot (ahead or behind by days) never
//! leaves a certificate that is not yet valid or already expired once the
//! clock is corrected: first boot records both dates of what it minted, and
//! every day-2 run checks both.
//!
//! The clock is moved as tests/cli_renew.rs moves it: first boot is completed
//! as if at another time (`complete_first_boot_at`), then the binary runs
//! with the machine's (correct) clock.

mod cli_support;

use cli_support::appliance::{Appliance, complete_first_boot_at, config, differences, snapshot};
use cli_support::{FQDN, IP, assert_key_matches_cert, openssl_fingerprint, text};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

const CRT: &str = "etc/ovaboot/tls/tls.crt";
const KEY: &str = "etc/ovaboot/tls/tls.key";

/// First boot completed with the guest's clock `skew` off the real time.
fn first_boot_with_clock_off_by(skew: Duration) -> (Appliance, String) {
    let appliance = Appliance::new();
    let env = appliance.env(
        "a.xml",
        &[
            ("guestinfo.hostname", FQDN),
            ("guestinfo.ipaddress", IP),
            ("guestinfo.netmask", "24"),
            ("guestinfo.gateway", "192.168.40.1"),
        ],
    );
    let out = appliance.run("firstboot", &env, &["--phase", "host"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let at = OffsetDateTime::now_utc() + skew;
    complete_first_boot_at(&appliance.root, &env, &config(&appliance.config), at);
    (appliance, env)
}

/// The leaf's notBefore and notAfter.
fn dates(pem: &[u8]) -> (OffsetDateTime, OffsetDateTime) {
    let der = &cli_support::pem_blocks_der(&text(pem))[0];
    let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    (
        cert.validity().not_before.to_datetime(),
        cert.validity().not_after.to_datetime(),
    )
}

fn recorded_dates(appliance: &Appliance) -> (String, String) {
    let digest: Value =
        serde_json::from_slice(&appliance.read("var/lib/ovaboot/properties.json")).unwrap();
    let cert = &digest["certificate"];
    (
        cert["not_before"]
            .as_str()
            .expect("notBefore recorded")
            .to_owned(),
        cert["not_after"].as_str().unwrap().to_owned(),
    )
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap()
}

/// The boot's day-2 host part with the clock corrected: a new pair, valid
/// now on both counts, with the same names; nothing else written.
fn renewed_at_the_next_boot(appliance: &Appliance, env: &str, why: &str) {
    let old_pem = appliance.read(CRT);
    let old = openssl_fingerprint(&old_pem);
    let before = snapshot(&appliance.root);
    let out = appliance.reconfigure(env, &["--phase", "host"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "properties unchanged\ncertificate: renewal due: {why}"
        )),
        "{stdout}"
    );
    assert_eq!(differences(&before, &snapshot(&appliance.root)), [CRT, KEY]);
    let new_pem = appliance.read(CRT);
    assert_ne!(openssl_fingerprint(&new_pem), old);
    assert_key_matches_cert(&appliance.read(KEY), &new_pem);
    let now = OffsetDateTime::now_utc();
    let (not_before, not_after) = dates(&new_pem);
    assert!(
        not_before <= now,
        "valid already: notBefore {not_before}, now {now}"
    );
    assert!(
        not_after > now + Duration::days(800),
        "valid for its lifetime: {not_after}"
    );
    // openssl agrees: valid for at least a day from now.
    cli_support::openssl(&["x509", "-noout", "-checkend", "86400"], &new_pem);
}

#[test]
fn a_certificate_minted_with_the_clock_days_ahead_is_renewed_once_it_is_corrected() {
    let (appliance, env) = first_boot_with_clock_off_by(Duration::days(10));
    // First boot recorded both dates of what it minted: not valid for 10 days.
    let (not_before, not_after) = dates(&appliance.read(CRT));
    assert!(not_before > OffsetDateTime::now_utc() + Duration::days(9));
    assert_eq!(
        recorded_dates(&appliance),
        (rfc3339(not_before), rfc3339(not_after))
    );
    renewed_at_the_next_boot(
        &appliance,
        &env,
        &format!(
            "the self-signed certificate is not valid until {}",
            rfc3339(not_before)
        ),
    );
}

#[test]
fn the_timers_run_renews_a_certificate_not_valid_yet_too() {
    let (appliance, env) = first_boot_with_clock_off_by(Duration::days(3));
    let old = openssl_fingerprint(&appliance.read(CRT));
    // The daily run on the running VM: the pair first, then the Secret
    // (unreachable here: exit 1, retried).
    let out = appliance.reconfigure(&env, &["--phase", "cluster", "--from-timer"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let new_pem = appliance.read(CRT);
    assert_ne!(openssl_fingerprint(&new_pem), old);
    assert!(dates(&new_pem).0 <= OffsetDateTime::now_utc());
}

#[test]
fn a_certificate_minted_with_the_clock_far_behind_is_renewed_once_it_is_corrected() {
    // The clock 900 days behind (a reset hardware clock): the 825-day
    // certificate has expired by the real time.
    let (appliance, env) = first_boot_with_clock_off_by(-Duration::days(900));
    let (_, not_after) = dates(&appliance.read(CRT));
    assert!(not_after < OffsetDateTime::now_utc());
    renewed_at_the_next_boot(
        &appliance,
        &env,
        &format!(
            "the self-signed certificate expires on {}",
            rfc3339(not_after)
        ),
    );
}

#[test]
fn a_certificate_minted_with_the_clock_days_behind_is_still_good_and_kept() {
    let (appliance, env) = first_boot_with_clock_off_by(-Duration::days(10));
    let before = snapshot(&appliance.root);
    let out = appliance.reconfigure(&env, &["--phase", "host"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("properties unchanged since"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(snapshot(&appliance.root), before);
}
