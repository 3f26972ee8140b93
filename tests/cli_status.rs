//! `ovaboot status` on prepared roots, and the records `firstboot` leaves for
//! it: each state and its exit status, the host phase's retry of an OVF
//! environment that appears late, and a retry deadline that expires.

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use cli_support::{contour_manifest, fixture, ovaboot, ovaboot_with_manifest, text};
use serde_json::{Value, json};

const STATE: &str = "var/lib/ovaboot/state.json";
const BANNER: &str = "etc/issue.d/ovaboot.issue";
const RECORD: &str = "var/lib/ovaboot/firstboot.json";

fn this_boot() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap()
        .trim()
        .to_owned()
}

fn put(root: &Path, path: &str, value: &Value) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

/// The completion record as the cluster phase writes it.
fn put_completion(root: &Path) {
    put(
        root,
        RECORD,
        &json!({"ovaboot_version": "0.1.0", "completed_at": "2026-11-27T10:01:00Z",
                "hostname": "veba01.lab.example.com", "certificate_sha256": "AB:CD:EF"}),
    );
}

/// A state record as a phase writes it.
fn state(phase: &str, outcome: &str, boot_id: &str, error: Option<&str>, permanent: bool) -> Value {
    json!({
        "ovaboot_version": "0.1.0",
        "phase": phase,
        "outcome": outcome,
        "started": "2026-11-27T10:00:00Z",
        "finished": if outcome == "done" || outcome == "failed" { json!("2026-11-27T10:01:00Z") } else { Value::Null },
        "error": error,
        "permanent": permanent,
        "url": "https://veba01.lab.example.com/",
        "certificate": {"sha256": "AB:CD:EF", "source": "self-signed"},
        "boot_id": boot_id,
    })
}

fn status(root: &Path, json: bool) -> Output {
    let mut args = vec!["status", "--root", root.to_str().unwrap()];
    if json {
        args.push("--json");
    }
    ovaboot(&args)
}

/// `status` and `status --json` agree; returns (exit code, human text, JSON).
fn both(root: &Path) -> (i32, String, Value) {
    let human = status(root, false);
    let machine = status(root, true);
    assert_eq!(human.status.code(), machine.status.code());
    assert!(human.stderr.is_empty(), "{}", text(&human.stderr));
    let json: Value = serde_json::from_slice(&machine.stdout).unwrap();
    assert_eq!(json["exit_code"], human.status.code().unwrap());
    (human.status.code().unwrap(), text(&human.stdout), json)
}

#[test]
fn nothing_recorded_is_not_run_yet_exit_1() {
    let root = tempfile::tempdir().unwrap();
    let (code, human, json) = both(root.path());
    assert_eq!(code, 1);
    assert!(human.starts_with("first boot:   not run yet\n"), "{human}");
    assert_eq!(json["status"], "not run");
    assert_eq!(json["state"], Value::Null);
}

#[test]
fn running_in_this_boot_exit_1() {
    let root = tempfile::tempdir().unwrap();
    put(
        root.path(),
        STATE,
        &state("host", "running", &this_boot(), None, false),
    );
    let (code, human, json) = both(root.path());
    assert_eq!(code, 1);
    assert!(
        human.contains("first boot:   running (host phase)"),
        "{human}"
    );
    assert!(
        human.contains("url:          https://veba01.lab.example.com/"),
        "{human}"
    );
    assert!(
        human.contains("certificate:  self-signed, SHA-256 AB:CD:EF"),
        "{human}"
    );
    assert_eq!(json["status"], "running");
    assert_eq!(json["phase"], "host");
    assert_eq!(json["state"]["certificate"]["sha256"], "AB:CD:EF");
}

#[test]
fn running_from_an_earlier_boot_is_interrupted_exit_1() {
    // A power cut mid-phase: the file still says running.
    let root = tempfile::tempdir().unwrap();
    put(
        root.path(),
        STATE,
        &state(
            "cluster",
            "running",
            "00000000-0000-0000-0000-000000000000",
            None,
            false,
        ),
    );
    let (code, human, json) = both(root.path());
    assert_eq!(code, 1);
    assert_eq!(json["status"], "interrupted");
    assert!(human.contains("interrupted (cluster phase)"), "{human}");
    assert!(
        human.contains("it runs again when ovaboot-cluster.service next starts"),
        "{human}"
    );
    assert_eq!(
        human.lines().next(),
        Some("first boot:   interrupted (cluster phase)")
    );
}

