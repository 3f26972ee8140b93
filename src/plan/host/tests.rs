use super::*;
use crate::ovf::{Properties, PropertyValue};
use crate::plan::FileContents;

const DEBIAN: &str =
    include_str!("../../../tests/fixtures/host/hosts/debian-installer-default.hosts");
const CLOUD: &str =
    include_str!("../../../tests/fixtures/host/hosts/cloud-image-managed-with-ipv6.hosts");
const PHOTON: &str =
    include_str!("../../../tests/fixtures/host/hosts/photon-network-card-version.hosts");
const ADMIN: &str = include_str!("../../../tests/fixtures/host/hosts/with-admin-entries.hosts");
const OLD: &str =
    include_str!("../../../tests/fixtures/host/hosts/with-old-mapping-of-same-name.hosts");
const FIXTURES: [&str; 5] = [DEBIAN, CLOUD, PHOTON, ADMIN, OLD];

const FQDN: &str = "veba01.lab.example.com";

fn hostname() -> Hostname {
    FQDN.parse().unwrap()
}

fn merge(existing: &str, address: &str) -> String {
    merge_hosts(existing, address, FQDN, "veba01")
}

fn props(pairs: &[(&str, &str)]) -> Properties {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), PropertyValue::Plain(v.to_string())))
        .collect()
}

fn network(pairs: &[(&str, &str)]) -> NetworkSettings {
    NetworkSettings::from_properties(&props(pairs)).unwrap()
}

fn proxy(pairs: &[(&str, &str)]) -> ProxySettings {
    ProxySettings::from_properties(&props(pairs))
        .unwrap()
        .unwrap()
}

fn full_static() -> NetworkSettings {
    network(&[
        ("guestinfo.ipaddress", "192.168.10.20"),
        ("guestinfo.netmask", "24 (255.255.255.0)"),
        ("guestinfo.gateway", "192.168.10.1"),
        ("guestinfo.dns", "192.168.10.2,1.1.1.1"),
        ("guestinfo.domain", "lab.example.com example.com"),
        ("guestinfo.ntp", "0.pool.ntp.org 192.168.10.3"),
    ])
}

fn plan(
    network: &NetworkSettings,
    proxy: Option<&ProxySettings>,
    existing_hosts: &str,
    config: &HostConfig,
) -> Result<Vec<PlannedFile>, HostPlanError> {
    let hostname = hostname();
    plan_host(
        &HostInputs {
            hostname: &hostname,
            network,
            proxy,
            existing_hosts,
            interface: Some("ens160"),
        },
        config,
    )
}

fn text(file: &PlannedFile) -> &str {
    std::str::from_utf8(file.contents.expose().expect("a present file")).unwrap()
}

/// The paths planned present, in plan order.
fn present(files: &[PlannedFile]) -> Vec<&str> {
    files
        .iter()
        .filter(|f| !f.is_absent())
        .map(|f| f.path.to_str().unwrap())
        .collect()
}

/// The paths planned absent, in plan order.
fn absent(files: &[PlannedFile]) -> Vec<&str> {
    files
        .iter()
        .filter(|f| f.is_absent())
        .map(|f| f.path.to_str().unwrap())
        .collect()
}

fn find<'a>(files: &'a [PlannedFile], path: &str) -> &'a PlannedFile {
    files
        .iter()
        .find(|f| f.path == Path::new(path))
        .unwrap_or_else(|| panic!("{path} not planned: {files:?}"))
}

#[test]
fn hosts_debian_default_gets_the_127_0_1_1_slot() {
    assert_eq!(
        merge(DEBIAN, DEBIAN_HOSTNAME_ADDRESS),
        "127.0.0.1\tlocalhost\n\
         127.0.1.1\tveba01.lab.example.com\tveba01\t# ovaboot\n\
         \n\
         # The following lines are desirable for IPv6 capable hosts\n\
         ::1     localhost ip6-localhost ip6-loopback\n\
         ff02::1 ip6-allnodes\n\
         ff02::2 ip6-allrouters\n"
    );
    // With a static address the name maps to it and the 127.0.1.1 line goes.
    let merged = merge(DEBIAN, "192.168.10.20");
    assert!(merged.starts_with(
        "127.0.0.1\tlocalhost\n192.168.10.20\tveba01.lab.example.com\tveba01\t# ovaboot\n\n"
    ));
    assert!(!merged.contains("127.0.1.1"));
    assert!(!merged.contains("debian"));
}

