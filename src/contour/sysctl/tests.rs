use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use super::*;
use crate::contour::test_support::real_objects;
use crate::contour::{EnvoyExposure, transform};

#[test]
fn host_network_needs_the_drop_in_at_the_lowest_envoy_port() {
    let objects = transform(real_objects(), EnvoyExposure::HostNetwork).unwrap();
    let drop_in = privileged_port_sysctl(&objects).unwrap().unwrap();
    assert_eq!(
        drop_in.path,
        PathBuf::from("/etc/sysctl.d/60-ovaboot-envoy-ports.conf")
    );
    assert_eq!(drop_in.mode, 0o644);
    assert_eq!(drop_in.value, 80);
    assert_eq!(
        drop_in.proc_path,
        PathBuf::from("/proc/sys/net/ipv4/ip_unprivileged_port_start")
    );
    let settings: Vec<&str> = drop_in
        .contents
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert_eq!(settings, ["net.ipv4.ip_unprivileged_port_start = 80"]);
}

#[test]
fn host_port_needs_no_drop_in() {
    let objects = transform(real_objects(), EnvoyExposure::HostPort).unwrap();
    assert_eq!(privileged_port_sysctl(&objects).unwrap(), None);
}

/// Env var that turns [`bind_helper`] from a no-op into the real probe.
const HELPER_ENV: &str = "OVABOOT_TEST_BIND_LOW_PORTS";

/// Runs only as a child of the test below: binds 80 and 443 and exits 0, or
/// exits non-zero with the error.
#[test]
#[ignore = "helper: run by unprivileged_uid_binds_80_and_443_only_with_the_drop_in"]
fn bind_helper() {
    if std::env::var_os(HELPER_ENV).is_none() {
        return;
    }
    for port in [80, 443] {
        if let Err(e) = std::net::TcpListener::bind(("0.0.0.0", port)) {
            eprintln!("bind {port}: {e}");
            std::process::exit(3);
        }
    }
}

/// The real thing, in a throwaway network namespace: UID 65534 (envoy's) cannot
/// bind 80/443 by default, and can once `sysctl -p` has read our drop-in.
/// Needs root, `unshare`, `setpriv` (util-linux) and `sysctl` (procps).
#[test]
#[ignore = "needs root, unshare, setpriv and sysctl: a network namespace and another uid"]
fn unprivileged_uid_binds_80_and_443_only_with_the_drop_in() {
    let missing: Vec<&str> = ["unshare", "setpriv", "sysctl"]
        .into_iter()
        .filter(|tool| {
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .map_or(true, |o| !o.status.success())
        })
        .collect();
    assert!(
        nix::unistd::Uid::effective().is_root() && missing.is_empty(),
        "needs root and unshare, setpriv and sysctl (not root: {}; missing: {missing:?})",
        !nix::unistd::Uid::effective().is_root()
    );
    let objects = transform(real_objects(), EnvoyExposure::HostNetwork).unwrap();
    let drop_in = privileged_port_sysctl(&objects).unwrap().unwrap();

    // The helper runs as UID 65534: give it a copy of this test binary it can reach.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let helper = dir.path().join("helper");
    std::fs::copy(std::env::current_exe().unwrap(), &helper).unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let conf = dir.path().join("60-ovaboot-envoy-ports.conf");
    std::fs::write(&conf, &drop_in.contents).unwrap();

    let run = |apply_drop_in: bool| {
        let script = if apply_drop_in {
            "sysctl -q -p \"$1\" && exec setpriv --reuid=65534 --regid=65534 --clear-groups \"$2\" --exact contour::sysctl::tests::bind_helper --ignored --quiet --nocapture"
        } else {
            "exec setpriv --reuid=65534 --regid=65534 --clear-groups \"$2\" --exact contour::sysctl::tests::bind_helper --ignored --quiet --nocapture"
        };
        Command::new("unshare")
            .args(["--net", "sh", "-c", script, "sh"])
            .arg(&conf)
            .arg(&helper)
            .env(HELPER_ENV, "1")
            .output()
            .unwrap()
    };

    let without = run(false);
    assert!(
        !without.status.success(),
        "UID 65534 bound port 80 without the drop-in: the test proves nothing here"
    );
    assert!(String::from_utf8_lossy(&without.stderr).contains("bind 80"));

    let with = run(true);
    assert!(
        with.status.success(),
        "with the drop-in UID 65534 still cannot bind: {}",
        String::from_utf8_lossy(&with.stderr)
    );
}