#[test]
fn waiting_to_retry_shows_the_cause_exit_1() {
    let root = tempfile::tempdir().unwrap();
    let cause = "the API server did not answer";
    put(
        root.path(),
        STATE,
        &state(
            "cluster",
            "waiting_to_retry",
            &this_boot(),
            Some(cause),
            false,
        ),
    );
    let (code, human, json) = both(root.path());
    assert_eq!(code, 1);
    assert_eq!(json["status"], "waiting to retry");
    assert!(human.contains(&format!("error:        {cause}")), "{human}");
}

#[test]
fn failed_for_good_says_what_to_do_exit_2() {
    let root = tempfile::tempdir().unwrap();
    let error = "guestinfo.tls_cert: the certificate does not cover the appliance's host name";
    put(
        root.path(),
        STATE,
        &state("host", "failed", &this_boot(), Some(error), true),
    );
    let (code, human, json) = both(root.path());
    assert_eq!(code, 2);
    assert_eq!(json["status"], "failed");
    assert!(human.contains(&format!("error:        {error}")), "{human}");
    assert!(
        human.contains(
            "what to do:   correct the vApp property and reboot; details: journalctl -u ovaboot-host"
        ),
        "{human}"
    );
}

#[test]
fn stopped_on_a_cause_that_may_pass_exit_1() {
    let root = tempfile::tempdir().unwrap();
    put(
        root.path(),
        STATE,
        &state(
            "host",
            "failed",
            &this_boot(),
            Some("no OVF environment found"),
            false,
        ),
    );
    let (code, human, json) = both(root.path());
    assert_eq!(code, 1);
    assert_eq!(json["status"], "stopped");
    assert!(human.contains("it runs again at the next boot"), "{human}");
}

#[test]
fn done_when_the_completion_record_exists_exit_0() {
    let root = tempfile::tempdir().unwrap();
    put(
        root.path(),
        STATE,
        &state("cluster", "done", &this_boot(), None, false),
    );
    put_completion(root.path());
    let (code, human, json) = both(root.path());
    assert_eq!(code, 0);
    assert!(
        human.starts_with("first boot:   done at 2026-11-27T10:01:00Z\n"),
        "{human}"
    );
    assert_eq!(json["status"], "done");
    assert_eq!(json["completion"]["hostname"], "veba01.lab.example.com");
}

/// status prints no error line; 2 only for a failure the admin must fix. A
/// damaged state file is not one (the next phase rewrites it): it used to
/// print an error line and exit 2.
#[test]
fn a_damaged_state_file_is_unknown_exit_1_without_an_error_line() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join(STATE);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    for damage in [&b"{"[..], b"\xff\xfe{}", b"{\"phase\": \"\x1b[2J\"}"] {
        std::fs::write(&path, damage).unwrap();
        let (code, human, json) = both(root.path());
        assert_eq!(code, 1, "{human}");
        assert!(human.starts_with("first boot:   unknown\n"), "{human}");
        assert!(
            human.contains(&format!(
                "unreadable:   the state file {} is unreadable (",
                path.display()
            )),
            "{human}"
        );
        assert!(
            human.contains("the next phase to run rewrites the state file"),
            "{human}"
        );
        assert!(!human.contains('\u{1b}'), "{human:?}");
        assert_eq!(json["status"], "unknown");
        assert_eq!(json["state"], Value::Null);
        assert!(
            json["unreadable"].as_str().unwrap().contains("state.json"),
            "{json}"
        );
    }
    // With the completion record, first boot is done whatever the state says.
    put_completion(root.path());
    let (code, human, json) = both(root.path());
    assert_eq!(code, 0, "{human}");
    assert_eq!(json["status"], "done");
}

/// A damaged completion record stops every later firstboot and reconfigure
/// until it is removed: the admin must act, so 2, still without an error line.
#[test]
fn a_damaged_completion_record_is_failed_exit_2_saying_to_remove_it() {
    let root = tempfile::tempdir().unwrap();
    put(
        root.path(),
        STATE,
        &state("cluster", "done", &this_boot(), None, false),
    );
    let path = root.path().join(RECORD);
    std::fs::write(&path, "{\"completed_at\":").unwrap();
    let (code, human, json) = both(root.path());
    assert_eq!(code, 2, "{human}");
    assert_eq!(json["status"], "failed");
    assert_eq!(
        json["advice"],
        format!("remove {} to run first boot again", path.display())
    );
    assert!(human.contains(&path.display().to_string()), "{human}");
}

