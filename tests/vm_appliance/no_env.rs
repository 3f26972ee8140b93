//! No OVF environment (an empty CD drive): the host phase retries, gives up
//! with one line, records that it stopped, and nothing is applied.

use crate::vm_support::appliance::STATE;
use crate::vm_support::{Guest, boot, require_vm_parts, test_disk};

#[test]
#[ignore = "needs QEMU and root: builds the appliance image and boots it under TCG"]
fn without_an_ovf_environment_nothing_is_applied() {
    require_vm_parts();
    let vm = boot("no-env", test_disk(), Guest::default());
    // The environment may still appear (a CD attached late): the phase retries
    // it up to [host] retry_timeout_secs (5 s in the test config), then exits 1
    // with one error line; the unit is not restarted (k3s's start has failed).
    assert!(
        vm.journal
            .contains("ovaboot-host.service: Main process exited, code=exited, status=1/FAILURE"),
        "the host unit did not exit 1; console:\n{}",
        vm.console
    );
    let host = "ovaboot-host.service";
    assert_eq!(vm.unit(host, "NRestarts"), "0", "{}", vm.console);
    // ovaboot's own lines (the banner printed by the test unit, below, quotes the error too).
    let lines: Vec<_> = vm
        .console_lines("no OVF environment found")
        .into_iter()
        .filter(|l| !l.contains("@@vmtest"))
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("trying again in"))
            && lines
                .iter()
                .filter(|l| l.contains("ovaboot: error:"))
                .count()
                == 1
            && lines
                .iter()
                .all(|l| l.contains("ovaboot: error:") || l.contains("trying again in")),
        "no retries and one clear console line; console:\n{}",
        vm.console
    );
    let state = vm.file(STATE).unwrap();
    assert!(state.contains("\"outcome\": \"failed\""), "{state}");
    let banner = vm.file("etc/issue.d/ovaboot.issue").unwrap();
    assert!(banner.contains("STOPPED: "), "{banner}");
    let shown = vm.fact("issue");
    assert!(
        shown.iter().any(|l| l.contains("STOPPED: ")),
        "agetty --show-issue in the guest: {shown:?}"
    );
    assert_eq!(vm.fact("kernel-hostname"), ["appliance"]);
    assert_eq!(vm.file("etc/hostname").unwrap().trim(), "appliance");
    assert!(!vm.file_exists("etc/ovaboot/tls"));
    assert!(!vm.file_exists("etc/systemd/network/10-ovaboot.network"));
    vm.assert_unit_never_started("k3s.service");
}
