use super::*;

fn at(h: u8) -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-27 10:00 UTC) + time::Duration::hours(h.into())
}

fn state(phase: Phase, outcome: Outcome, boot: &str) -> State {
    let mut s = State::start(None, phase, at(0));
    s.boot_id = Some(boot.into());
    s.outcome = outcome;
    s
}

#[test]
fn a_phase_records_start_and_end_and_the_file_round_trips() {
    let root = tempfile::tempdir().unwrap();
    assert!(load(root.path()).unwrap().is_none());
    let mut s = State::start(None, Phase::Host, at(0));
    assert_eq!(s.outcome, Outcome::Running);
    assert_eq!(s.started, "2026-11-27T10:00:00Z");
    assert_eq!(s.boot_id, current_boot_id());
    write(root.path(), &s).unwrap();
    assert_eq!(load(root.path()).unwrap().as_ref(), Some(&s));

    s.appliance(
        "https://veba01.lab.example.com/",
        "AB:CD",
        CertificateSource::SelfSigned,
    );
    s.failed("guestinfo.dns: bad\nsecond line", true, at(1));
    write(root.path(), &s).unwrap();
    let back = load(root.path()).unwrap().unwrap();
    assert_eq!(back, s);
    assert_eq!(
        back.error.as_deref(),
        Some("guestinfo.dns: bad second line")
    );
    assert_eq!(back.finished.as_deref(), Some("2026-11-27T11:00:00Z"));

    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.path().join("var/lib/ovaboot/state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["phase"], "host");
    assert_eq!(json["outcome"], "failed");
    assert_eq!(json["certificate"]["source"], "self-signed");
    let banner = std::fs::read_to_string(root.path().join("etc/issue.d/ovaboot.issue")).unwrap();
    assert!(
        banner.contains("https://veba01.lab.example.com/"),
        "{banner}"
    );
}

#[test]
fn a_new_phase_keeps_the_last_url_and_certificate_until_it_knows_its_own() {
    let mut host = State::start(None, Phase::Host, at(0));
    host.appliance("https://a.example.com/", "AB", CertificateSource::User);
    host.done(at(1));
    let cluster = State::start(Some(host.clone()), Phase::Cluster, at(2));
    assert_eq!(cluster.url, host.url);
    assert_eq!(cluster.certificate, host.certificate);
    assert_eq!(cluster.outcome, Outcome::Running);
    assert_eq!(cluster.finished, None);
    assert_eq!(cluster.error, None);
}

#[test]
fn an_unreadable_state_file_is_an_error_naming_it() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("var/lib/ovaboot/state.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "{").unwrap();
    let err = load(root.path()).unwrap_err().to_string();
    assert!(err.contains("state.json is unreadable"), "{err}");
}

#[test]
fn verdicts_and_their_exit_codes() {
    let now = Some("boot-2");
    let v = |s: &State, completed| verdict(Some(s), completed, now);
    assert_eq!(verdict(None, false, now), Verdict::NotRun);
    assert_eq!(verdict(None, true, now), Verdict::Done);

    let running = state(Phase::Host, Outcome::Running, "boot-2");
    assert_eq!(v(&running, false), Verdict::Running(Phase::Host));
    let waiting = state(Phase::Host, Outcome::WaitingToRetry, "boot-2");
    assert_eq!(v(&waiting, false), Verdict::Waiting(Phase::Host));
    // A power cut mid-phase: the file says running, but from another boot.
    let cut = state(Phase::Cluster, Outcome::Running, "boot-1");
    assert_eq!(v(&cut, false), Verdict::Interrupted(Phase::Cluster));
    let no_boot_id = State {
        boot_id: None,
        ..cut.clone()
    };
    assert_eq!(v(&no_boot_id, false), Verdict::Interrupted(Phase::Cluster));

    let host_done = state(Phase::Host, Outcome::Done, "boot-2");
    assert_eq!(v(&host_done, false), Verdict::Pending(Phase::Cluster));
    let cluster_done = state(Phase::Cluster, Outcome::Done, "boot-2");
    assert_eq!(v(&cluster_done, true), Verdict::Done);

    let mut failed = state(Phase::Host, Outcome::Running, "boot-1");
    failed.failed("guestinfo.hostname: bad", true, at(1));
    assert_eq!(v(&failed, false), Verdict::Failed(Phase::Host));
    let mut stopped = failed.clone();
    stopped.failed("no OVF environment found", false, at(1));
    assert_eq!(v(&stopped, false), Verdict::Stopped(Phase::Host));

    // Day 2 after first boot: a refusal is a failure, a cut-short run is not.
    let mut refused = state(Phase::Reconfigure, Outcome::Running, "boot-2");
    refused.failed("guestinfo.hostname: cannot change", true, at(1));
    assert_eq!(v(&refused, true), Verdict::Failed(Phase::Reconfigure));
    let cut = state(Phase::Reconfigure, Outcome::Running, "boot-1");
    assert_eq!(v(&cut, true), Verdict::Done);

    let codes: Vec<u8> = [
        Verdict::NotRun,
        Verdict::Running(Phase::Host),
        Verdict::Waiting(Phase::Host),
        Verdict::Interrupted(Phase::Host),
        Verdict::Pending(Phase::Cluster),
        Verdict::Stopped(Phase::Host),
        Verdict::Failed(Phase::Host),
        Verdict::Done,
    ]
    .iter()
    .map(Verdict::exit_code)
    .collect();
    assert_eq!(codes, [1, 1, 1, 1, 1, 1, 2, 0]);
}

#[test]
fn the_state_serialises_plain_data_only() {
    // Everything a State can hold is public; the error line is the command's
    // own (secret-free) line. Serialising and Debug show nothing else.
    let mut s = State::start(None, Phase::Host, at(0));
    s.appliance("https://a.example.com/", "AB:CD", CertificateSource::User);
    s.failed("guestinfo.tls_key: is encrypted", true, at(1));
    let json = serde_json::to_value(&s).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "boot_id",
            "certificate",
            "error",
            "finished",
            "outcome",
            "ovaboot_version",
            "permanent",
            "phase",
            "started",
            "url"
        ]
    );
}

#[test]
fn a_boot_id_from_systemd_reads_as_the_kernels() {
    let kernel = "3f6d1b2e-7c4a-4e0f-9a5b-1c2d3e4f5a6b";
    assert_eq!(canonical_boot_id(kernel).as_deref(), Some(kernel));
    assert_eq!(
        canonical_boot_id("3F6D1B2E7C4A4E0F9A5B1C2D3E4F5A6B\n").as_deref(),
        Some(kernel),
        "systemd's %b: no dashes"
    );
    assert_eq!(canonical_boot_id(""), None);
    assert_eq!(canonical_boot_id("not-a-boot-id"), None);
    assert_eq!(canonical_boot_id(&"a".repeat(33)), None);
}