/// Every value `status` shows from the records is escaped: a tampered state
/// file cannot drive the terminal.
#[test]
fn a_tampered_state_file_reaches_the_terminal_escaped() {
    let root = tempfile::tempdir().unwrap();
    let mut record = state(
        "host",
        "failed",
        &this_boot(),
        Some("guestinfo.x: \u{1b}]0;owned\u{7}bad\r\u{85}\u{2028}\u{202e}"),
        true,
    );
    record["url"] = json!("https://veba01\u{1b}[31m.example.com/");
    record["started"] = json!("2026\u{1b}[2J");
    record["certificate"]["sha256"] = json!("AB\u{9b}31m");
    put(root.path(), STATE, &record);
    let (code, human, json) = both(root.path());
    assert_eq!(code, 2);
    assert!(
        !human.chars().any(|c| c.is_control() && c != '\n'),
        "{human:?}"
    );
    for c in ['\u{2028}', '\u{202e}'] {
        assert!(!human.contains(c), "{human:?}");
    }
    assert!(human.contains("veba01\\u{1b}[31m"), "{human}");
    // JSON escapes them itself: the value round-trips.
    assert_eq!(
        json["state"]["url"],
        "https://veba01\u{1b}[31m.example.com/"
    );
    let raw = text(&status(root.path(), true).stdout);
    assert!(!raw.chars().any(|c| c.is_control() && c != '\n'), "{raw:?}");
    assert!(!raw.contains('\u{2028}'), "{raw:?}");
}

/// The host phase with a root password and the admin's key: the state file
/// and the banner carry the URL and the fingerprint, and neither secret.
#[test]
fn the_host_phase_records_its_end_without_a_secret() {
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = cli_support::ca("Status Test CA", None);
    let key = rcgen::KeyPair::generate().unwrap();
    let key_pem = key.serialize_pem();
    let (cert_pem, _) = cli_support::leaf(
        &ca,
        cli_support::FQDN,
        &key,
        time::Duration::days(-1),
        time::Duration::days(90),
    );
    let password = "Correct-Horse-Battery-Staple-42";
    let env = cli_support::environment(
        dir.path(),
        &[
            ("guestinfo.tls_cert", &cert_pem),
            ("guestinfo.tls_key", &key_pem),
            ("guestinfo.root_password", password),
        ],
    );
    // Root's account for the password (the image's /etc/shadow and /etc/passwd).
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::fs::write(
        root.path().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\n",
    )
    .unwrap();
    std::fs::write(
        root.path().join("etc/shadow"),
        "root:*:19000:0:99999:7:::\n",
    )
    .unwrap();
    let out = cli_support::firstboot_host(root.path(), &env);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let state_text = std::fs::read_to_string(root.path().join(STATE)).unwrap();
    let banner = std::fs::read_to_string(root.path().join(BANNER)).unwrap();
    let fingerprint = cli_support::openssl_fingerprint(cert_pem.as_bytes());
    let state: Value = serde_json::from_str(&state_text).unwrap();
    assert_eq!(state["phase"], "host");
    assert_eq!(state["outcome"], "done");
    assert_eq!(state["url"], format!("https://{}/", cli_support::FQDN));
    assert_eq!(state["certificate"]["sha256"], fingerprint.as_str());
    assert_eq!(state["certificate"]["source"], "user");
    assert!(
        banner.contains(&format!("https://{}/", cli_support::FQDN)),
        "{banner}"
    );
    assert!(
        banner.contains("TLS certificate (the admin's own)"),
        "{banner}"
    );
    assert!(banner.contains(&fingerprint), "{banner}");
    let mut secrets = cli_support::key_needles(&key_pem);
    secrets.push(password.to_owned());
    for secret in &secrets {
        assert!(
            !state_text.contains(secret.as_str()),
            "a secret in the state file"
        );
        assert!(!banner.contains(secret.as_str()), "a secret in the banner");
    }
    // The host phase is done; first boot is not.
    let (code, human, _) = both(root.path());
    assert_eq!(code, 1);
    assert!(human.contains("pending (cluster phase)"), "{human}");
}

/// A config giving the host phase `secs` to retry.
fn retry_config(dir: &Path, secs: u64) -> PathBuf {
    let path = dir.join("ovaboot.toml");
    std::fs::write(&path, format!("[host]\nretry_timeout_secs = {secs}\n")).unwrap();
    path
}

/// The state file's `outcome`, if it is there and whole.
fn outcome(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join(STATE)).ok()?;
    let state: Value = serde_json::from_str(&text).ok()?;
    state["outcome"].as_str().map(str::to_owned)
}

