//! The renewal timer's own run (`reconfigure --phase cluster --from-timer`,
//! what ovaboot-renew.service runs daily): its failures are recorded where
//! the admin looks, and one that may pass says when it is tried again rather
//! than "waiting to retry" for a day.
//!
//! First boot completed as if 815 days ago (`complete_first_boot_at`): the
//! self-signed certificate is due. The cluster is unreachable here.

mod cli_support;

use cli_support::appliance::{Appliance, complete_first_boot_at, config, snapshot};
use cli_support::{FQDN, IP, text};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

const TIMER: [&str; 3] = ["--phase", "cluster", "--from-timer"];
const NEXT_RUN: &str = "tried again at the next daily run of ovaboot-renew.timer";

fn properties() -> Vec<(&'static str, &'static str)> {
    vec![
        ("guestinfo.hostname", FQDN),
        ("guestinfo.ipaddress", IP),
        ("guestinfo.netmask", "24"),
        ("guestinfo.gateway", "192.168.40.1"),
    ]
}

/// An appliance whose first boot completed 815 days ago, and its environment.
fn due_for_renewal() -> (Appliance, String) {
    let appliance = Appliance::new();
    let env = appliance.env("a.xml", &properties());
    let out = appliance.run("firstboot", &env, &["--phase", "host"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let at = OffsetDateTime::now_utc() - Duration::days(815);
    complete_first_boot_at(&appliance.root, &env, &config(&appliance.config), at);
    (appliance, env)
}

fn state(appliance: &Appliance) -> Value {
    serde_json::from_slice(&appliance.read("var/lib/ovaboot/state.json")).unwrap()
}

fn status(appliance: &Appliance) -> (Option<i32>, String) {
    let out = cli_support::ovaboot(&["status", "--root", appliance.root.to_str().unwrap()]);
    (out.status.code(), text(&out.stdout))
}

fn banner(appliance: &Appliance) -> String {
    text(&appliance.read("etc/issue.d/ovaboot.issue"))
}

/// The last line of stderr, without the `ovaboot: error: ` prefix.
fn error_line(stderr: &[u8]) -> String {
    let stderr = text(stderr);
    let line = stderr.lines().last().unwrap_or_default();
    line.strip_prefix("ovaboot: error: ")
        .unwrap_or_else(|| panic!("one error line: {stderr}"))
        .to_owned()
}

#[test]
fn a_timer_run_that_may_pass_is_recorded_failed_naming_the_next_run() {
    let (appliance, env) = due_for_renewal();
    let out = appliance.reconfigure(&env, &TIMER);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let line = error_line(&out.stderr);
    assert!(line.starts_with("the API server did not answer"), "{line}");
    let state = state(&appliance);
    assert_eq!(state["phase"], "reconfigure", "{state}");
    assert_eq!(state["outcome"], "failed", "not waiting for a day: {state}");
    assert_eq!(state["permanent"], false, "{state}");
    let recorded = state["error"].as_str().unwrap();
    assert_eq!(
        recorded,
        format!(
            "{line}; {NEXT_RUN} (after midnight; `systemctl list-timers ovaboot-renew.timer` shows when)"
        )
    );
    let banner = banner(&appliance);
    assert!(
        banner.contains("First boot: done. Reconfigure: failed, may pass by itself: the API server did not answer")
            && banner.contains(NEXT_RUN),
        "{banner}"
    );
    // First boot stands (exit 0); the record shows what failed and when it runs again.
    let (code, stdout) = status(&appliance);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("last record:  reconfigure phase failed")
            && stdout.contains(&format!("error:        {recorded}")),
        "{stdout}"
    );

    // The boot's day-2 unit runs the same part, and systemd restarts it
    // within seconds: there, waiting to retry is what happens.
    let out = appliance.reconfigure(&env, &["--phase", "cluster"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(self::state(&appliance)["outcome"], "waiting_to_retry");
}

#[test]
fn a_timer_run_without_an_ovf_environment_is_recorded() {
    let (appliance, _) = due_for_renewal();
    let before = snapshot(&appliance.root);
    let missing = appliance.work.join("gone.xml");
    let out = appliance.reconfigure(missing.to_str().unwrap(), &TIMER);
    let line = error_line(&out.stderr);
    let state = state(&appliance);
    assert_eq!(state["phase"], "reconfigure", "{state}");
    assert_eq!(state["outcome"], "failed", "{state}");
    assert!(
        state["error"].as_str().unwrap().starts_with(&line),
        "the line the command printed: {state}"
    );
    // A device not readable yet may be tomorrow: exit 1, not failed for good.
    assert_eq!(out.status.code(), Some(1), "{line}");
    assert!(
        line.starts_with("the OVF environment could not be read"),
        "{line}"
    );
    assert_eq!(state["permanent"], false, "{state}");
    assert!(
        state["error"].as_str().unwrap().contains(NEXT_RUN),
        "{state}"
    );
    assert_eq!(snapshot(&appliance.root), before, "nothing else written");
}

#[test]
fn a_timer_run_with_a_bad_config_is_recorded_failed_for_good() {
    let (appliance, env) = due_for_renewal();
    let before = snapshot(&appliance.root);
    let bad = appliance.work.join("bad.toml");
    std::fs::write(&bad, "[kube]\napi_server_timeout = 30\n").unwrap();
    let root = appliance.root.to_str().unwrap();
    let mut args = vec![
        "reconfigure",
        "--root",
        root,
        "--config",
        bad.to_str().unwrap(),
    ];
    args.extend(["--kubeconfig", &appliance.kubeconfig, "--ovf-env", &env]);
    args.extend(TIMER);
    let out = cli_support::ovaboot(&args);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let line = error_line(&out.stderr);
    assert!(
        line.contains("bad.toml") && line.contains("api_server_timeout"),
        "{line}"
    );
    let state = state(&appliance);
    assert_eq!(state["outcome"], "failed", "{state}");
    assert_eq!(state["permanent"], true, "{state}");
    assert_eq!(state["error"], line.as_str());
    assert!(
        banner(&appliance).contains("Reconfigure: FAILED: "),
        "{}",
        banner(&appliance)
    );
    assert_eq!(status(&appliance).0, Some(2));
    assert_eq!(snapshot(&appliance.root), before, "nothing else written");
}

/// The properties with NTP and the static IP changed on the running VM.
fn changed_on_the_running_vm(appliance: &Appliance) -> String {
    appliance.env(
        "changed.xml",
        &[
            ("guestinfo.hostname", FQDN),
            ("guestinfo.ipaddress", "192.168.40.18"),
            ("guestinfo.netmask", "24"),
            ("guestinfo.gateway", "192.168.40.1"),
            ("guestinfo.ntp", "ntp2.corp.example.net"),
        ],
    )
}

const PENDING: &str = "guestinfo.ipaddress, guestinfo.ntp changed since the host part last ran (/etc/hosts, /etc/systemd/network/10-ovaboot.network, /etc/systemd/timesyncd.conf.d/ovaboot.conf not written): reboot to apply the change";

/// The IP addresses the leaf of `pem` names.
fn ip_sans(pem: &[u8]) -> String {
    cli_support::openssl(&["x509", "-noout", "-ext", "subjectAltName"], pem)
}

#[test]
fn a_pending_property_change_does_not_hold_back_a_due_renewal() {
    use ovaboot::commands::reconfigure::{self, Outcome, Phase, Request};
    let (appliance, env) = due_for_renewal();
    let changed = changed_on_the_running_vm(&appliance);
    let old = cli_support::openssl_fingerprint(&appliance.read("etc/ovaboot/tls/tls.crt"));
    let before = snapshot(&appliance.root);

    // What the timer would do, and that it changes nothing yet.
    let out = appliance.reconfigure(&changed, &["--phase", "cluster", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for line in [
        "properties changed: guestinfo.ipaddress, guestinfo.ntp\n",
        "certificate: renewal due: the self-signed certificate expires on ",
        "would change /etc/ovaboot/tls/tls.key\n",
        "would change /etc/ovaboot/tls/tls.crt\n",
        &format!("certificate: sha256 {old} would be replaced by sha256 "),
        "would apply Secret ovaboot/ovaboot-tls\n",
        &format!("pending: {PENDING}\n"),
        "dry run: nothing was changed",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }
    assert_eq!(snapshot(&appliance.root), before);

    // The timer's run, the Secret applied by a stand-in for the cluster.
    let props = cli_support::appliance::properties(&changed);
    let config = config(&appliance.config);
    let request = Request {
        properties: &props,
        config: &config,
        root: &appliance.root,
        phase: Phase::Cluster,
        dry_run: false,
    };
    let mut secrets = Vec::new();
    let outcome = reconfigure::run_with(&request, |objects| {
        secrets = objects.to_vec();
        Ok(ovaboot::cluster::ApplySummary {
            objects: Vec::new(),
            created: 0,
            changed: 1,
            unchanged: 0,
            skipped: 0,
            elapsed: std::time::Duration::ZERO,
        })
    })
    .unwrap();
    assert_eq!(outcome.exit_code(), ovaboot::failure::EXIT_PENDING_REBOOT);
    let text_out = outcome.to_string();
    assert!(
        text_out.contains(&format!("pending: {PENDING}\n"))
            && text_out
                .ends_with("certificate renewed; the properties' change waits for the next boot"),
        "{text_out}"
    );
    let Outcome::Applied(applied) = outcome else {
        panic!()
    };
    assert!(applied.digest_stored);
    // The pair alone, and the record of it: no host file of the change.
    assert_eq!(
        cli_support::appliance::differences(&before, &snapshot(&appliance.root)),
        [
            "etc/ovaboot/tls/tls.crt",
            "etc/ovaboot/tls/tls.key",
            "var/lib/ovaboot/properties.json"
        ]
    );
    let new_pem = appliance.read("etc/ovaboot/tls/tls.crt");
    assert_ne!(cli_support::openssl_fingerprint(&new_pem), old);
    // Renewed with the names the appliance answers at now: the pending
    // address is not its address until the next boot.
    let sans = ip_sans(&new_pem);
    assert!(
        sans.contains(IP) && !sans.contains("192.168.40.18"),
        "{sans}"
    );
    let [secret] = secrets.as_slice() else {
        panic!("the Secret alone: {secrets:?}")
    };
    use base64::Engine as _;
    assert_eq!(
        secret["data"]["tls.crt"],
        base64::engine::general_purpose::STANDARD.encode(&new_pem)
    );

    // The record: the new pair beside the properties as last applied. The
    // change is still a change, the certificate no longer due.
    let again = reconfigure::compare(&appliance.root, &props).unwrap();
    assert_eq!(
        again.changed.as_deref(),
        Some(&["guestinfo.ipaddress".to_owned(), "guestinfo.ntp".to_owned()][..])
    );
    assert_eq!(again.renewal, None);
    let original = cli_support::appliance::properties(&env);
    assert!(
        reconfigure::compare(&appliance.root, &original)
            .unwrap()
            .unchanged()
    );

    // Tomorrow's run: nothing due, the change still pending: refused as before.
    let out = appliance.reconfigure(&changed, &TIMER);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(error_line(&out.stderr).contains("reboot to apply the change; nothing was applied"));

    // The next boot applies the change, and a certificate for the new address.
    for phase in ["host", "cluster"] {
        let out = appliance.reconfigure(&changed, &["--phase", phase]);
        let ok = out.status.success() || (phase == "cluster" && out.status.code() == Some(1));
        assert!(ok, "{phase}: {}", text(&out.stderr));
    }
    assert!(ip_sans(&appliance.read("etc/ovaboot/tls/tls.crt")).contains("192.168.40.18"));
}

#[test]
fn the_timers_renewal_under_a_pending_change_is_recorded_even_when_the_cluster_is_down() {
    let (appliance, _) = due_for_renewal();
    let changed = changed_on_the_running_vm(&appliance);
    let out = appliance.reconfigure(&changed, &TIMER);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    // The pair is renewed on disk; the state describes it and the change.
    let cert = appliance.read("etc/ovaboot/tls/tls.crt");
    let state = state(&appliance);
    assert_eq!(
        state["certificate"]["sha256"],
        cli_support::openssl_fingerprint(&cert).as_str(),
        "{state}"
    );
    assert_eq!(state["pending"], PENDING, "{state}");
    assert_eq!(state["outcome"], "failed", "{state}");
    let banner = banner(&appliance);
    assert!(banner.contains(&format!("Pending: {PENDING}")), "{banner}");
    let (_, stdout) = status(&appliance);
    assert!(
        stdout.contains(&format!("pending:      {PENDING}")),
        "{stdout}"
    );
}
