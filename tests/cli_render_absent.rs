//! `ovaboot render` with DHCP and no NTP or proxy: the files first boot would
//! take back are listed in plan.json and nothing is written for them.

mod cli_support;

use std::path::Path;

use cli_support::{files_under, render};

#[test]
fn files_planned_absent_are_listed_and_not_written() {
    let work = tempfile::tempdir().unwrap();
    let env = work.path().join("dhcp-without-ntp-or-proxy.xml");
    cli_support::environment_with(
        &env,
        &[
            ("guestinfo.hostname", "appliance7.corp.example.net"),
            ("guestinfo.ipaddress", ""),
            ("guestinfo.ntp", ""),
            ("guestinfo.http_proxy", ""),
        ],
    );
    let empty_root = tempfile::tempdir().unwrap();
    let r = render(
        &["--ovf-env", env.to_str().unwrap()],
        empty_root.path().to_str().unwrap(),
    );

    let plan = r.plan();
    assert_eq!(
        plan["absent_host_files"],
        serde_json::json!([
            "/etc/systemd/network/10-ovaboot.network",
            "/etc/systemd/timesyncd.conf.d/ovaboot.conf",
            "/etc/systemd/system/k3s.service.d/ovaboot-proxy.conf",
            "/etc/ovaboot/proxy.env",
        ])
    );
    for absent in plan["absent_host_files"].as_array().unwrap() {
        let path = ovaboot::root::under(&r.path("rootfs"), absent.as_str().unwrap());
        assert!(
            std::fs::symlink_metadata(&path).is_err(),
            "{} written",
            path.display()
        );
        assert!(
            !plan["host_files"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["path"] == *absent),
            "{absent} also listed as written"
        );
    }
    assert!(
        !r.path("rootfs/etc/systemd/network").exists(),
        "no directory made for it"
    );

    // host_files keeps its meaning: exactly the files under rootfs.
    let mut listed: Vec<String> = plan["host_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    let rootfs = r.path("rootfs");
    let mut on_disk: Vec<String> = files_under(&rootfs)
        .iter()
        .map(|p| {
            Path::new("/")
                .join(p.strip_prefix(&rootfs).unwrap())
                .display()
                .to_string()
        })
        .collect();
    on_disk.sort();
    assert_eq!(listed, on_disk);
    // A fresh root has none of them: nothing to remove is announced.
    assert!(
        r.stdout
            .contains(&format!("rendered {} host files and ", listed.len())),
        "{}",
        r.stdout
    );
}

#[test]
fn only_files_that_exist_under_the_root_are_counted_as_to_remove() {
    let work = tempfile::tempdir().unwrap();
    let env = work.path().join("dhcp.xml");
    cli_support::environment_with(
        &env,
        &[("guestinfo.hostname", "appliance7.corp.example.net")],
    );
    let root = tempfile::tempdir().unwrap();
    for left_by_an_earlier_run in [
        "etc/systemd/network/10-ovaboot.network",
        "etc/ovaboot/proxy.env",
    ] {
        let path = root.path().join(left_by_an_earlier_run);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "earlier\n").unwrap();
    }
    let r = render(
        &["--ovf-env", env.to_str().unwrap()],
        root.path().to_str().unwrap(),
    );
    assert!(
        r.stdout.contains(" host files (2 more to remove) and "),
        "{}",
        r.stdout
    );
    assert_eq!(r.plan()["absent_host_files"].as_array().unwrap().len(), 4);
}

#[test]
fn verbose_render_logs_the_paths_it_really_writes() {
    let work = tempfile::tempdir().unwrap();
    let env = work.path().join("dhcp.xml");
    cli_support::environment_with(
        &env,
        &[("guestinfo.hostname", "appliance7.corp.example.net")],
    );
    let out = work.path().join("rendered");
    let root = tempfile::tempdir().unwrap();
    let config = cli_support::fixture("defaults-only.toml");
    let o = cli_support::ovaboot(&[
        "render",
        "-v",
        "--out",
        out.to_str().unwrap(),
        "--root",
        root.path().to_str().unwrap(),
        "--config",
        &config,
        "--ovf-env",
        env.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", cli_support::text(&o.stderr));
    let log = cli_support::text(&o.stderr);
    let hostname_line = log
        .lines()
        .find(|l| l.contains("wrote") && l.contains("/etc/hostname"))
        .unwrap_or_else(|| panic!("no line for /etc/hostname: {log}"));
    // Beside the output folder (staged, then renamed into place), never the
    // host's own /etc/hostname.
    let beside = work.path().to_str().unwrap();
    assert!(
        hostname_line.contains(&format!("path={beside}/"))
            && hostname_line.contains("/rootfs/etc/hostname"),
        "{hostname_line}"
    );
}
