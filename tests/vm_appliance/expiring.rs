//! The second boot's disk powered on 10 days before its self-signed
//! certificate expires (the guest's clock moved on, as 815 days of uptime
//! would): the host part renews it with the same names, nothing else
//! changes, and the console shows the new fingerprint.

use time::Duration;

use crate::cli_support::{self, key_needles, openssl, openssl_fingerprint};
use crate::vm_support::appliance::{STATE, TLS_CERT, TLS_KEY, environment_secrets};
use crate::vm_support::{Guest, boot};
use crate::{first, second};

#[test]
#[ignore = "needs QEMU and root: builds the appliance image and boots it under TCG"]
fn an_expiring_self_signed_certificate_is_renewed_with_the_same_names() {
    let tls = &first().tls;
    let second = second();
    let old_cert = second.file(TLS_CERT).unwrap();
    assert_eq!(openssl_fingerprint(old_cert.as_bytes()), tls.fingerprint);
    let der = &cli_support::pem_blocks_der(&old_cert)[0];
    let (_, parsed) = x509_parser::parse_x509_certificate(der).unwrap();
    let not_after = parsed.validity().not_after.to_datetime();
    let clock = (not_after - Duration::days(10))
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .unwrap();
    let env = &first().env;
    let renewed = boot(
        "expiring",
        &second.disk_after(),
        Guest {
            ovf_env: Some(env),
            clock: Some(&clock),
            ..Guest::default()
        },
    );
    let reconfigure = "ovaboot-reconfigure.service";
    renewed.assert_unit_succeeded(reconfigure);
    let cert = renewed.file(TLS_CERT).unwrap();
    let key = renewed.file(TLS_KEY).unwrap();
    let fingerprint = openssl_fingerprint(cert.as_bytes());
    assert_ne!(fingerprint, tls.fingerprint, "a new certificate");
    cli_support::assert_key_matches_cert(key.as_bytes(), cert.as_bytes());
    let sans = |pem: &str| {
        openssl(
            &["x509", "-noout", "-ext", "subjectAltName"],
            pem.as_bytes(),
        )
    };
    assert_eq!(sans(&cert), sans(&old_cert), "the same names");
    let stat = &renewed.stat[TLS_KEY];
    assert!(stat.starts_with("600 0 0 "), "{TLS_KEY}: {stat}");
    // Nothing else ovaboot wrote changed but its records of the run.
    for (path, line) in &second.stat {
        // The xDS pairs (365 days) are renewed too, by the same boot.
        if [TLS_CERT, TLS_KEY].contains(&path.as_str())
            || path.starts_with("etc/ovaboot/tls/xds/")
            || path == "var/lib/ovaboot/xds.json"
            || path == STATE
            || path == "etc/issue.d/ovaboot.issue"
        {
            continue;
        }
        assert_eq!(renewed.stat.get(path), Some(line), "{path} changed");
    }
    let shown = renewed.fact("issue");
    assert!(
        shown.iter().any(|l| l.contains(&fingerprint)),
        "agetty --show-issue in the guest: {shown:?}"
    );
    // The Secret's part waits for k3s (absent offline: retried).
    assert!(
        renewed.monotonic("ovaboot-reconfigure-cluster.service", "NRestarts") >= 1,
        "{}",
        renewed.console
    );
    let mut secrets = key_needles(&key);
    secrets.extend(environment_secrets());
    renewed.assert_no_secret(&secrets);
}
