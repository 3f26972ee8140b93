use super::*;

fn props(pairs: &[(&str, &str)]) -> Properties {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), PropertyValue::Plain(v.to_string())))
        .collect()
}

fn parse(pairs: &[(&str, &str)]) -> Result<Option<ProxySettings>, ProxyError> {
    ProxySettings::from_properties(&props(pairs))
}

fn http_error(url: &str) -> String {
    parse(&[("guestinfo.http_proxy", url)])
        .unwrap_err()
        .to_string()
}

#[test]
fn no_proxy_set_means_none() {
    assert_eq!(parse(&[]).unwrap(), None);
    let blank = [
        ("guestinfo.http_proxy", ""),
        ("guestinfo.https_proxy", ""),
        ("guestinfo.no_proxy", ""),
    ];
    assert_eq!(parse(&blank).unwrap(), None);
    // A lone no_proxy is validated but has nothing to act on.
    assert_eq!(
        parse(&[("guestinfo.no_proxy", ".example.com")]).unwrap(),
        None
    );
    assert!(parse(&[("guestinfo.no_proxy", "bad_entry")]).is_err());
}

#[test]
fn plain_urls_are_normalised_and_shown() {
    let p = parse(&[
        ("guestinfo.http_proxy", " HTTP://Proxy.Example.com:3128/ "),
        ("guestinfo.https_proxy", "https://10.0.0.8"),
    ])
    .unwrap()
    .unwrap();
    let http = p.http.as_ref().unwrap();
    assert_eq!(http.expose(), "http://proxy.example.com:3128");
    assert_eq!(http.redacted(), "http://proxy.example.com:3128");
    assert!(!http.is_secret());
    assert_eq!(p.https.as_ref().unwrap().expose(), "https://10.0.0.8");
    assert!(!p.is_secret());
    let v6 = ProxyUrl::parse("http://[2001:db8::8]:8080", false).unwrap();
    assert_eq!(v6.expose(), "http://[2001:db8::8]:8080");
    let short = ProxyUrl::parse("http://proxy:3128", false).unwrap();
    assert_eq!(short.expose(), "http://proxy:3128");
}

#[test]
fn credentials_make_the_url_secret_and_are_never_shown() {
    let p = parse(&[(
        "guestinfo.http_proxy",
        "http://svc-veba:S3cr%40t!pw@proxy.example.com:3128",
    )])
    .unwrap()
    .unwrap();
    let url = p.http.as_ref().unwrap();
    assert!(url.is_secret());
    assert!(p.is_secret());
    assert_eq!(
        url.expose(),
        "http://svc-veba:S3cr%40t!pw@proxy.example.com:3128"
    );
    assert_eq!(url.redacted(), "http://svc-veba:***@proxy.example.com:3128");
    assert_eq!(
        url.to_string(),
        "http://svc-veba:***@proxy.example.com:3128"
    );
    let debug = format!("{p:?} {p:#?}");
    assert!(!debug.contains("S3cr"), "{debug}");
    assert!(debug.contains("http://svc-veba:***@proxy.example.com:3128"));

    // A user part alone is treated as a token.
    let token = ProxyUrl::parse("https://ghp_abcdef@proxy:3128", false).unwrap();
    assert!(token.is_secret());
    assert_eq!(token.redacted(), "https://***@proxy:3128");
    assert!(!format!("{token:?}").contains("ghp_abcdef"));
}

#[test]
fn password_typed_property_is_secret_even_without_credentials() {
    let mut p = Properties::new();
    p.insert(
        "guestinfo.https_proxy".into(),
        PropertyValue::Secret(Secret::new("http://internal-proxy.corp:8080".into())),
    );
    let s = ProxySettings::from_properties(&p).unwrap().unwrap();
    let url = s.https.as_ref().unwrap();
    assert!(url.is_secret());
    assert_eq!(url.redacted(), "<redacted>");
    assert!(!format!("{s:?}").contains("internal-proxy"));
}

