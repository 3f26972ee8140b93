//! Two runs at once on one system, many times: real `ovaboot` processes
//! started together on the same prepared root. The second waits for the
//! first's run lock (`[lock] wait_secs`), so neither fails because of the
//! other, no staged file of one is deleted by the other, and the records
//! describe exactly the files on disk.
//!
//! `OVABOOT_RACE_PAIRS` (default 50) sets how many pairs of first boots;
//! the day-2 pairs are a fifth of that (each costs a prepared appliance).

mod cli_support;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use cli_support::appliance::{Appliance, complete_first_boot_at, config};
use cli_support::{FQDN, IP, assert_key_matches_cert, openssl_fingerprint, text};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

const CRT: &str = "etc/ovaboot/tls/tls.crt";
const KEY: &str = "etc/ovaboot/tls/tls.key";

fn pairs() -> usize {
    std::env::var("OVABOOT_RACE_PAIRS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50)
}

fn properties() -> Vec<(&'static str, &'static str)> {
    vec![
        ("guestinfo.hostname", FQDN),
        ("guestinfo.ipaddress", IP),
        ("guestinfo.netmask", "24"),
        ("guestinfo.gateway", "192.168.40.1"),
        ("guestinfo.ntp", "ntp1.corp.example.net"),
    ]
}

/// `ovaboot <command> --root ... <extra>` on `appliance`, started (not waited for).
fn start(appliance: &Appliance, command: &str, env: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ovaboot"))
        .arg(command)
        .args(["--root", appliance.root.to_str().unwrap()])
        .args(["--config", &appliance.config])
        .args(["--kubeconfig", &appliance.kubeconfig])
        .args(["--ovf-env", env])
        .args(extra)
        .env_remove("OVABOOT_LOG")
        .env("OVABOOT_CONTOUR_MANIFEST", cli_support::contour_manifest())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the ovaboot binary runs")
}

/// Both runs, started together, once both have ended.
fn together(a: Child, b: Child) -> [Output; 2] {
    [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()]
}

fn state(root: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(root.join("var/lib/ovaboot/state.json")).unwrap())
        .unwrap()
}

/// The records describe the pair on disk, the pair is whole, and no staged
/// file is left behind.
fn assert_records_match_disk(root: &Path, pair: usize) {
    let cert = std::fs::read(root.join(CRT)).unwrap();
    assert_key_matches_cert(&std::fs::read(root.join(KEY)).unwrap(), &cert);
    let state = state(root);
    assert_eq!(
        state["certificate"]["sha256"],
        openssl_fingerprint(&cert).as_str(),
        "pair {pair}: state.json describes another certificate than the one on disk: {state}"
    );
    let banner = std::fs::read_to_string(root.join("etc/issue.d/ovaboot.issue")).unwrap();
    assert!(
        banner.contains(&openssl_fingerprint(&cert)),
        "pair {pair}: the banner describes another certificate: {banner}"
    );
    let leftovers: Vec<_> = cli_support::files_under(root)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".ovaboot-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "pair {pair}: staged files left: {leftovers:?}"
    );
}

#[test]
fn two_first_boots_at_once_never_tear_the_result_or_fail_each_other() {
    let mut waited = 0;
    for pair in 0..pairs() {
        let appliance = Appliance::new();
        let env = appliance.env("a.xml", &properties());
        let [a, b] = together(
            start(&appliance, "firstboot", &env, &["--phase", "host"]),
            start(&appliance, "firstboot", &env, &["--phase", "host"]),
        );
        for out in [&a, &b] {
            assert!(
                out.status.success(),
                "pair {pair}: a run failed: {}",
                text(&out.stderr)
            );
        }
        // The later run found the earlier one's files in place: it wrote none.
        let wrote: Vec<bool> = [&a, &b]
            .iter()
            .map(|o| !text(&o.stdout).contains("host: 0 files written"))
            .collect();
        assert_eq!(
            wrote.iter().filter(|w| **w).count(),
            1,
            "pair {pair}: exactly one run writes: {}\n{}",
            text(&a.stdout),
            text(&b.stdout)
        );
        waited += [&a, &b]
            .iter()
            .filter(|o| text(&o.stderr).contains("waiting for the run lock"))
            .count();
        assert_records_match_disk(&appliance.root, pair);
        assert_eq!(state(&appliance.root)["outcome"], "done");
    }
    eprintln!(
        "{} pairs: in {waited} the second run waited for the first",
        pairs()
    );
}

