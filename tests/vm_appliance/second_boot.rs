//! The second boot of the first boot's disk: first boot's units skip
//! themselves, nothing it wrote changes, and day 2's units run, find the
//! properties unchanged and record their digest.

use crate::vm_support::appliance::{DIGEST, FQDN};
use crate::{first, second};

#[test]
#[ignore = "needs QEMU and root: builds the appliance image and boots it under TCG"]
fn a_second_boot_changes_nothing_and_day_two_records_the_digest() {
    let first = first();
    let second = second();
    for unit in ["ovaboot-host.service", "ovaboot-cluster.service"] {
        // Its condition was checked, and was false: the completion record is there.
        second.assert_unit_skipped(unit);
    }
    // Every file the first boot wrote is as it was: same content, mode, mtime.
    for (path, line) in &first.boot.stat {
        if path.starts_with("var/lib/ovaboot") && first.cp.is_none() {
            // The record the test wrote after the first boot has no digest of
            // the properties: day 2's first run applies them all again
            // (changing no other file) and records itself in the state file.
            continue;
        }
        assert_eq!(
            second.stat.get(path),
            Some(line),
            "{path} changed on the second boot"
        );
    }
    assert_eq!(second.fact("kernel-hostname"), [FQDN]);
    second.assert_no_secret(&first.secrets);

    // Day 2 on that boot: the reconfigure units ran; with no digest yet
    // every property was applied again, which changed no file (above), and
    // the cluster part, the certificate unchanged, recorded the digest.
    second.assert_unit_succeeded("ovaboot-reconfigure.service");
    second.assert_unit_succeeded("ovaboot-reconfigure-cluster.service");
    assert!(second.stat.contains_key(DIGEST));
    // The daily renewal timer is waiting; its service does not run at boot.
    assert_eq!(second.unit("ovaboot-renew.timer", "ActiveState"), "active");
    second.assert_unit_never_started("ovaboot-renew.service");
}