#[test]
fn hosts_cloud_image_keeps_comments_and_ipv6_lines() {
    let merged = merge(CLOUD, DEBIAN_HOSTNAME_ADDRESS);
    let expected = CLOUD.replace(
        "127.0.1.1 packer-build.localdomain packer-build",
        "127.0.1.1\tveba01.lab.example.com\tveba01\t# ovaboot",
    );
    assert_eq!(merged, expected);
}

#[test]
fn hosts_photon_gets_the_name_after_localhost() {
    let merged = merge(PHOTON, "192.168.10.20");
    let expected = PHOTON.replace(
        "127.0.0.1   localhost\n",
        "127.0.0.1   localhost\n192.168.10.20\tveba01.lab.example.com\tveba01\t# ovaboot\n",
    );
    assert_eq!(merged, expected);
}

#[test]
fn hosts_admin_entries_stay_byte_for_byte() {
    let merged = merge(ADMIN, "192.168.10.20");
    assert_eq!(
        merged,
        "127.0.0.1\tlocalhost\n\
         192.168.10.20\tveba01.lab.example.com\tveba01\t# ovaboot\n\
         \n\
         # lab infrastructure, added by the admin\n\
         10.0.0.50    vcenter.lab.example.com vcenter   # vCenter\n\
         10.0.0.51    esx01.lab.example.com esx01\n\
         \n\
         ::1     localhost ip6-localhost ip6-loopback\n"
    );
}

#[test]
fn hosts_old_mapping_of_the_same_name_is_replaced_not_duplicated() {
    let merged = merge(OLD, "192.168.10.20");
    assert_eq!(
        merged,
        "127.0.0.1\tlocalhost\n\
         192.168.10.20\tveba01.lab.example.com\tveba01\t# ovaboot\n\
         # the appliance, from an earlier deployment\n\
         10.0.0.50\tvcenter.lab.example.com vcenter\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n"
    );
    assert_eq!(merged.matches("veba01").count(), 2, "one line, two names");
}

#[test]
fn hosts_without_localhost_get_it_and_empty_file_gets_both() {
    assert_eq!(
        merge("", DEBIAN_HOSTNAME_ADDRESS),
        "127.0.0.1\tlocalhost\n127.0.1.1\tveba01.lab.example.com\tveba01\t# ovaboot\n"
    );
    assert_eq!(
        merge("# managed by hand\n10.0.0.50 vcenter\n", "192.168.10.20"),
        "# managed by hand\n127.0.0.1\tlocalhost\n192.168.10.20\tveba01.lab.example.com\tveba01\t# ovaboot\n10.0.0.50 vcenter\n"
    );
    // An old mapping above where localhost gets inserted keeps its place.
    assert_eq!(
        merge("10.0.0.9 veba01\n10.0.0.50 vcenter\n", "192.168.10.20"),
        "127.0.0.1\tlocalhost\n192.168.10.20\tveba01.lab.example.com\tveba01\t# ovaboot\n10.0.0.50 vcenter\n"
    );
}

#[test]
fn hosts_merge_is_idempotent_and_readdressing_never_duplicates() {
    for fixture in FIXTURES {
        for address in [DEBIAN_HOSTNAME_ADDRESS, "192.168.10.20", "2001:db8::20"] {
            let once = merge(fixture, address);
            assert_eq!(merge(&once, address), once, "{address} over\n{fixture}");
            // Same as merging from scratch, whatever was mapped before.
            let via_dhcp = merge(&merge(fixture, DEBIAN_HOSTNAME_ADDRESS), address);
            assert_eq!(via_dhcp, once, "{address} after DHCP over\n{fixture}");
            assert_eq!(once.matches(FQDN).count(), 1);
            assert!(
                once.lines()
                    .any(|l| l.split_whitespace().eq(["127.0.0.1", "localhost"]))
            );
        }
    }
}

