use super::*;
use crate::secret::Secret;

fn props(pairs: &[(&str, &str)]) -> Properties {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), PropertyValue::Plain(v.to_string())))
        .collect()
}

fn parse(pairs: &[(&str, &str)]) -> Result<NetworkSettings, NetworkError> {
    NetworkSettings::from_properties(&props(pairs))
}

fn parse_static_ok(pairs: &[(&str, &str)]) -> StaticNetwork {
    parse(pairs).unwrap().static_network.unwrap()
}

fn error(pairs: &[(&str, &str)]) -> String {
    parse(pairs).unwrap_err().to_string()
}

const BASE: [(&str, &str); 2] = [
    ("guestinfo.ipaddress", "192.168.10.20"),
    ("guestinfo.netmask", "24"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v = BASE.to_vec();
    v.extend_from_slice(extra);
    v
}

#[test]
fn nothing_set_or_all_blank_means_dhcp() {
    assert_eq!(parse(&[]).unwrap(), NetworkSettings::default());
    // What the vSphere wizard sends when the admin leaves the network page blank.
    let blank = parse(&[
        ("guestinfo.ipaddress", ""),
        ("guestinfo.netmask", ""),
        ("guestinfo.gateway", " "),
        ("guestinfo.dns", ""),
        ("guestinfo.domain", ""),
        ("guestinfo.ntp", ""),
    ])
    .unwrap();
    assert_eq!(blank, NetworkSettings::default());
}

#[test]
fn full_static_configuration() {
    let net = parse(&with(&[
        ("guestinfo.gateway", "192.168.10.1"),
        (
            "guestinfo.dns",
            "192.168.10.2, 1.1.1.1 2606:4700:4700::1111",
        ),
        ("guestinfo.domain", "Lab.Example.com. example.com"),
        ("guestinfo.ntp", "pool.ntp.org,192.168.10.3"),
    ]))
    .unwrap();
    let s = net.static_network.unwrap();
    assert_eq!(s.address, "192.168.10.20".parse::<IpAddr>().unwrap());
    assert_eq!(s.prefix, 24);
    assert_eq!(s.gateway, Some("192.168.10.1".parse().unwrap()));
    assert_eq!(
        s.dns,
        ["192.168.10.2", "1.1.1.1", "2606:4700:4700::1111"].map(|a| a.parse::<IpAddr>().unwrap())
    );
    assert_eq!(s.domains, ["lab.example.com", "example.com"]);
    assert_eq!(
        net.ntp,
        [
            NtpServer::Name("pool.ntp.org".into()),
            NtpServer::Address("192.168.10.3".parse().unwrap())
        ]
    );
}

#[test]
fn netmask_accepts_prefix_veba_form_and_dotted_mask() {
    for mask in [
        "24",
        " 24 ",
        "/24",
        "24 (255.255.255.0)",
        "24(255.255.255.0)",
        "255.255.255.0",
    ] {
        let s = parse_static_ok(&[
            ("guestinfo.ipaddress", "192.168.10.20"),
            ("guestinfo.netmask", mask),
        ]);
        assert_eq!(s.prefix, 24, "{mask}");
    }
    let s = parse_static_ok(&[
        ("guestinfo.ipaddress", "10.1.2.3"),
        ("guestinfo.netmask", "19 (255.255.224.0)"),
    ]);
    assert_eq!(s.prefix, 19);
    let s = parse_static_ok(&[
        ("guestinfo.ipaddress", "10.1.2.3"),
        ("guestinfo.netmask", "0"),
    ]);
    assert_eq!(s.prefix, 0);
    let s = parse_static_ok(&[
        ("guestinfo.ipaddress", "10.1.2.3"),
        ("guestinfo.netmask", "32"),
    ]);
    assert_eq!(s.prefix, 32);
}

#[test]
fn netmask_errors_name_the_key_and_the_problem() {
    let e = |mask| {
        error(&[
            ("guestinfo.ipaddress", "192.168.10.20"),
            ("guestinfo.netmask", mask),
        ])
    };
    assert_eq!(
        e("24 (255.255.0.0)"),
        "guestinfo.netmask: \"24 (255.255.0.0)\": prefix length /24 and mask 255.255.0.0 disagree (the mask is /16)"
    );
    assert_eq!(
        e("33"),
        "guestinfo.netmask: \"33\": the prefix length must be a number from 0 to 32"
    );
    assert_eq!(
        e("-1"),
        "guestinfo.netmask: \"-1\": the prefix length must be a number from 0 to 32"
    );
    // Rust's integer parser takes a leading '+'; a netmask field must not.
    for signed in ["+24", "/+24", "+24 (255.255.255.0)"] {
        assert_eq!(
            e(signed),
            format!(
                "guestinfo.netmask: {signed:?}: the prefix length must be a number from 0 to 32"
            )
        );
    }
    assert_eq!(
        e("255.0.255.0"),
        "guestinfo.netmask: \"255.0.255.0\": 255.0.255.0 is not a valid netmask (its one bits must be contiguous)"
    );
    assert_eq!(
        e("24 (255.255.255.0"),
        "guestinfo.netmask: \"24 (255.255.255.0\": the dotted mask in parentheses is not closed with ')'"
    );
    assert_eq!(
        e("255.255.255"),
        "guestinfo.netmask: \"255.255.255\": the dotted mask is not a netmask like 255.255.255.0"
    );
    assert_eq!(
        error(&[("guestinfo.ipaddress", "192.168.10.20")]),
        "guestinfo.netmask: is required with a static guestinfo.ipaddress (a prefix length such as 24)"
    );
}

#[test]
fn ipaddress_errors() {
    let e = |ip| error(&[("guestinfo.ipaddress", ip), ("guestinfo.netmask", "24")]);
    assert_eq!(
        e("192.168.10.256"),
        "guestinfo.ipaddress: \"192.168.10.256\" is not an IPv4 or IPv6 address"
    );
    assert_eq!(
        e("192.168.10.20/24"),
        "guestinfo.ipaddress: \"192.168.10.20/24\" is not an IPv4 or IPv6 address; give the prefix length in guestinfo.netmask, not here"
    );
    assert!(
        e("127.0.0.1").starts_with("guestinfo.ipaddress: 127.0.0.1 is not a usable host address")
    );
    assert!(e("0.0.0.0").starts_with("guestinfo.ipaddress: 0.0.0.0 is not a usable host address"));
    assert_eq!(
        e("192.168.10.0"),
        "guestinfo.ipaddress: 192.168.10.0 is the network address of 192.168.10.0/24; choose a host address"
    );
    assert_eq!(
        e("192.168.10.255"),
        "guestinfo.ipaddress: 192.168.10.255 is the broadcast address of 192.168.10.0/24; choose a host address"
    );
}

#[test]
fn point_to_point_prefixes_have_no_network_or_broadcast_address() {
    // RFC 3021: both addresses of a /31 are hosts.
    let s = parse_static_ok(&[
        ("guestinfo.ipaddress", "10.0.0.0"),
        ("guestinfo.netmask", "31"),
        ("guestinfo.gateway", "10.0.0.1"),
    ]);
    assert_eq!(s.gateway, Some("10.0.0.1".parse().unwrap()));
}

#[test]
fn gateway_must_be_a_host_inside_the_subnet() {
    let e = |gw| error(&with(&[("guestinfo.gateway", gw)]));
    assert_eq!(
        e("192.168.11.1"),
        "guestinfo.gateway: 192.168.11.1 is outside the subnet 192.168.10.0/24; give the address of the router on the appliance's subnet (192.168.10.1 to 192.168.10.254), or correct guestinfo.netmask if the subnet is wider"
    );
    assert_eq!(
        e("192.168.10.0"),
        "guestinfo.gateway: 192.168.10.0 is the network address of 192.168.10.0/24, not a host; give the address of the router on the appliance's subnet"
    );
    assert_eq!(
        e("192.168.10.255"),
        "guestinfo.gateway: 192.168.10.255 is the broadcast address of 192.168.10.0/24, not a host; give the address of the router on the appliance's subnet"
    );
    assert_eq!(
        e("192.168.10.20"),
        "guestinfo.gateway: 192.168.10.20 is the appliance's own address; give the address of the router on the appliance's subnet"
    );
    assert_eq!(
        e("gw.example.com"),
        "guestinfo.gateway: \"gw.example.com\" is not an IP address"
    );
    assert_eq!(
        e("fe80::1"),
        "guestinfo.gateway: fe80::1 is not of the same IP version as 192.168.10.20; give the address of the router on the appliance's subnet"
    );
    // A wider subnet takes the same gateway.
    let s = parse_static_ok(&[
        ("guestinfo.ipaddress", "192.168.10.20"),
        ("guestinfo.netmask", "16 (255.255.0.0)"),
        ("guestinfo.gateway", "192.168.11.1"),
    ]);
    assert_eq!(s.gateway, Some("192.168.11.1".parse().unwrap()));
}

#[test]
fn ipv6_static_address_with_global_or_link_local_gateway() {
    let s = parse_static_ok(&[
        ("guestinfo.ipaddress", "2001:db8:10::20"),
        ("guestinfo.netmask", "64"),
        ("guestinfo.gateway", "2001:db8:10::1"),
    ]);
    assert_eq!(s.prefix, 64);
    let s = parse_static_ok(&[
        ("guestinfo.ipaddress", "2001:db8:10::20"),
        ("guestinfo.netmask", "64"),
        ("guestinfo.gateway", "fe80::1"),
    ]);
    assert_eq!(s.gateway, Some("fe80::1".parse().unwrap()));
    let e = |pairs: &[(&str, &str)]| error(pairs);
    assert_eq!(
        e(&[
            ("guestinfo.ipaddress", "2001:db8:10::20"),
            ("guestinfo.netmask", "129")
        ]),
        "guestinfo.netmask: \"129\": the prefix length must be a number from 0 to 128"
    );
    assert_eq!(
        e(&[
            ("guestinfo.ipaddress", "2001:db8:10::20"),
            ("guestinfo.netmask", "255.255.255.0")
        ]),
        "guestinfo.netmask: \"255.255.255.0\": a dotted mask is IPv4 only; give a prefix length 0–128"
    );
    assert_eq!(
        e(&[
            ("guestinfo.ipaddress", "2001:db8:10::20"),
            ("guestinfo.netmask", "64"),
            ("guestinfo.gateway", "2001:db8:11::1"),
        ]),
        "guestinfo.gateway: 2001:db8:11::1 is outside the subnet 2001:db8:10::/64; give the address of the router on the appliance's subnet (2001:db8:10::1 to 2001:db8:10:0:ffff:ffff:ffff:ffff), or correct guestinfo.netmask if the subnet is wider"
    );
}

#[test]
fn dns_servers_must_be_addresses() {
    let e = |dns| error(&with(&[("guestinfo.dns", dns)]));
    assert_eq!(
        e("192.168.10.2 dns.example.com"),
        "guestinfo.dns: \"dns.example.com\" is not an IP address (DNS servers are given as addresses, separated by spaces or commas)"
    );
    assert_eq!(
        e("224.0.0.1"),
        "guestinfo.dns: 224.0.0.1 cannot be a DNS server"
    );
    let s = parse_static_ok(&with(&[
        ("guestinfo.gateway", "192.168.10.1"),
        ("guestinfo.dns", "1.1.1.1,,1.1.1.1"),
    ]));
    assert_eq!(
        s.dns,
        ["1.1.1.1".parse::<IpAddr>().unwrap()],
        "duplicates dropped"
    );
}

#[test]
fn search_domains_are_validated_dns_names() {
    let e = |d| error(&with(&[("guestinfo.domain", d)]));
    assert_eq!(
        e("lab_example.com"),
        "guestinfo.domain: \"lab_example.com\" is not a valid domain name: it has the character '_'; only letters, digits, '-' and '.' are allowed"
    );
    assert_eq!(
        e("lab..example.com"),
        "guestinfo.domain: \"lab..example.com\" is not a valid domain name: it has an empty label (two dots in a row, or a leading dot)"
    );
    assert_eq!(
        e("-lab.example.com"),
        "guestinfo.domain: \"-lab.example.com\" is not a valid domain name: it has a label that starts or ends with '-'"
    );
    assert_eq!(
        e("10.0.0.1"),
        "guestinfo.domain: \"10.0.0.1\" is not a valid domain name: it is an IP address, not a name"
    );
    let long_label = format!("{}.com", "a".repeat(64));
    assert!(e(Box::leak(long_label.into_boxed_str())).contains("a label of 64 characters"));
    // A single-label search domain is fine.
    assert_eq!(
        parse_static_ok(&with(&[("guestinfo.domain", "corp")])).domains,
        ["corp"]
    );
}

#[test]
fn ntp_takes_names_and_addresses_and_works_with_dhcp() {
    let net = parse(&[("guestinfo.ntp", "0.pool.ntp.org 10.0.0.5, ntp")]).unwrap();
    assert_eq!(net.static_network, None);
    assert_eq!(
        net.ntp.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["0.pool.ntp.org", "10.0.0.5", "ntp"]
    );
    assert_eq!(
        error(&[("guestinfo.ntp", "time.example.com ntp_1")]),
        "guestinfo.ntp: \"ntp_1\" is neither an IP address nor a valid host name: it has the character '_'; only letters, digits, '-' and '.' are allowed"
    );
    assert_eq!(
        error(&[("guestinfo.ntp", "0.0.0.0")]),
        "guestinfo.ntp: 0.0.0.0 cannot be an NTP server"
    );
}

#[test]
fn static_only_keys_without_ipaddress_are_refused() {
    for key in ["guestinfo.gateway", "guestinfo.dns", "guestinfo.domain"] {
        let e = error(&[("guestinfo.ipaddress", ""), (key, "24")]);
        assert_eq!(
            e,
            format!(
                "{key}: is set but guestinfo.ipaddress is empty; it only applies to a static address (with DHCP the DHCP server supplies it)"
            )
        );
    }
}

#[test]
fn netmask_without_ipaddress_is_ignored_as_a_wizard_default() {
    let net = parse(&[
        ("guestinfo.ipaddress", ""),
        ("guestinfo.netmask", "24 (255.255.255.0)"),
    ])
    .unwrap();
    assert_eq!(net, NetworkSettings::default());
}

#[test]
fn password_typed_values_are_not_quoted_in_errors() {
    let mut p = props(&[("guestinfo.netmask", "24")]);
    p.insert(
        "guestinfo.ipaddress".into(),
        PropertyValue::Secret(Secret::new("s3cr3t-not-an-ip".into())),
    );
    let e = NetworkSettings::from_properties(&p)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "guestinfo.ipaddress: <redacted> is not an IPv4 or IPv6 address"
    );
}

