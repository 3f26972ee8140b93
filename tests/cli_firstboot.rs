//! `ovaboot firstboot` and the systemd units that run it, on a scratch root.

mod cli_support;

use std::path::Path;
use std::process::Output;

use cli_support::{contour_manifest, fixture, mode, ovaboot_with_manifest, text};

const RECORD: &str = "var/lib/ovaboot/firstboot.json";
/// Where first boot stands, rewritten by every run (docs/first-boot.md).
const STATE: &str = "var/lib/ovaboot/state.json";
const BANNER: &str = "etc/issue.d/ovaboot.issue";
/// The run lock (on /run, a tmpfs on the appliance): empty between runs.
const RUN_LOCK: &str = "run/ovaboot/lock";

fn firstboot(root: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["firstboot", "--root", root.to_str().unwrap(), "--config"];
    let config = fixture("defaults-only.toml");
    args.push(&config);
    args.extend_from_slice(extra);
    ovaboot_with_manifest(&args, &contour_manifest())
}

/// Every regular file under `root` but the state file and the banner (each
/// run records its times there) and the run lock, with its bytes, for
/// before/after comparisons.
fn snapshot(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = cli_support::files_under(root)
        .into_iter()
        .filter(|p| !p.ends_with(STATE) && !p.ends_with(BANNER) && !p.ends_with(RUN_LOCK))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect::<Vec<_>>();
    files.sort();
    files
}

/// `firstboot` on `root` with `env`, against the cluster of [`cli_support::unreachable_cluster`].
fn firstboot_against_unreachable_cluster(
    root: &Path,
    work: &Path,
    env: &str,
    extra: &[&str],
) -> Output {
    let (kubeconfig, config) = cli_support::unreachable_cluster(work);
    let mut args = vec![
        "firstboot",
        "--root",
        root.to_str().unwrap(),
        "--config",
        &config,
        "--kubeconfig",
        &kubeconfig,
        "--ovf-env",
        env,
    ];
    args.extend_from_slice(extra);
    ovaboot_with_manifest(&args, &contour_manifest())
}

#[test]
fn the_host_phase_writes_the_host_files_and_a_rerun_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let env = fixture("static-network-without-tls.xml");
    let out = firstboot(root.path(), &["--phase", "host", "--ovf-env", &env]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        // 12, and the auth server's CA, serving pair and login line.
        text(&out.stdout).contains("host: 17 files written, 0 unchanged, 0 removed"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(mode(&root.path().join("etc/ovaboot/tls/tls.key")), 0o600);
    assert_eq!(mode(&root.path().join("etc/ovaboot/tls/xds/ca.key")), 0o600);
    assert_eq!(mode(&root.path().join("etc/ovaboot/tls/xds")), 0o700);
    assert_eq!(mode(&root.path().join("etc/hostname")), 0o644);
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/hostname")).unwrap(),
        format!("{}\n", cli_support::FQDN)
    );
    assert!(
        !root.path().join(RECORD).exists(),
        "only the cluster phase completes first boot"
    );

    let before = snapshot(root.path());
    let again = firstboot(root.path(), &["--phase", "host", "--ovf-env", &env]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        text(&again.stdout).contains("host: 0 files written, 17 unchanged, 0 removed"),
        "{}",
        text(&again.stdout)
    );
    assert_eq!(
        snapshot(root.path()),
        before,
        "same certificate, same files"
    );
}

#[test]
fn a_cluster_phase_that_cannot_reach_the_api_server_fails_without_recording_completion() {
    let root = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let env = fixture("static-network-without-tls.xml");
    let out = firstboot_against_unreachable_cluster(root.path(), work.path(), &env, &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a cluster not up yet is worth retrying"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr
            .lines()
            .last()
            .unwrap()
            .contains("the API server did not answer"),
        "{stderr}"
    );
    assert!(
        !root.path().join(RECORD).exists(),
        "not complete: the next boot runs again"
    );
    assert!(
        root.path().join("etc/hostname").exists(),
        "the host phase ran before"
    );
    // The cluster phase recorded its start and, systemd restarting it, a wait.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.path().join(STATE)).unwrap()).unwrap();
    assert_eq!(state["phase"], "cluster");
    assert_eq!(state["outcome"], "waiting_to_retry");
    assert!(
        state["error"]
            .as_str()
            .unwrap()
            .contains("the API server did not answer"),
        "{state}"
    );
    assert_eq!(
        state["url"],
        format!("https://{}/", cli_support::FQDN),
        "{state}"
    );
    let banner = std::fs::read_to_string(root.path().join(BANNER)).unwrap();
    assert!(
        banner.contains("First boot (cluster phase): waiting to retry: "),
        "{banner}"
    );
}

