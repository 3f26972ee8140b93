use super::*;

fn parse(s: &str) -> Result<Hostname, HostnameError> {
    s.parse()
}

#[test]
fn accepts_fqdn_lowercases_and_strips_one_trailing_dot() {
    let h = parse("VEBA01.Lab.Example.COM.").unwrap();
    assert_eq!(h.fqdn(), "veba01.lab.example.com");
    assert_eq!(h.short(), "veba01");
}

#[test]
fn refuses_what_rfc_1123_forbids() {
    assert_eq!(parse(""), Err(HostnameError::Empty));
    assert_eq!(parse("veba01"), Err(HostnameError::NotQualified));
    assert_eq!(parse("veba01..example.com"), Err(HostnameError::EmptyLabel));
    assert_eq!(parse("example.com.."), Err(HostnameError::EmptyLabel));
    assert_eq!(parse("-veba.example.com"), Err(HostnameError::HyphenAtEdge));
    assert_eq!(parse("veba-.example.com"), Err(HostnameError::HyphenAtEdge));
    assert_eq!(
        parse("veba_01.example.com"),
        Err(HostnameError::BadCharacter('_'))
    );
    assert_eq!(parse("veba01.example.123"), Err(HostnameError::NumericTld));
    assert_eq!(
        parse(&format!("{}.com", "a".repeat(64))),
        Err(HostnameError::LabelTooLong(64))
    );
    let long = format!("{}.com", vec!["a".repeat(63); 4].join("."));
    assert_eq!(parse(&long), Err(HostnameError::TooLong(long.len())));
}

#[test]
fn accepts_limits_exactly() {
    let label63 = "a".repeat(63);
    assert!(parse(&format!("{label63}.com")).is_ok());
    // 253 characters in all: 3 labels of 63, one of 61, and 3 dots.
    let name = format!("{label63}.{label63}.{label63}.{}", "b".repeat(61));
    assert_eq!(name.len(), 253);
    assert!(parse(&name).is_ok());
    assert!(parse("1and1.example.com").is_ok());
}

#[test]
fn an_address_is_told_it_is_an_address_not_a_name() {
    for address in ["10.0.0.20", "192.168.1.10.", "fe80::1", "[2001:db8::5]"] {
        assert_eq!(parse(address), Err(HostnameError::AddressForHostname));
    }
    let line = HostnameError::AddressForHostname.to_string();
    assert!(line.contains("is an IP address, not a host name"), "{line}");
    assert!(line.contains("guestinfo.ipaddress"), "{line}");
    // Elsewhere (search domains, NTP, proxies) without the hint about the host name.
    assert_eq!(dns_name("10.0.0.20"), Err(HostnameError::Address));
}

#[test]
fn other_names_follow_the_same_rules_but_may_be_one_label() {
    assert_eq!(dns_name("Corp.").unwrap(), "corp");
    assert_eq!(dns_name("ntp_1"), Err(HostnameError::BadCharacter('_')));
    assert_eq!(dns_name("a..b"), Err(HostnameError::EmptyLabel));
}
