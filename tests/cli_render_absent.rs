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
        let path = r
            .path("rootfs")
            .join(absent.as_str().unwrap().trim_start_matches('/'));
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
    let absent = plan["absent_host_files"].as_array().unwrap().len();
    assert!(
        r.stdout.contains(&format!(
            "rendered {} host files ({absent} more to remove)",
            listed.len()
        )),
        "{}",
        r.stdout
    );
}