#[test]
fn the_cluster_phase_puts_its_certificate_on_disk_before_the_secret() {
    // The host phase ran for one name; by the cluster phase the environment
    // says another (a guestinfo override changed): the certificate the Secret
    // will carry must be the one on disk.
    let root = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let env = fixture("static-network-without-tls.xml");
    let host = firstboot(root.path(), &["--phase", "host", "--ovf-env", &env]);
    assert!(host.status.success(), "{}", text(&host.stderr));
    let renamed = work.path().join("renamed.xml");
    let xml = std::fs::read_to_string(&env).unwrap();
    std::fs::write(
        &renamed,
        xml.replace(cli_support::FQDN, "renamed.corp.example.net"),
    )
    .unwrap();

    let out = firstboot_against_unreachable_cluster(
        root.path(),
        work.path(),
        renamed.to_str().unwrap(),
        &["--phase", "cluster"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let cert = std::fs::read(root.path().join("etc/ovaboot/tls/tls.crt")).unwrap();
    let sans = cli_support::openssl(&["x509", "-noout", "-ext", "subjectAltName"], &cert);
    assert!(sans.contains("renamed.corp.example.net"), "{sans}");
    assert!(!root.path().join(RECORD).exists());
}

#[test]
fn after_completion_later_boots_do_nothing() {
    let root = tempfile::tempdir().unwrap();
    let record = root.path().join(RECORD);
    std::fs::create_dir_all(record.parent().unwrap()).unwrap();
    std::fs::write(
        &record,
        r#"{"ovaboot_version":"0.1.0","completed_at":"2026-11-27T10:00:00Z","hostname":"veba01.lab.example.com","certificate_sha256":"AB"}"#,
    )
    .unwrap();
    let before = snapshot(root.path());
    // No OVF environment is given: it must not even be looked for.
    let out = firstboot(root.path(), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("already completed at 2026-11-27T10:00:00Z"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(snapshot(root.path()), before);
}

#[test]
fn bad_input_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = cli_support::environment(dir.path(), &[("guestinfo.dns", "dns.example.com")]);
    let out = firstboot(root.path(), &["--phase", "host", "--ovf-env", &env]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "bad input: retrying cannot help"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.lines().last().unwrap().contains("guestinfo.dns"),
        "{stderr}"
    );
    assert!(
        snapshot(root.path()).is_empty(),
        "nothing written under the root but where first boot stands"
    );
    let state = std::fs::read_to_string(root.path().join(STATE)).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(state["outcome"], "failed");
    assert_eq!(state["permanent"], true);
    assert_eq!(
        state["error"].as_str().unwrap(),
        stderr
            .lines()
            .last()
            .unwrap()
            .trim_start_matches("ovaboot: error: "),
        "the same line the command printed"
    );
}

/// The shipped units.
const UNITS: [&str; 5] = [
    "ovaboot-host.service",
    "ovaboot-cluster.service",
    "ovaboot-reconfigure.service",
    "ovaboot-reconfigure-cluster.service",
    "ovaboot-renew.service",
];
const TIMER: &str = "ovaboot-renew.timer";

/// The units, copied to a folder with ExecStart naming this binary, each
/// command line checked against the binary.
fn units_checked_against_this_binary() -> tempfile::TempDir {
    let units = UNITS;
    let binary = env!("CARGO_BIN_EXE_ovaboot");
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for unit in units {
        let text = std::fs::read_to_string(repo.join("systemd").join(unit)).unwrap();
        let exec = text
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .expect("an ExecStart line");
        let args: Vec<&str> = exec.split_whitespace().collect();
        assert_eq!(args[0], "/usr/bin/ovaboot");
        // First boot's commands: with a completion record in place the
        // command parses and does nothing. Day 2's: without one it parses and
        // refuses, before looking for an OVF environment.
        let day2 = args[1] == "reconfigure";
        let root = tempfile::tempdir().unwrap();
        let record = root.path().join(RECORD);
        if !day2 {
            std::fs::create_dir_all(record.parent().unwrap()).unwrap();
            std::fs::write(
                &record,
                r#"{"ovaboot_version":"0","completed_at":"x","hostname":"h","certificate_sha256":"s"}"#,
            )
            .unwrap();
        }
        let out = std::process::Command::new(binary)
            .args(&args[1..])
            .args(["--root", root.path().to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if day2 {
            assert!(
                out.status.code() == Some(2)
                    && stderr.starts_with("ovaboot: error: first boot has not completed"),
                "{unit}: {exec}: {stderr}"
            );
        } else {
            assert!(out.status.success(), "{unit}: {exec}: {stderr}");
        }
        std::fs::write(
            dir.path().join(unit),
            text.replace("/usr/bin/ovaboot", binary),
        )
        .unwrap();
    }
    std::fs::copy(repo.join("systemd").join(TIMER), dir.path().join(TIMER)).unwrap();
    dir
}

/// The units' ExecStart command lines are ones this binary accepts.
#[test]
fn the_systemd_units_commands_parse() {
    units_checked_against_this_binary();
}

/// A unit whose sandbox hides /proc/sys (`ProcSubset=pid`) passes the boot
/// id (`%b`) itself: without it the state file records no boot, and `status`
/// cannot tell a run still retrying in this boot from one that ended.
#[test]
fn a_unit_that_hides_proc_sys_passes_the_boot_id() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut hiding = 0;
    for unit in UNITS {
        let text = std::fs::read_to_string(repo.join("systemd").join(unit)).unwrap();
        if text.lines().any(|l| l == "ProcSubset=pid") {
            hiding += 1;
            assert!(
                text.lines().any(|l| l == "Environment=OVABOOT_BOOT_ID=%b"),
                "{unit} hides /proc/sys/kernel/random/boot_id and does not pass %b"
            );
        }
    }
    assert!(hiding >= 4, "the cluster and day-2 units hide /proc/sys");
}

/// `systemd-analyze verify` finds nothing to say about the units (nor the
/// renewal timer), and `systemd-analyze security` scores their sandboxing
/// where docs/first-boot.md says.
#[test]
#[ignore = "needs systemd-analyze (systemd)"]
fn the_systemd_units_verify_and_their_sandboxing_scores() {
    let dir = units_checked_against_this_binary();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg("--man=no")
        .args(UNITS.iter().chain([&TIMER]).map(|u| dir.path().join(u)))
        .output()
        .unwrap_or_else(|e| panic!("needs systemd-analyze (systemd): cannot run it: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {stderr}"
    );
    // The sandboxing holds the exposure docs/first-boot.md states (systemd 252,
    // bookworm); the issue's ceilings are 7 (host, reconfigure) and 4 (cluster).
    for (unit, at_most) in [
        ("ovaboot-host.service", 3.3),
        ("ovaboot-cluster.service", 2.4),
        ("ovaboot-reconfigure.service", 2.9),
        ("ovaboot-reconfigure-cluster.service", 2.4),
        ("ovaboot-renew.service", 2.4),
    ] {
        let out = std::process::Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--no-pager"])
            .arg(dir.path().join(unit))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let exposure: f64 = stdout
            .lines()
            .find_map(|l| l.split("Overall exposure level for ").nth(1))
            .and_then(|rest| rest.split(": ").nth(1))
            .and_then(|score| score.split_whitespace().next())
            .and_then(|score| score.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "{unit}: no exposure level in: {stdout}{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        assert!(
            exposure <= at_most,
            "{unit}: exposure {exposure} is over {at_most}: {stdout}"
        );
    }
}

/// The host units' `ExecStartPost=`: systemd reloads when ovaboot left the
/// flag (and the flag goes), not otherwise, and a failed reload keeps it for
/// the next try. Run with the flag moved to a scratch folder and a stand-in
/// `systemctl` that records its arguments.
#[test]
fn the_host_units_reload_systemd_only_when_ovaboot_left_the_flag() {
    use std::os::unix::fs::PermissionsExt as _;
    let flag_path = ovaboot::apply::units::RELOAD_FLAG;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for unit in ["ovaboot-host.service", "ovaboot-reconfigure.service"] {
        let text = std::fs::read_to_string(repo.join("systemd").join(unit)).unwrap();
        let post: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("ExecStartPost="))
            .collect();
        let [post] = post[..] else {
            panic!("{unit}: one ExecStartPost= line: {post:?}")
        };
        // systemd splits `/bin/sh -c '<script>'` into three arguments.
        let script = post
            .strip_prefix("/bin/sh -c '")
            .and_then(|s| s.strip_suffix('\''))
            .unwrap_or_else(|| panic!("{unit}: {post}"));
        assert!(script.contains(flag_path), "{unit}: {script}");

        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("daemon-reload");
        let calls = dir.path().join("calls");
        let script = script.replace(flag_path, flag.to_str().unwrap());
        let systemctl = dir.path().join("bin/systemctl");
        std::fs::create_dir_all(systemctl.parent().unwrap()).unwrap();
        let run = |exit: u8| {
            std::fs::write(
                &systemctl,
                format!(
                    "#!/bin/sh\necho \"$@\" >> '{}'\nexit {exit}\n",
                    calls.display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&systemctl, std::fs::Permissions::from_mode(0o755)).unwrap();
            let path = format!(
                "{}:{}",
                systemctl.parent().unwrap().display(),
                std::env::var("PATH").unwrap()
            );
            let out = std::process::Command::new("/bin/sh")
                .args(["-c", &script])
                .env("PATH", path)
                .output()
                .unwrap();
            let called = std::fs::read_to_string(&calls).unwrap_or_default();
            let _ = std::fs::remove_file(&calls);
            (out.status.success(), called)
        };

        assert_eq!(run(0), (true, String::new()), "{unit}: no flag, no reload");
        std::fs::write(
            &flag,
            "/etc/systemd/system/k3s.service.d/ovaboot-proxy.conf\n",
        )
        .unwrap();
        assert_eq!(
            run(1),
            (false, "daemon-reload\n".into()),
            "{unit}: a failed reload fails the unit"
        );
        assert!(flag.exists(), "{unit}: and keeps the flag for the next try");
        assert_eq!(run(0), (true, "daemon-reload\n".into()), "{unit}");
        assert!(!flag.exists(), "{unit}: reloaded, the flag goes");
        assert_eq!(run(0), (true, String::new()), "{unit}: once");
    }
}

/// A certificate that does not fit the host name stops the host phase; the
/// console and `status` still say which appliance this is.
#[test]
fn a_certificate_refused_leaves_the_host_name_on_the_console() {
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["other.example.com".into()]).unwrap();
    let env = cli_support::environment(
        dir.path(),
        &[
            ("guestinfo.tls_cert", &other.cert.pem()),
            ("guestinfo.tls_key", &other.signing_key.serialize_pem()),
        ],
    );
    let out = firstboot(root.path(), &["--phase", "host", "--ovf-env", &env]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("guestinfo.tls_cert"),
        "{}",
        text(&out.stderr)
    );
    let banner = std::fs::read_to_string(root.path().join(BANNER)).unwrap();
    assert!(
        banner.contains(&format!("ovaboot: {} (not serving yet)", cli_support::FQDN)),
        "{banner}"
    );
    assert!(!banner.contains("not known yet"), "{banner}");
    let status = ovaboot_with_manifest(
        &["status", "--root", root.path().to_str().unwrap()],
        &contour_manifest(),
    );
    assert!(
        text(&status.stdout).contains(&format!(
            "hostname:     {} (not serving yet)",
            cli_support::FQDN
        )),
        "{}",
        text(&status.stdout)
    );
}