#[test]
fn bad_urls_name_the_key_and_never_echo_the_value() {
    assert_eq!(
        http_error("proxy.example.com:3128"),
        "guestinfo.http_proxy: must be a URL with a scheme, like http://proxy.example.com:3128"
    );
    assert_eq!(
        http_error("socks5://proxy:1080"),
        "guestinfo.http_proxy: the scheme is not supported; use http:// or https:// (SOCKS proxies are not supported)"
    );
    assert_eq!(
        http_error("http://proxy:3128/path"),
        "guestinfo.http_proxy: must not have a path, query or fragment (only scheme://host:port)"
    );
    assert_eq!(
        http_error("http://proxy:3128?x=1"),
        "guestinfo.http_proxy: must not have a path, query or fragment (only scheme://host:port)"
    );
    assert_eq!(
        http_error("http://proxy:99999"),
        "guestinfo.http_proxy: the port is not a number from 1 to 65535"
    );
    assert_eq!(
        http_error("http://proxy:0"),
        "guestinfo.http_proxy: the port is not a number from 1 to 65535"
    );
    assert_eq!(
        http_error("http://proxy:"),
        "guestinfo.http_proxy: the port is not a number from 1 to 65535"
    );
    assert_eq!(http_error("http://"), "guestinfo.http_proxy: has no host");
    assert_eq!(
        http_error("http://pro_xy:3128"),
        "guestinfo.http_proxy: the host is not valid: it has the character '_'; only letters, digits, '-' and '.' are allowed"
    );
    assert_eq!(
        http_error("http://proxy .example.com"),
        "guestinfo.http_proxy: must not contain spaces or control characters"
    );
    assert_eq!(
        http_error("http://[2001:db8::8:3128"),
        "guestinfo.http_proxy: the IPv6 address is not closed with ']'"
    );
    let e = parse(&[("guestinfo.https_proxy", "ftp://proxy")]).unwrap_err();
    assert_eq!(e.key, "guestinfo.https_proxy");
}

#[test]
fn mangled_credentials_are_refused_without_leaking_them() {
    let cases = [
        // '@' in the password must be %40.
        (
            "http://admin:p@ssw0rd-Xy9@proxy:3128",
            "the user name or password has a character that must be percent-encoded (e.g. '@' as %40, '/' as %2F, '#' as %23, '?' as %3F)",
        ),
        (
            "http://admin:pass%zzXy9@proxy:3128",
            "the user name or password has a '%' that is not followed by two hex digits",
        ),
        (
            "http://:passXy9@proxy:3128",
            "the user name before '@' is empty",
        ),
        // A forgotten host: the password would parse as a port.
        (
            "http://admin:passXy9",
            "the port is not a number from 1 to 65535",
        ),
        // '/' in the password ends the authority: still a password to encode.
        (
            "http://admin:pa/ssXy9@proxy:3128",
            "the user name or password has a character that must be percent-encoded (e.g. '@' as %40, '/' as %2F, '#' as %23, '?' as %3F)",
        ),
    ];
    for (url, problem) in cases {
        let e = http_error(url);
        assert_eq!(e, format!("guestinfo.http_proxy: {problem}"), "{url}");
        assert!(!e.contains("Xy9"), "{e}");
    }
}

