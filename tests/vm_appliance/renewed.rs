//! The admin renews the certificate (their own, for the same FQDN) and
//! reboots the second boot's disk: the host part installs it before networkd
//! starts; the Secret waits for k3s (absent offline: retried), so the digest
//! stays as it was.

use crate::cli_support::{key_needles, openssl_fingerprint};
use crate::second;
use crate::vm_support::appliance::{
    DIGEST, FQDN, TLS_CERT, TLS_KEY, environment_secrets, with_admin_certificate,
};
use crate::vm_support::{Guest, boot};

#[test]
#[ignore = "needs QEMU and root: builds the appliance image and boots it under TCG"]
fn a_renewed_certificate_is_installed_before_networkd_starts() {
    let second = second();
    let (new_cert, key_pem, renewed_env) = with_admin_certificate("renewed", FQDN, &[]);
    let third = boot(
        "renewed",
        &second.disk_after(),
        Guest {
            ovf_env: Some(&renewed_env),
            ..Guest::default()
        },
    );
    let reconfigure = "ovaboot-reconfigure.service";
    third.assert_unit_succeeded(reconfigure);
    let done = third.monotonic(reconfigure, "ActiveEnterTimestampMonotonic");
    let networkd = third.monotonic("systemd-networkd.service", "InactiveExitTimestampMonotonic");
    assert!(
        networkd > done,
        "networkd started before the host part finished"
    );
    assert_eq!(
        openssl_fingerprint(third.file(TLS_CERT).unwrap().as_bytes()),
        openssl_fingerprint(new_cert.as_bytes()),
        "the renewed certificate is installed"
    );
    assert_eq!(third.file(TLS_KEY).unwrap(), key_pem);
    assert!(
        third.stat[TLS_KEY].starts_with("600 0 0 "),
        "{}",
        third.stat[TLS_KEY]
    );
    assert!(
        third.monotonic("ovaboot-reconfigure-cluster.service", "NRestarts") >= 1,
        "the Secret's part was not retried; console:\n{}",
        third.console
    );
    assert_eq!(
        third.stat.get(DIGEST),
        second.stat.get(DIGEST),
        "the digest is recorded only once the Secret has the pair"
    );
    assert_eq!(third.fact("kernel-hostname"), [FQDN]);
    let mut secrets = key_needles(&key_pem);
    secrets.extend(environment_secrets());
    third.assert_no_secret(&secrets);
}
