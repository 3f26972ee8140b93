use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::state::{CertificateSource, Phase, State};

const LATER: time::OffsetDateTime = time::macros::datetime!(2026-11-27 10:05 UTC);

fn state(phase: Phase) -> State {
    let mut s = State::start(None, phase, time::macros::datetime!(2026-11-27 10:00 UTC));
    s.boot_id = Some("boot-1".into());
    s
}

#[test]
fn status_values_for_each_stage() {
    let status = |s: &State| values(s, Some("boot-1"))[0].1.clone();
    assert_eq!(status(&state(Phase::Host)), "running host");
    let mut s = state(Phase::Host);
    s.waiting("no OVF environment found");
    assert_eq!(status(&s), "running host");
    s.done(LATER);
    assert_eq!(status(&s), "running cluster");
    assert_eq!(status(&state(Phase::Cluster)), "running cluster");
    let mut s = state(Phase::Cluster);
    s.done(LATER);
    assert_eq!(status(&s), "done");
    let mut s = state(Phase::Host);
    s.failed("guestinfo.dns: \"x\" is not an IP address", true, LATER);
    assert_eq!(
        status(&s),
        "failed: guestinfo.dns: \"x\" is not an IP address"
    );
    s.failed(&"é".repeat(800), true, LATER);
    assert!(status(&s).len() <= "failed: ".len() + 1000);
}

#[test]
fn a_day_2_failure_that_may_pass_and_a_pending_change_show_beside_done() {
    let status = |s: &State| values(s, Some("boot-1"))[0].1.clone();
    let mut s = state(Phase::Reconfigure);
    s.failed("the API server did not answer", false, LATER);
    assert_eq!(
        status(&s),
        "done; reconfigure failed, may pass by itself: the API server did not answer"
    );
    let mut s = state(Phase::Reconfigure);
    s.done(LATER);
    s.pending = Some("guestinfo.ntp (reboot to apply)".into());
    s.certificate_warning = Some("certificate envoy expires in 20 days".into());
    assert_eq!(
        status(&s),
        "done; pending: guestinfo.ntp (reboot to apply); certificate envoy expires in 20 days"
    );
}

#[test]
fn the_rpc_strings_set_status_url_and_fingerprint() {
    let mut s = state(Phase::Cluster);
    assert_eq!(
        rpcs(&s, Some("boot-1")),
        ["info-set guestinfo.ovaboot.status running cluster"]
    );
    s.appliance(
        "https://veba01.lab.example.com/",
        "AB:CD",
        CertificateSource::SelfSigned,
    );
    s.done(LATER);
    assert_eq!(
        rpcs(&s, Some("boot-1")),
        [
            "info-set guestinfo.ovaboot.status done",
            "info-set guestinfo.ovaboot.url https://veba01.lab.example.com/",
            "info-set guestinfo.ovaboot.fingerprint AB:CD",
        ]
    );
}

#[test]
fn rpctool_set_sends_one_info_set_argument() {
    // A script honouring vmware-rpctool's contract (the real tool needs a
    // VMware hypervisor): it records the one argument it is given.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("args");
    let path = dir.path().join("vmware-rpctool");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nprintf '%s|' \"$@\" >> {}\ncase \"$1\" in\n  'info-set guestinfo.ovaboot.broken '*) echo 'Failed sending message to VMware.' >&2; exit 255 ;;\nesac\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let rpctool = Rpctool::at(&path);
    rpctool.set(STATUS_KEY, "failed: a b").unwrap();
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "info-set guestinfo.ovaboot.status failed: a b|"
    );
    let err = rpctool.set("guestinfo.ovaboot.broken", "x").unwrap_err();
    assert!(err.0.contains("Failed sending message"), "{err}");
}