#[test]
fn hosts_renamed_host_loses_its_old_marked_line_and_admin_lines_stay() {
    // First boot as veba02 with a static address, then the admin renames it
    // and switches to DHCP or another address.
    for fixture in FIXTURES {
        let earlier = merge_hosts(fixture, "10.0.0.20", "veba02.example.com", "veba02");
        assert!(
            earlier.contains("10.0.0.20\tveba02.example.com\tveba02\t# ovaboot\n"),
            "{earlier}"
        );
        for address in [DEBIAN_HOSTNAME_ADDRESS, "192.168.10.20"] {
            let renamed = merge(&earlier, address);
            assert!(!renamed.contains("veba02"), "{renamed}");
            assert!(!renamed.contains("10.0.0.20"), "{renamed}");
            // As if the earlier name had never been there.
            assert_eq!(renamed, merge(fixture, address), "over\n{fixture}");
        }
    }
    let renamed = merge(
        &merge_hosts(ADMIN, "10.0.0.20", "veba02.example.com", "veba02"),
        "192.168.10.20",
    );
    for line in ADMIN.lines().filter(|l| !l.starts_with("127.0.1.1")) {
        assert!(renamed.lines().any(|l| l == line), "{line:?} lost");
    }
}

#[test]
fn hosts_only_entries_whose_whole_comment_is_the_marker_are_replaced_as_ours() {
    let existing = "127.0.0.1\tlocalhost\n\
                    # ovaboot\n\
                    10.0.0.9 build.example.com # ovaboot appliance builder\n\
                    10.0.0.10 mirror.example.com #ovaboot\n\
                    10.0.0.20\tveba02.example.com\tveba02\t# ovaboot  \n\
                    10.0.0.21 veba03.example.com # ovaboot\n";
    assert_eq!(
        merge(existing, "192.168.10.20"),
        "127.0.0.1\tlocalhost\n\
         # ovaboot\n\
         10.0.0.9 build.example.com # ovaboot appliance builder\n\
         10.0.0.10 mirror.example.com #ovaboot\n\
         192.168.10.20\tveba01.lab.example.com\tveba01\t# ovaboot\n"
    );
}

#[test]
fn hosts_an_unmarked_line_of_the_earlier_format_is_still_replaced() {
    // What ovaboot wrote before it marked its line.
    let earlier = "127.0.0.1\tlocalhost\n192.168.10.99\tveba01.lab.example.com\tveba01\n";
    assert_eq!(
        merge(earlier, "192.168.10.20"),
        "127.0.0.1\tlocalhost\n192.168.10.20\tveba01.lab.example.com\tveba01\t# ovaboot\n"
    );
}

#[test]
fn hostname_file_is_the_fqdn_and_falls_back_to_the_short_name_past_64() {
    let files = plan(
        &NetworkSettings::default(),
        None,
        DEBIAN,
        &HostConfig::default(),
    )
    .unwrap();
    let f = find(&files, "/etc/hostname");
    assert_eq!(text(f), "veba01.lab.example.com\n");
    assert_eq!(f.mode, 0o644);
    let long: Hostname = format!("veba01.{}.example.com", "a".repeat(60))
        .parse()
        .unwrap();
    assert_eq!(static_hostname(&long), "veba01");
}

#[test]
fn dhcp_writes_only_hostname_and_hosts_and_plans_every_optional_file_absent() {
    let files = plan(
        &NetworkSettings::default(),
        None,
        DEBIAN,
        &HostConfig::default(),
    )
    .unwrap();
    assert_eq!(present(&files), ["/etc/hostname", "/etc/hosts"]);
    // What an earlier run with a static address, NTP and a proxy wrote is taken
    // back; the drop-ins before the file they name.
    assert_eq!(
        absent(&files),
        [
            "/etc/systemd/network/10-ovaboot.network",
            "/etc/systemd/timesyncd.conf.d/ovaboot.conf",
            "/etc/systemd/system/k3s.service.d/ovaboot-proxy.conf",
            "/etc/ovaboot/proxy.env",
        ]
    );
    assert!(text(&files[1]).contains("127.0.1.1\tveba01.lab.example.com\tveba01\t# ovaboot\n"));
    // No interface is needed with DHCP.
    let hostname = hostname();
    let inputs = HostInputs {
        hostname: &hostname,
        network: &NetworkSettings::default(),
        proxy: None,
        existing_hosts: "",
        interface: None,
    };
    assert!(plan_host(&inputs, &HostConfig::default()).is_ok());
}

