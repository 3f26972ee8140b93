//! A first boot that failed, properties changed, and a reboot: the host phase
//! run again on the same root takes back what the first run wrote and this
//! one does not want (the reviewer's scenario, through the built binary).

mod cli_support;

use std::path::Path;

use cli_support::text;

const NETWORK: &str = "etc/systemd/network/10-ovaboot.network";
const TIMESYNCD: &str = "etc/systemd/timesyncd.conf.d/ovaboot.conf";
const PROXY_ENV: &str = "etc/ovaboot/proxy.env";
const DROPIN: &str = "etc/systemd/system/k3s.service.d/ovaboot-proxy.conf";
const ADMIN_HOSTS: &str = "# lab hosts the builder added\n\
                           127.0.0.1\tlocalhost\n\
                           192.168.40.5\tnas.corp.example.net nas\n\
                           ::1\tlocalhost ip6-localhost ip6-loopback\n";

/// An OVF environment with exactly `properties`, written to `dir/name`.
fn environment(dir: &Path, name: &str, properties: &[(&str, &str)]) -> String {
    cli_support::environment_with(&dir.join(name), properties)
}

fn host_phase(root: &Path, env: &str) -> String {
    let out = cli_support::firstboot_host(root, env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::read_to_string(root.join("etc/hosts")).unwrap()
}

#[test]
fn a_rerun_with_dhcp_another_name_and_no_ntp_or_proxy_takes_back_the_first_runs_files() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/hosts"), ADMIN_HOSTS).unwrap();

    let first = environment(
        work.path(),
        "static-veba02-with-ntp-and-proxy.xml",
        &[
            ("guestinfo.hostname", "veba02.example.com"),
            ("guestinfo.ipaddress", "10.0.0.20"),
            ("guestinfo.netmask", "24"),
            ("guestinfo.gateway", "10.0.0.1"),
            ("guestinfo.ntp", "ntp.example.com"),
            (
                "guestinfo.http_proxy",
                "http://svc:S3cret@proxy.example.com:3128",
            ),
        ],
    );
    let hosts = host_phase(&root, &first);
    for file in [NETWORK, TIMESYNCD, PROXY_ENV, DROPIN] {
        assert!(root.join(file).is_file(), "{file} written by the first run");
    }
    assert!(
        hosts.contains("10.0.0.20\tveba02.example.com\tveba02\t# ovaboot\n"),
        "{hosts}"
    );

    // The admin fixes the properties (blank fields, as the wizard sends them).
    let second = environment(
        work.path(),
        "dhcp-veba01-without-ntp-or-proxy.xml",
        &[
            ("guestinfo.hostname", "veba01.example.com"),
            ("guestinfo.ipaddress", ""),
            ("guestinfo.ntp", ""),
            ("guestinfo.http_proxy", ""),
        ],
    );
    let hosts = host_phase(&root, &second);
    for file in [NETWORK, TIMESYNCD, PROXY_ENV, DROPIN] {
        assert!(
            std::fs::symlink_metadata(root.join(file)).is_err(),
            "{file} left behind"
        );
    }
    assert!(
        root.join("etc/systemd/system/k3s.service.d").is_dir(),
        "directories are never removed"
    );
    assert!(!hosts.contains("veba02"), "{hosts}");
    assert!(!hosts.contains("10.0.0.20"), "{hosts}");
    assert_eq!(
        hosts,
        "# lab hosts the builder added\n\
         127.0.0.1\tlocalhost\n\
         127.0.1.1\tveba01.example.com\tveba01\t# ovaboot\n\
         192.168.40.5\tnas.corp.example.net nas\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n",
        "the admin's lines byte for byte, one line of ours"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("etc/hostname")).unwrap(),
        "veba01.example.com\n"
    );

    // And once more: nothing changes.
    assert_eq!(host_phase(&root, &second), hosts);
}

/// The flag the host unit's `ExecStartPost=` reloads systemd on, under `root`.
fn reload_flag(root: &Path) -> std::path::PathBuf {
    ovaboot::root::under(root, ovaboot::apply::units::RELOAD_FLAG)
}

/// What the unit does after a run: reload if asked, and take the flag away.
fn take_reload_flag(root: &Path) -> Option<String> {
    let flag = reload_flag(root);
    let listed = std::fs::read_to_string(&flag).ok()?;
    std::fs::remove_file(&flag).unwrap();
    Some(listed)
}

#[test]
fn systemd_is_asked_to_reload_exactly_when_the_proxy_drop_in_came_or_went() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    let base = [("guestinfo.hostname", "veba01.example.com")];
    let plain = environment(work.path(), "plain.xml", &base);
    let proxied = environment(
        work.path(),
        "proxied.xml",
        &[
            base[0],
            ("guestinfo.http_proxy", "http://proxy.example.com:3128"),
        ],
    );

    // Host files, network and NTP are no units: no reload.
    host_phase(&root, &plain);
    assert!(root.join("etc/hostname").is_file());
    assert_eq!(take_reload_flag(&root), None, "no drop-in written");

    host_phase(&root, &proxied);
    assert_eq!(take_reload_flag(&root), Some(format!("/{DROPIN}\n")));

    host_phase(&root, &proxied);
    assert_eq!(
        take_reload_flag(&root),
        None,
        "the drop-in was already there"
    );

    host_phase(&root, &plain);
    assert!(!root.join(DROPIN).exists());
    assert_eq!(
        take_reload_flag(&root),
        Some(format!("/{DROPIN}\n")),
        "removed: systemd must forget it"
    );
}