#[test]
fn without_a_gateway_a_server_off_the_subnet_is_refused_naming_its_property() {
    assert_eq!(
        error(&with(&[("guestinfo.dns", "192.168.10.2 10.0.0.53")])),
        "guestinfo.dns: 10.0.0.53 is outside 192.168.10.0/24 and guestinfo.gateway is not set, so the \
         appliance cannot reach it; set guestinfo.gateway, or give a server in 192.168.10.0/24"
    );
    assert_eq!(
        error(&with(&[("guestinfo.ntp", "pool.ntp.org 10.0.0.123")])),
        "guestinfo.ntp: 10.0.0.123 is outside 192.168.10.0/24 and guestinfo.gateway is not set, so the \
         appliance cannot reach it; set guestinfo.gateway, or give a server in 192.168.10.0/24"
    );
    // Another family is off the subnet too.
    assert!(
        error(&with(&[("guestinfo.dns", "2001:db8::53")]))
            .starts_with("guestinfo.dns: 2001:db8::53 is outside")
    );
}

#[test]
fn without_a_gateway_servers_on_the_subnet_or_by_name_are_kept() {
    // An isolated network: the servers are on it (or named, resolved there).
    let network = parse(&with(&[
        ("guestinfo.dns", "192.168.10.2 127.0.0.1"),
        ("guestinfo.ntp", "192.168.10.3 ntp.lab.example.com"),
    ]))
    .unwrap();
    let s = network.static_network.unwrap();
    assert_eq!(s.gateway, None);
    assert_eq!(s.dns.len(), 2);
    assert_eq!(network.ntp.len(), 2);
    // With a gateway anything routable goes.
    let routed = parse(&with(&[
        ("guestinfo.gateway", "192.168.10.1"),
        ("guestinfo.dns", "10.0.0.53"),
        ("guestinfo.ntp", "10.0.0.123"),
    ]));
    assert!(routed.is_ok(), "{routed:?}");
    // DHCP: no subnet known here, nothing to judge.
    assert!(parse(&[("guestinfo.ntp", "10.0.0.123")]).is_ok());
}