#[test]
fn static_network_writes_networkd_and_timesyncd_files() {
    let files = plan(&full_static(), None, DEBIAN, &HostConfig::default()).unwrap();
    let net = find(&files, "/etc/systemd/network/10-ovaboot.network");
    assert_eq!(net.mode, 0o644);
    assert_eq!(
        text(net),
        "# Written by ovaboot on first boot from guestinfo.ipaddress, guestinfo.netmask,\n\
         # guestinfo.gateway, guestinfo.dns and guestinfo.domain.\n\
         [Match]\n\
         Name=ens160\n\
         \n\
         [Network]\n\
         Address=192.168.10.20/24\n\
         Gateway=192.168.10.1\n\
         DNS=192.168.10.2\n\
         DNS=1.1.1.1\n\
         Domains=lab.example.com example.com\n"
    );
    let ntp = find(&files, "/etc/systemd/timesyncd.conf.d/ovaboot.conf");
    assert_eq!(
        text(ntp),
        "# Written by ovaboot on first boot from guestinfo.ntp.\n[Time]\nNTP=0.pool.ntp.org 192.168.10.3\n"
    );
    assert!(
        text(find(&files, "/etc/hosts"))
            .contains("192.168.10.20\tveba01.lab.example.com\tveba01\t# ovaboot\n")
    );
}

#[test]
fn minimal_static_network_and_ntp_with_dhcp() {
    let files = plan(
        &network(&[
            ("guestinfo.ipaddress", "10.1.2.3"),
            ("guestinfo.netmask", "255.255.0.0"),
        ]),
        None,
        "",
        &HostConfig::default(),
    )
    .unwrap();
    assert!(
        text(find(&files, "/etc/systemd/network/10-ovaboot.network"))
            .ends_with("[Network]\nAddress=10.1.2.3/16\n")
    );
    assert_eq!(
        find(&files, "/etc/systemd/timesyncd.conf.d/ovaboot.conf").contents,
        FileContents::Absent,
        "no timesyncd file without NTP"
    );

    let files = plan(
        &network(&[("guestinfo.ntp", "ntp.lab.example.com")]),
        None,
        "",
        &HostConfig::default(),
    )
    .unwrap();
    assert_eq!(
        present(&files),
        [
            "/etc/hostname",
            "/etc/hosts",
            "/etc/systemd/timesyncd.conf.d/ovaboot.conf"
        ]
    );
}

#[test]
fn static_network_needs_a_sane_interface() {
    let hostname = hostname();
    let network = full_static();
    let mut inputs = HostInputs {
        hostname: &hostname,
        network: &network,
        proxy: None,
        existing_hosts: "",
        interface: None,
    };
    let e = plan_host(&inputs, &HostConfig::default()).unwrap_err();
    assert_eq!(e, HostPlanError::NoInterface);
    assert!(e.to_string().starts_with("guestinfo.ipaddress: "));
    for bad in [
        "en*",
        "eth0\n[Network]",
        "a-very-long-interface-name",
        "../x",
        "",
    ] {
        inputs.interface = Some(bad);
        assert_eq!(
            plan_host(&inputs, &HostConfig::default()).unwrap_err(),
            HostPlanError::BadInterface(bad.to_string())
        );
    }
}

#[test]
fn host_config_defaults_and_deny_unknown_fields() {
    let config: HostConfig = toml::from_str("").unwrap();
    assert_eq!(config, HostConfig::default());
    assert_eq!(config.proxy_units, ["k3s.service"]);
    assert_eq!(config.proxy_env_file, Path::new("/etc/ovaboot/proxy.env"));
    let config: HostConfig =
        toml::from_str("proxy_units = [\"k3s.service\", \"containerd.service\"]").unwrap();
    assert_eq!(
        config.no_proxy_defaults,
        HostConfig::default().no_proxy_defaults
    );
    let e = toml::from_str::<HostConfig>("proxy_unit = []").unwrap_err();
    assert!(e.to_string().contains("unknown field `proxy_unit`"), "{e}");
}