#[test]
fn the_host_phase_waits_for_an_ovf_environment_that_appears_late() {
    // The CD-ROM that is not readable yet, as the file transport sees it:
    // the file appears only once the state file says the phase is waiting.
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let late = dir.path().join("late-ovf-env.xml");
    let config = retry_config(dir.path(), 120);
    let mut child = Command::new(env!("CARGO_BIN_EXE_ovaboot"))
        .args(["firstboot", "--phase", "host", "--root"])
        .arg(root.path())
        .arg("--config")
        .arg(&config)
        .arg("--ovf-env")
        .arg(&late)
        .env_remove("OVABOOT_LOG")
        .env("OVABOOT_CONTOUR_MANIFEST", contour_manifest())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Poll the state file (the phase's own record is the signal); the bound
    // only keeps a broken build from hanging the suite.
    let give_up = Instant::now() + Duration::from_secs(100);
    while outcome(root.path()).as_deref() != Some("waiting_to_retry") {
        assert!(
            Instant::now() < give_up,
            "never waiting to retry: {:?}",
            outcome(root.path())
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("exited before waiting: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(root.path().join(STATE)).unwrap()).unwrap();
    assert!(
        state["error"]
            .as_str()
            .unwrap()
            .contains("late-ovf-env.xml"),
        "the cause: {state}"
    );
    let (code, human, _) = both(root.path());
    assert_eq!(code, 1);
    assert!(human.contains("waiting to retry (host phase)"), "{human}");
    let banner = std::fs::read_to_string(root.path().join(BANNER)).unwrap();
    assert!(banner.contains("waiting to retry"), "{banner}");

    // The environment arrives whole (renamed into place).
    let staged = dir.path().join("staged.xml");
    std::fs::copy(fixture("static-network-without-tls.xml"), &staged).unwrap();
    std::fs::rename(&staged, &late).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("ovaboot: error:"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(outcome(root.path()).as_deref(), Some("done"));
    assert!(root.path().join("etc/hostname").exists());
}

#[test]
fn past_the_retry_deadline_the_host_phase_exits_1_with_one_error_line() {
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = retry_config(dir.path(), 1);
    let missing = dir.path().join("never.xml");
    let out = ovaboot_with_manifest(
        &[
            "firstboot",
            "--phase",
            "host",
            "--root",
            root.path().to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--ovf-env",
            missing.to_str().unwrap(),
        ],
        &contour_manifest(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("ovaboot: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].starts_with("ovaboot: error: "), "{stderr}");
    assert!(errors[0].contains("never.xml"), "{stderr}");
    assert!(
        stderr.contains("; trying again in "),
        "it retried: {stderr}"
    );
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(root.path().join(STATE)).unwrap()).unwrap();
    assert_eq!(state["outcome"], "failed");
    assert_eq!(state["permanent"], false);
    assert_eq!(
        state["error"].as_str().unwrap(),
        errors[0].trim_start_matches("ovaboot: error: ")
    );
    assert!(
        !root.path().join("etc/hostname").exists(),
        "nothing applied"
    );
    let (code, human, json) = both(root.path());
    assert_eq!(code, 1, "the next boot may succeed");
    assert_eq!(json["status"], "stopped");
    assert!(human.contains("it runs again at the next boot"), "{human}");
}

#[test]
fn a_root_that_does_not_exist_is_named_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nonexistent");
    let out = ovaboot(&["status", "--root", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stderr),
        format!(
            "ovaboot: error: --root {}: no such directory\n",
            missing.display()
        )
    );
}

/// `status --root DIR` judges DIR's certificates by DIR's own config
/// (`DIR/etc/ovaboot/ovaboot.toml`), by the defaults when it has none: never
/// by the config of the system `status` runs on.
#[test]
fn the_certificates_under_a_root_are_judged_by_that_roots_config() {
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = cli_support::environment(dir.path(), &[]);
    let out = cli_support::firstboot_host(root.path(), &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let serving = |json: &Value| json["certificates"][0].clone();
    let config = |text: &str| {
        std::fs::write(root.path().join("etc/ovaboot/ovaboot.toml"), text).unwrap();
        both(root.path())
    };

    let (_, human, json) = both(root.path());
    assert_eq!(serving(&json)["name"], "TLS serving certificate");
    assert_eq!(serving(&json)["window_days"], 30, "no config: the defaults");
    assert_eq!(serving(&json)["warning"], false);
    assert!(!human.contains("WARNING"), "{human}");

    // A window wider than the certificate's 825 days (valid with a longer
    // validity_days, which only the next certificate would get).
    let (_, human, json) = config("[tls]\nvalidity_days = 3650\nexpiry_warning_days = 3000\n");
    assert_eq!(serving(&json)["window_days"], 3000);
    assert_eq!(serving(&json)["warning"], true);
    assert!(
        human.contains("TLS serving certificate: CN=")
            && human.contains("WARNING: within its renewal/warning window"),
        "{human}"
    );

    // A config under the root that does not load: the defaults again.
    let (_, _, json) = config("[tls]\nexpiry_warning_days = \"soon\"\n");
    assert_eq!(serving(&json)["window_days"], 30);
}