/// A credential pasted into a field that is not a URL: the error names the
/// property and the fault, never the value (it reaches state.json and the banner).
#[test]
fn a_value_that_carries_a_credential_is_never_quoted() {
    for (key, value) in [
        (KEY_NTP, "svc:Hunter2xyz@ntp.example.com"),
        // The password's space splits the URL: neither half may show.
        (KEY_NTP, "http://svc:Hunter2xyz pass@ntp.example.com"),
        (KEY_DNS, "svc:Hunter2xyz@192.168.10.2"),
        (KEY_DNS, "192.168.10.2 svc:Hunter2xyz"),
        (KEY_DOMAIN, "svc:Hunter2xyz"),
        (KEY_DOMAIN, "lab.example.com svc:Hunter2xyz@x"),
        (KEY_GATEWAY, "svc:Hunter2xyz@192.168.10.1"),
        (KEY_IPADDRESS, "svc:Hunter2xyz@192.168.10.20"),
    ] {
        let mut pairs = with(&[]);
        pairs.retain(|(k, _)| *k != key);
        pairs.push((key, value));
        let e = error(&pairs);
        assert!(e.starts_with(&format!("{key}: ")), "{e}");
        assert!(
            !e.contains("Hunter2") && !e.contains("svc"),
            "{key} = {value:?} leaked: {e}"
        );
        assert!(e.contains(crate::show::WITHHELD), "{e}");
    }
}

#[test]
fn root_password_pasted_into_a_network_field_is_not_quoted() {
    let mut properties = props(&with(&[("guestinfo.domain", "Correct_Horse9")]));
    properties.insert(
        "guestinfo.root_password".into(),
        PropertyValue::Secret(Secret::new("Correct_Horse9".into())),
    );
    let e = NetworkSettings::from_properties(&properties)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("guestinfo.domain: "), "{e}");
    assert!(!e.contains("Correct_Horse9"), "{e}");
}

#[test]
fn an_ordinary_mistake_is_still_quoted_escaped() {
    let e = error(&with(&[("guestinfo.ntp", "ntp.example.com:123")]));
    assert!(e.contains("\"ntp.example.com:123\""), "{e}");
    let e = error(&with(&[("guestinfo.domain", "lab\u{1b}[2J.example.com")]));
    assert!(e.contains("\"lab\\u{1b}[2J.example.com\""), "{e}");
    assert!(!e.contains('\u{1b}'), "{e}");
}