#[test]
fn host_config_validation_names_the_key() {
    let check = |toml_text: &str| {
        toml::from_str::<HostConfig>(toml_text)
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        check("proxy_units = [\"k3s\"]"),
        "host.proxy_units: \"k3s\" is not a systemd service unit name (e.g. k3s.service)"
    );
    assert_eq!(
        check("proxy_units = [\"../../etc/passwd.service\"]"),
        "host.proxy_units: \"../../etc/passwd.service\" is not a systemd service unit name (e.g. k3s.service)"
    );
    assert_eq!(
        check("no_proxy_defaults = [\"10.42.0.0/99\"]"),
        "host.no_proxy_defaults: \"10.42.0.0/99\" is not a valid CIDR range (the prefix length must be 0–32)"
    );
    assert_eq!(
        check("network_file = \"etc/systemd/network/x.network\""),
        "host.network_file: etc/systemd/network/x.network must be a normalised absolute path of letters, digits and / . _ + @ - (no other characters name a file ovaboot writes)"
    );
    for bad in [
        "etc/ovaboot/proxy.env",
        "/etc/ovaboot/proxy env",
        "/etc/ovaboot/%n.env",
        "/etc/ovaboot/\"x\"",
        "/etc/ovaboot/../proxy.env",
        "/etc//ovaboot/proxy.env",
        "/etc/ovaboot/",
        "/",
    ] {
        let config = HostConfig {
            proxy_env_file: bad.into(),
            ..HostConfig::default()
        };
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            format!(
                "host.proxy_env_file: {bad} must be a normalised absolute path of letters, digits and / . _ + @ - (systemd reads other characters specially in EnvironmentFile=)"
            ),
        );
    }
    assert_eq!(
        check("timesyncd_file = \"/etc/systemd/timesyncd.conf.d/ntp\""),
        "host.timesyncd_file: /etc/systemd/timesyncd.conf.d/ntp must end in .conf (or systemd ignores it)"
    );
    // And plan_host refuses to plan with it.
    let config = HostConfig {
        proxy_units: vec!["k3s".into()],
        ..HostConfig::default()
    };
    assert!(matches!(
        plan(&NetworkSettings::default(), None, "", &config),
        Err(HostPlanError::Config(_))
    ));
}

#[test]
fn every_optional_file_a_full_plan_writes_an_empty_plan_takes_back() {
    let config = HostConfig {
        proxy_units: vec!["k3s.service".into(), "containerd.service".into()],
        timesyncd_file: "/etc/systemd/timesyncd.conf.d/50-ovaboot.conf".into(),
        ..HostConfig::default()
    };
    let p = proxy(&[("guestinfo.https_proxy", "http://u:pw@proxy:3128")]);
    let full = plan(&full_static(), Some(&p), DEBIAN, &config).unwrap();
    assert!(absent(&full).is_empty(), "{full:?}");
    let empty = plan(&NetworkSettings::default(), None, DEBIAN, &config).unwrap();
    let mut written: Vec<&str> = present(&full)[2..].to_vec();
    let mut taken_back = absent(&empty);
    written.sort_unstable();
    taken_back.sort_unstable();
    assert_eq!(written, taken_back);
}

#[test]
fn static_to_dhcp_and_ntp_cleared_plan_those_files_absent() {
    let before = plan(&full_static(), None, DEBIAN, &HostConfig::default()).unwrap();
    assert!(!find(&before, "/etc/systemd/network/10-ovaboot.network").is_absent());
    assert!(!find(&before, "/etc/systemd/timesyncd.conf.d/ovaboot.conf").is_absent());
    // DHCP, NTP kept: only the network file goes.
    let dhcp = plan(
        &network(&[("guestinfo.ntp", "0.pool.ntp.org")]),
        None,
        DEBIAN,
        &HostConfig::default(),
    )
    .unwrap();
    assert!(find(&dhcp, "/etc/systemd/network/10-ovaboot.network").is_absent());
    assert!(!find(&dhcp, "/etc/systemd/timesyncd.conf.d/ovaboot.conf").is_absent());
    // Static kept, NTP cleared: only the drop-in goes.
    let no_ntp = plan(
        &network(&[
            ("guestinfo.ipaddress", "192.168.10.20"),
            ("guestinfo.netmask", "24"),
        ]),
        None,
        DEBIAN,
        &HostConfig::default(),
    )
    .unwrap();
    assert!(!find(&no_ntp, "/etc/systemd/network/10-ovaboot.network").is_absent());
    assert!(find(&no_ntp, "/etc/systemd/timesyncd.conf.d/ovaboot.conf").is_absent());
}

#[test]
fn planning_twice_gives_the_same_files() {
    let p = proxy(&[("guestinfo.http_proxy", "http://proxy:3128")]);
    let network = full_static();
    let first = plan(&network, Some(&p), CLOUD, &HostConfig::default()).unwrap();
    let hosts = text(find(&first, "/etc/hosts")).to_string();
    let second = plan(&network, Some(&p), &hosts, &HostConfig::default()).unwrap();
    assert_eq!(first, second);
}

mod proxy;
