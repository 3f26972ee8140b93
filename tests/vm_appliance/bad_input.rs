//! Bad input: a certificate for another host name stops first boot before
//! anything is applied, with one line naming the property, on the console
//! and in the banner; k3s never starts.

use crate::cli_support::key_needles;
use crate::vm_support::appliance::{FQDN, environment_secrets, with_admin_certificate};
use crate::vm_support::{Guest, boot, require_vm_parts, test_disk};

#[test]
#[ignore = "needs QEMU and root: builds the appliance image and boots it under TCG"]
fn a_certificate_for_another_host_stops_first_boot_before_anything_is_applied() {
    require_vm_parts();
    let (_, key_pem, env) =
        with_admin_certificate("bad-cert", "other-host.vmtest.example.org", &[]);
    let vm = boot(
        "bad-cert",
        test_disk(),
        Guest {
            ovf_env: Some(&env),
            ..Guest::default()
        },
    );
    let host = "ovaboot-host.service";
    // Exit 2 (bad input) and no restart.
    assert_eq!(vm.unit(host, "ActiveState"), "failed", "{}", vm.console);
    assert_eq!(vm.unit(host, "ExecMainStatus"), "2");
    assert_eq!(vm.unit(host, "NRestarts"), "0");
    // The console names the property and what to do about it.
    let lines = vm.console_lines("guestinfo.tls_cert");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("ovaboot: error:") && l.contains(FQDN)),
        "no error line naming guestinfo.tls_cert and {FQDN}; console:\n{}",
        vm.console
    );
    // So does the banner above the login prompt, as the guest's agetty shows it.
    let shown = vm.fact("issue");
    assert!(
        shown
            .iter()
            .any(|l| l.contains("FAILED: ") && l.contains("guestinfo.tls_cert"))
            && shown
                .iter()
                .any(|l| l.contains("correct the vApp property and reboot")),
        "agetty --show-issue in the guest: {shown:?}"
    );
    // Nothing past validation: no host name, no network, no TLS files.
    assert_eq!(vm.fact("kernel-hostname"), ["appliance"]);
    assert_eq!(vm.file("etc/hostname").unwrap().trim(), "appliance");
    assert!(!vm.file_exists("etc/ovaboot/tls"), "{:?}", vm.stat);
    assert!(!vm.file_exists("etc/systemd/network/10-ovaboot.network"));
    // k3s did not start: its requirement failed.
    assert_eq!(vm.unit("k3s.service", "ActiveState"), "inactive");
    vm.assert_unit_never_started("k3s.service");
    assert!(
        vm.journal.contains("Dependency failed for") && vm.journal.contains("k3s"),
        "the journal does not say k3s's dependency failed"
    );
    let mut secrets = key_needles(&key_pem);
    secrets.extend(environment_secrets());
    vm.assert_no_secret(&secrets);
}