#[test]
fn a_boots_day_2_and_the_timers_renewal_at_once_agree_on_the_renewed_pair() {
    for pair in 0..pairs().div_ceil(5) {
        // First boot 815 days ago: the self-signed certificate is due.
        let appliance = Appliance::new();
        let env = appliance.env("a.xml", &properties());
        let out = appliance.run("firstboot", &env, &["--phase", "host"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let at = OffsetDateTime::now_utc() - Duration::days(815);
        complete_first_boot_at(&appliance.root, &env, &config(&appliance.config), at);
        let old = openssl_fingerprint(&appliance.read(CRT));

        let [host, timer] = together(
            start(&appliance, "reconfigure", &env, &["--phase", "host"]),
            start(&appliance, "reconfigure", &env, &["--phase", "cluster"]),
        );
        assert!(
            host.status.success(),
            "pair {pair}: the host part failed: {}",
            text(&host.stderr)
        );
        // The cluster is unreachable here: the timer's run may only fail as
        // that (exit 1), never for good.
        assert!(
            timer.status.success() || timer.status.code() == Some(1),
            "pair {pair}: the timer's run failed for good: {}",
            text(&timer.stderr)
        );
        assert_ne!(openssl_fingerprint(&appliance.read(CRT)), old, "renewed");
        assert_records_match_disk(&appliance.root, pair);
        // Exactly one new pair was made: the later run reused the earlier's.
        let replaced = [&host, &timer]
            .iter()
            .filter(|o| text(&o.stdout).contains(&format!("sha256 {old} replaced by")))
            .count();
        assert!(
            replaced <= 1,
            "pair {pair}: both runs made a pair:\n{}\n{}",
            text(&host.stdout),
            text(&timer.stdout)
        );
    }
}

#[test]
fn a_run_that_waits_past_lock_wait_secs_exits_1_naming_the_holder_and_writes_nothing() {
    // A completed appliance for reconfigure, a fresh one for firstboot.
    let completed = Appliance::new();
    let env = completed.env("a.xml", &properties());
    completed.first_boot(&env);
    let fresh = Appliance::new();
    for (appliance, command, extra) in [
        (
            &completed,
            "reconfigure",
            &["--phase", "cluster", "--from-timer"][..],
        ),
        (&fresh, "firstboot", &["--phase", "host"][..]),
    ] {
        // The holder: this test, as another run would hold it.
        let held = ovaboot::run_lock::acquire(
            &appliance.root,
            "ovaboot reconfigure --phase host",
            std::time::Duration::ZERO,
        )
        .unwrap();
        let before = cli_support::files_under(&appliance.root);
        let snapshot = cli_support::appliance::snapshot(&appliance.root);
        let records = || {
            cli_support::appliance::STATE_RECORD.map(|r| std::fs::read(appliance.root.join(r)).ok())
        };
        let records_before = records();
        let config = appliance.work.join("no-wait.toml");
        std::fs::write(&config, "[lock]\nwait_secs = 0\n").unwrap();
        let root = appliance.root.to_str().unwrap();
        let mut args = vec![
            command,
            "--root",
            root,
            "--config",
            config.to_str().unwrap(),
        ];
        args.extend(["--ovf-env", &env]);
        args.extend(extra);
        let out = cli_support::ovaboot(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{command}: {stderr}");
        assert!(
            stderr.starts_with(&format!(
                "ovaboot: error: another ovaboot run is working on this system (pid {}, `ovaboot reconfigure --phase host`, since ",
                std::process::id()
            )) && stderr.contains("(lock.wait_secs = 0)"),
            "{command}: {stderr}"
        );
        assert_eq!(
            cli_support::files_under(&appliance.root),
            before,
            "{command}: no file added (no state recorded without the lock)"
        );
        assert!(
            cli_support::appliance::snapshot(&appliance.root) == snapshot,
            "{command}: no file changed"
        );
        assert!(records() == records_before, "{command}: no state recorded");
        drop(held);
    }
}