#[test]
fn no_proxy_entries_are_validated_and_normalised() {
    let p = parse(&[
        ("guestinfo.http_proxy", "http://proxy:3128"),
        (
            "guestinfo.no_proxy",
            "Example.com, .corp.example.com *.lab.example.com,10.0.0.0/8 192.168.1.5 fd00::/8 vcenter *",
        ),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(
        p.no_proxy,
        [
            "example.com",
            ".corp.example.com",
            ".lab.example.com",
            "10.0.0.0/8",
            "192.168.1.5",
            "fd00::/8",
            "vcenter",
            "*"
        ]
    );
    let e = |entry: &str| {
        parse(&[
            ("guestinfo.http_proxy", "http://proxy:3128"),
            ("guestinfo.no_proxy", entry),
        ])
        .unwrap_err()
        .to_string()
    };
    assert_eq!(
        e("10.0.0.0/33"),
        "guestinfo.no_proxy: \"10.0.0.0/33\" is not a valid CIDR range (the prefix length must be 0–32)"
    );
    assert_eq!(
        e("10.0.0/8"),
        "guestinfo.no_proxy: \"10.0.0/8\" is not a valid CIDR range (the part before '/' is not an IP address)"
    );
    assert_eq!(
        e("example.com, vcenter.corp:443"),
        "guestinfo.no_proxy: \"vcenter.corp:443\" is not a host name, domain, IP address or CIDR range: it has the character ':'; only letters, digits, '-' and '.' are allowed"
    );
    // `name:digits` may as well be `user:PIN`: named by position, not quoted.
    assert_eq!(
        e("example.com, vcenter:443"),
        "guestinfo.no_proxy: entry 2 (not shown: it looks like it carries a credential) is not a host name, domain, IP address or CIDR range: it has the character ':'; only letters, digits, '-' and '.' are allowed"
    );
}

#[test]
fn a_password_with_slash_hash_or_question_mark_gets_the_encoding_advice() {
    for url in [
        "http://user:Pa/ss@proxy:3128",
        "http://user:Pa#ss@proxy:3128",
        "http://user:Pa?ss@proxy:3128",
        "http://user:Pa@ss@proxy:3128/",
    ] {
        let line = http_error(url);
        assert!(
            line.contains("must be percent-encoded") && line.contains("'/' as %2F"),
            "{url}: {line}"
        );
        assert!(!line.contains("Pa") && !line.contains("ss@"), "{line}");
    }
    // Encoded, it is accepted and shown masked.
    let url = ProxyUrl::parse("http://user:Pa%2Fss@proxy:3128", false).unwrap();
    assert_eq!(url.redacted(), "http://user:***@proxy:3128");
}

#[test]
fn a_no_proxy_entry_with_an_at_sign_is_named_by_position_never_quoted() {
    let e = |list: &str| {
        parse(&[
            ("guestinfo.http_proxy", "http://proxy:3128"),
            ("guestinfo.no_proxy", list),
        ])
        .unwrap_err()
        .to_string()
    };
    let line = e("localhost, svc-veba:Hunter2@vcenter.corp");
    assert!(
        line.starts_with("guestinfo.no_proxy: entry 2 has an '@'"),
        "{line}"
    );
    assert!(
        !line.contains("Hunter2") && !line.contains("svc-veba"),
        "{line}"
    );
    // Another bad entry of a list holding '@' is not quoted either.
    let line = e("bad_entry svc:Hunter2@x");
    assert!(
        line.starts_with(
            "guestinfo.no_proxy: entry 1 (not shown: it looks like it carries a credential) is not"
        ),
        "{line}"
    );
    assert!(
        !line.contains("bad_entry") && !line.contains("Hunter2"),
        "{line}"
    );
    // Also without a proxy set (the list is still validated).
    let line = parse(&[("guestinfo.no_proxy", "user:pw@host")])
        .unwrap_err()
        .to_string();
    assert!(line.contains("entry 1") && !line.contains("pw@"), "{line}");
    // A signed CIDR prefix is not a prefix.
    assert!(e("10.0.0.0/+8").contains("the prefix length must be 0–32"));
}

#[test]
fn a_url_secret_for_its_credentials_is_shown_masked_one_secret_by_its_key_is_not() {
    let secret = |url: &str| PropertyValue::Secret(Secret::new(url.into()));
    let mut p = Properties::new();
    // What the document parser makes of a URL with credentials in it.
    p.insert(
        "guestinfo.http_proxy".into(),
        secret("http://svc:Hunter2@proxy.example.com:3128"),
    );
    let s = ProxySettings::from_properties(&p).unwrap().unwrap();
    assert_eq!(
        s.http.as_ref().unwrap().redacted(),
        "http://svc:***@proxy.example.com:3128"
    );
    // A key named like a secret keeps the whole URL hidden.
    let mut p = Properties::new();
    p.insert(
        "guestinfo.http_proxy_password".into(),
        secret("http://svc:Hunter2@proxy.example.com:3128"),
    );
    let url = proxy_property(&p, "guestinfo.http_proxy_password")
        .unwrap()
        .unwrap();
    assert_eq!(url.redacted(), REDACTED);
}

/// Found by the fuzzer: root's password pasted as a proxy URL's user name
/// was shown in the masked URL (only the password part was masked).
#[test]
fn another_propertys_secret_as_the_user_name_is_masked_too() {
    let mut p = props(&[("guestinfo.http_proxy", "http://Correct-Horse9:@proxy:3128")]);
    p.insert(
        "guestinfo.root_password".into(),
        PropertyValue::Secret(Secret::new("Correct-Horse9".into())),
    );
    let proxy = ProxySettings::from_properties(&p).unwrap().unwrap();
    let url = proxy.http.unwrap();
    assert_eq!(url.redacted(), "http://***@proxy:3128");
    assert_eq!(url.expose(), "http://Correct-Horse9:@proxy:3128");
    // An ordinary user name stays readable.
    let p = props(&[("guestinfo.http_proxy", "http://svc:pw@proxy:3128")]);
    let url = ProxySettings::from_properties(&p)
        .unwrap()
        .unwrap()
        .http
        .unwrap();
    assert_eq!(url.redacted(), "http://svc:***@proxy:3128");
}
