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
