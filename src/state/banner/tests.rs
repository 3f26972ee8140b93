use super::*;
use crate::state::{CertificateSource, Outcome, Phase, State};

fn state(phase: Phase) -> State {
    let mut s = State::start(None, phase, time::macros::datetime!(2026-11-27 10:00 UTC));
    s.boot_id = Some("boot-1".into());
    s.appliance(
        "https://veba01.lab.example.com/",
        "AB:CD:EF",
        CertificateSource::SelfSigned,
    );
    s
}

const LATER: time::OffsetDateTime = time::macros::datetime!(2026-11-27 10:05 UTC);

#[test]
fn running_shows_the_url_the_fingerprint_and_the_phase() {
    let text = render(&state(Phase::Host), Some("boot-1"));
    assert_eq!(
        text,
        "\novaboot: https://veba01.lab.example.com/\n\
         TLS certificate (self-signed), SHA-256 fingerprint:\n  AB:CD:EF\n\
         First boot (host phase): running since 2026-11-27T10:00:00Z\n\n"
    );
}

#[test]
fn done_says_when_and_names_the_admins_certificate() {
    let mut s = state(Phase::Cluster);
    s.appliance("https://a.example.com/", "01:02", CertificateSource::User);
    s.done(LATER);
    let text = render(&s, Some("boot-1"));
    assert!(text.contains("TLS certificate (the admin's own)"), "{text}");
    assert!(
        text.contains("First boot: done at 2026-11-27T10:05:00Z"),
        "{text}"
    );
}

#[test]
fn a_permanent_failure_says_what_to_do_and_where_to_look() {
    let mut s = state(Phase::Host);
    s.failed(
        "guestinfo.tls_cert: does not cover the appliance's host name",
        true,
        LATER,
    );
    let text = render(&s, Some("boot-1"));
    assert!(
        text.contains(
            "First boot (host phase): FAILED: guestinfo.tls_cert: does not cover the appliance's host name\n  \
             To fix: correct the vApp property and reboot. Details: journalctl -u ovaboot-host\n"
        ),
        "{text}"
    );
}

#[test]
fn a_failure_not_about_a_property_does_not_send_the_admin_to_the_vapp_properties() {
    let mut s = state(Phase::Cluster);
    s.failed(
        "the config /etc/ovaboot/ovaboot.toml: host.x: bad",
        true,
        LATER,
    );
    let text = render(&s, Some("boot-1"));
    assert!(
        text.contains(
            "To fix: fix what the error names, then reboot. Details: journalctl -u ovaboot-cluster"
        ),
        "{text}"
    );
}

#[test]
fn a_retryable_stop_and_a_wait_say_so() {
    let mut s = state(Phase::Host);
    s.failed("no OVF environment found", false, LATER);
    let text = render(&s, Some("boot-1"));
    assert!(text.contains("STOPPED: no OVF environment found"), "{text}");
    assert!(text.contains("runs again at the next boot"), "{text}");

    let mut s = state(Phase::Cluster);
    s.waiting("the API server did not answer");
    let text = render(&s, Some("boot-1"));
    assert!(
        text.contains(
            "First boot (cluster phase): waiting to retry: the API server did not answer"
        ),
        "{text}"
    );
    let mut s = state(Phase::Host);
    s.done(LATER);
    assert!(
        render(&s, Some("boot-1"))
            .contains("host phase done; the cluster phase runs once k3s is up")
    );
}

#[test]
fn a_day_2_failure_that_may_pass_shows_under_first_boots_done() {
    let mut s = state(Phase::Reconfigure);
    s.failed(
        "the API server did not answer; tried again at the next daily run of ovaboot-renew.timer",
        false,
        LATER,
    );
    let text = render(&s, Some("boot-2"));
    assert!(
        text.contains(
            "First boot: done. Reconfigure: failed, may pass by itself: the API server did not answer; \
             tried again at the next daily run of ovaboot-renew.timer\n"
        ),
        "{text}"
    );
}

#[test]
fn before_a_plan_the_address_is_unknown() {
    let s = State::start(None, Phase::Host, LATER);
    let text = render(&s, s.boot_id.as_deref());
    assert!(text.contains("address is not known yet"), "{text}");
    assert!(!text.contains("fingerprint"), "{text}");
}

#[test]
fn inserted_text_cannot_make_agetty_escapes_or_drive_the_terminal() {
    // \n is agetty's host name, \e{red} a colour, ESC starts a terminal sequence.
    assert_eq!(escape(r"a\nb\e{red}"), r"a\\nb\\e{red}");
    assert_eq!(escape("x\u{1b}[2Jy\nz"), "x?[2Jy?z");
    // Line separators and bidirectional overrides too.
    assert_eq!(escape("a\u{2028}b\u{202e}c\u{85}d"), "a?b?c?d");
    let mut s = state(Phase::Host);
    s.failed("CN=\\n\u{1b}]0;evil\u{7}", true, LATER);
    let text = render(&s, Some("boot-1"));
    // The state holds the error escaped already; the banner doubles the backslashes.
    assert!(
        text.contains("FAILED: CN=\\\\n\\\\u{1b}]0;evil\\\\u{7}"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'));
    // Every backslash in the file starts an escape agetty prints literally.
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            assert_eq!(chars.next(), Some('\\'), "{text}");
        }
    }
}

#[test]
fn an_interrupted_phase_does_not_claim_to_run() {
    let s = state(Phase::Cluster);
    let text = render(&s, Some("boot-2"));
    assert!(text.contains("interrupted"), "{text}");
    assert!(!text.contains("running since"), "{text}");
    let _ = Outcome::Running;
}

#[test]
fn a_plan_refused_for_a_known_host_name_shows_the_name_not_an_unknown_address() {
    let mut s = State::start(
        None,
        Phase::Host,
        time::macros::datetime!(2026-11-27 10:00 UTC),
    );
    s.boot_id = Some("boot-1".into());
    s.hostname = Some("veba01.lab.example.com".into());
    s.failed(
        "guestinfo.tls_cert: the certificate is not valid for veba01.lab.example.com",
        true,
        LATER,
    );
    let text = render(&s, Some("boot-1"));
    assert!(
        text.starts_with("\novaboot: veba01.lab.example.com (not serving yet)\n"),
        "{text}"
    );
    assert!(!text.contains("not known yet"), "{text}");
    // Once a plan is made, the URL says it.
    s.appliance(
        "https://veba01.lab.example.com/",
        "AB:CD",
        CertificateSource::User,
    );
    assert_eq!(s.hostname, None);
}
