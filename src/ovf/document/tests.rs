use super::*;
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/ovf-env/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn plain(props: &Properties, key: &str) -> String {
    match props.get(key) {
        Some(PropertyValue::Plain(v)) => v.clone(),
        other => panic!("{key}: expected a plain value, got {other:?}"),
    }
}

/// Every error's Display and Debug, for leak checks.
fn shown(e: &DocumentError) -> String {
    format!("{e} {e:?}")
}

#[test]
fn vcenter_document_with_ve_namespace_yields_every_property() {
    let props = parse(&fixture("vcenter-with-ve-namespace.xml")).unwrap();
    assert_eq!(props.len(), 12);
    assert_eq!(
        plain(&props, "guestinfo.hostname"),
        "veba01.lab.example.com"
    );
    assert_eq!(plain(&props, "guestinfo.netmask"), "24 (255.255.255.0)");
    assert_eq!(plain(&props, "guestinfo.http_proxy"), "");
    // &#10; character references survive as real newlines: a PEM stays a PEM.
    assert_eq!(
        plain(&props, "guestinfo.tls_cert"),
        "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
    );
    let key = &props["guestinfo.tls_key"];
    assert!(key.is_secret());
    assert!(key.expose().contains("VCENTER-KEY-MATERIAL-0123456789"));
}

#[test]
fn vcenter_secret_is_redacted_in_debug_of_the_properties() {
    let props = parse(&fixture("vcenter-with-ve-namespace.xml")).unwrap();
    let debug = format!("{props:?} {props:#?}");
    assert!(!debug.contains("VCENTER-KEY-MATERIAL"), "{debug}");
    assert!(debug.contains(crate::secret::REDACTED));
    assert_eq!(
        props["guestinfo.tls_key"].display(),
        crate::secret::REDACTED
    );
}

#[test]
fn esxi_document_without_ve_namespace_is_read() {
    let props = parse(&fixture("esxi-unprefixed.xml")).unwrap();
    assert_eq!(props.len(), 3);
    assert_eq!(
        plain(&props, "guestinfo.hostname"),
        "esxi-appliance.example.org"
    );
    assert_eq!(plain(&props, "guestinfo.ipaddress"), "");
    // An empty secret is still classified as secret.
    assert!(props["guestinfo.tls_key"].is_secret());
}

#[test]
fn oe_prefixed_sections_are_the_same_as_unprefixed() {
    let props = parse(&fixture("oe-prefixed-sections.xml")).unwrap();
    assert_eq!(plain(&props, "guestinfo.hostname"), "prefixed.example.net");
    assert_eq!(plain(&props, "guestinfo.dns"), "192.0.2.53");
}

#[test]
fn elements_and_attributes_match_on_namespace_uri_not_prefix() {
    let props = parse(&fixture("unusual-prefix-same-namespace.xml")).unwrap();
    assert_eq!(plain(&props, "guestinfo.hostname"), "by-uri.example.com");
    assert_eq!(plain(&props, "guestinfo.domain"), "example.com");
    assert!(!props.contains_key("guestinfo.decoy"));
    assert_eq!(props.len(), 2);
}

#[test]
fn sibling_vapp_entities_are_not_read() {
    let props = parse(&fixture("vapp-with-sibling-entities.xml")).unwrap();
    assert_eq!(
        plain(&props, "guestinfo.hostname"),
        "appliance.vapp.example.com"
    );
    assert!(!props.contains_key("guestinfo.db_password"));
}

#[test]
fn entities_are_decoded_exactly_once_and_whitespace_is_kept() {
    let props = parse(&fixture("escaped-values-decoded-once.xml")).unwrap();
    assert_eq!(
        plain(&props, "guestinfo.no_proxy"),
        "&lt;local&gt;, .example.com"
    );
    assert_eq!(plain(&props, "guestinfo.domain"), r#"a <b> & "c" 'd'"#);
    assert_eq!(plain(&props, "guestinfo.ntp"), "  spaced  ");
    assert_eq!(plain(&props, "guestinfo.dns"), "line1\nline2\r\ntab\tend");
    // XML attribute-value normalisation: a literal newline becomes a space.
    assert_eq!(plain(&props, "guestinfo.http_proxy"), "literal newline");
}

#[test]
fn utf8_byte_order_mark_is_accepted() {
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend(fixture("esxi-unprefixed.xml"));
    assert_eq!(
        plain(&parse(&bytes).unwrap(), "guestinfo.hostname"),
        "esxi-appliance.example.org"
    );
}

#[test]
fn custom_classifier_decides_what_is_secret() {
    let props = parse_with(&fixture("oe-prefixed-sections.xml"), |k| {
        k == "guestinfo.dns"
    })
    .unwrap();
    assert!(props["guestinfo.dns"].is_secret());
    assert!(!props["guestinfo.hostname"].is_secret());
}

#[test]
fn doctype_with_external_entity_is_refused() {
    let err = parse(&fixture("doctype-external-entity-xxe.xml")).unwrap_err();
    assert_eq!(err, DocumentError::DtdRefused);
    assert!(err.to_string().contains("DOCTYPE"));
}

#[test]
fn billion_laughs_is_refused_before_expansion() {
    assert_eq!(
        parse(&fixture("billion-laughs.xml")),
        Err(DocumentError::DtdRefused)
    );
}

#[test]
fn document_over_one_mib_is_refused_before_parsing() {
    // Not even XML: the size check comes first.
    let bytes = vec![b'x'; MAX_DOCUMENT_BYTES + 1];
    assert_eq!(
        parse(&bytes),
        Err(DocumentError::TooLarge {
            size: MAX_DOCUMENT_BYTES + 1
        })
    );
    // Exactly at the limit the parser runs (and says why this is not XML).
    let at_limit = vec![b'x'; MAX_DOCUMENT_BYTES];
    assert!(matches!(
        parse(&at_limit),
        Err(DocumentError::NotXml { .. })
    ));
}

#[test]
fn not_xml_reports_line_and_column() {
    let err = parse(b"hostname=veba01\n").unwrap_err();
    assert!(
        matches!(
            err,
            DocumentError::NotXml {
                line: 1,
                column: 1,
                ..
            }
        ),
        "{err:?}"
    );
    let err = parse(b"<Environment>\n  <PropertySection>\n  </Wrong>\n</Environment>").unwrap_err();
    let DocumentError::NotXml { line, column, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!((line, column), (3, 3));
    assert!(err.to_string().contains("line 3, column 3"), "{err}");
}

#[test]
fn truncated_document_error_does_not_quote_the_secret() {
    let err = parse(&fixture("truncated-in-secret-value.xml")).unwrap_err();
    assert!(matches!(err, DocumentError::NotXml { .. }), "{err:?}");
    let shown = shown(&err);
    assert!(!shown.contains("TRUNCATED"), "{shown}");
    assert!(!shown.contains("MATERIAL"), "{shown}");
    assert!(!shown.contains("unknown"), "{shown}");
}

#[test]
fn ovf_descriptor_given_instead_of_environment_names_the_root() {
    let err = parse(&fixture("ovf-descriptor-instead-of-environment.xml")).unwrap_err();
    assert_eq!(
        err,
        DocumentError::WrongRoot {
            name: "Envelope".into(),
            namespace: NamespaceName(Some("http://schemas.dmtf.org/ovf/envelope/1".into())),
        }
    );
    assert!(
        err.to_string()
            .contains("<Envelope> in namespace http://schemas.dmtf.org/ovf/envelope/1")
    );
}

#[test]
fn environment_without_namespace_is_the_wrong_root() {
    let err = parse(&fixture("no-namespace-environment.xml")).unwrap_err();
    assert!(
        err.to_string().contains("<Environment> in no namespace"),
        "{err}"
    );
}

#[test]
fn missing_property_section_is_refused() {
    assert_eq!(
        parse(&fixture("no-property-section.xml")),
        Err(DocumentError::MissingPropertySection)
    );
}

#[test]
fn duplicate_key_is_named_without_its_value() {
    let err = parse(&fixture("duplicate-key.xml")).unwrap_err();
    assert_eq!(
        err,
        DocumentError::DuplicateKey {
            key: "guestinfo.tls_key".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "the OVF property guestinfo.tls_key appears more than once"
    );
    assert!(!shown(&err).contains("DUPLICATED-SECRET"));
}

#[test]
fn unqualified_key_attribute_is_a_property_without_key() {
    let err = parse(&fixture("property-with-unqualified-key.xml")).unwrap_err();
    assert_eq!(err, DocumentError::PropertyWithoutKey { line: 7 });
    assert!(!shown(&err).contains("UNKEYED-SECRET"));
}

#[test]
fn property_without_value_names_the_key() {
    let err = parse(&fixture("property-without-value.xml")).unwrap_err();
    assert_eq!(
        err,
        DocumentError::PropertyWithoutValue {
            key: "guestinfo.hostname".into()
        }
    );
}

fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bom {
        out.extend(if big_endian {
            [0xFE, 0xFF]
        } else {
            [0xFF, 0xFE]
        });
    }
    for unit in text.encode_utf16() {
        out.extend(if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    out
}

#[test]
fn utf16_documents_are_refused_with_the_encoding_named() {
    let text = String::from_utf8(fixture("esxi-unprefixed.xml")).unwrap();
    let expect =
        |bytes: Vec<u8>, found| assert_eq!(parse(&bytes), Err(DocumentError::NotUtf8 { found }));
    expect(utf16(&text, false, true), NotUtf8::Utf16Le);
    expect(utf16(&text, true, true), NotUtf8::Utf16Be);
    expect(utf16(&text, false, false), NotUtf8::Utf16Le);
    expect(utf16(&text, true, false), NotUtf8::Utf16Be);
    let err = parse(&utf16(&text, false, true)).unwrap_err();
    assert!(err.to_string().contains("UTF-16"), "{err}");
}

#[test]
fn latin1_bytes_are_refused_with_the_offset() {
    let mut bytes = br#"<?xml version="1.0" encoding="ISO-8859-1"?><Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" xmlns:oe="http://schemas.dmtf.org/ovf/environment/1"><PropertySection><Property oe:key="guestinfo.domain" oe:value="m"#.to_vec();
    let offset = bytes.len();
    bytes.extend(b"\xfcnchen.example\"/></PropertySection></Environment>");
    assert_eq!(
        parse(&bytes),
        Err(DocumentError::NotUtf8 {
            found: NotUtf8::Invalid { offset }
        })
    );
}

const SECRET_MARK: &str = "SECRETMARK";

/// A document whose only secret holds `value`, with `tail` appended after it.
fn doc_with_secret(value: &str, tail: &str) -> String {
    format!(
        r#"<Environment xmlns="{OVF_ENV_NS}" xmlns:oe="{OVF_ENV_NS}"><PropertySection><Property oe:key="guestinfo.hostname" oe:value="h.example.com"/><Property oe:key="guestinfo.tls_key" oe:value="{value}"/>{tail}"#
    )
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn near_xml_never_panics(
        pieces in proptest::collection::vec(
            prop_oneof![
                Just("<Environment xmlns=\"http://schemas.dmtf.org/ovf/environment/1\" xmlns:oe=\"http://schemas.dmtf.org/ovf/environment/1\">".to_owned()),
                Just("</Environment>".to_owned()),
                Just("<PropertySection>".to_owned()),
                Just("</PropertySection>".to_owned()),
                Just("<Property oe:key=\"k\" oe:value=\"v\"/>".to_owned()),
                Just("<Property oe:value=\"v\"/>".to_owned()),
                Just("<Entity oe:id=\"e\">".to_owned()),
                Just("<!DOCTYPE x [<!ENTITY a \"b\">]>".to_owned()),
                Just("&amp;".to_owned()),
                Just("&#10;".to_owned()),
                Just("<![CDATA[".to_owned()),
                Just("<?xml version=\"1.0\"?>".to_owned()),
                "[<>/=\"'&;:a-z ]{0,12}",
            ],
            0..24,
        )
    ) {
        let _ = parse(pieces.concat().as_bytes());
    }

    #[test]
    fn secret_values_never_show_in_debug(value in "[A-Za-z0-9+/= ]{0,64}") {
        let value = format!("{SECRET_MARK}{value}");
        let doc = doc_with_secret(&value, "</PropertySection></Environment>");
        let props = parse(doc.as_bytes()).unwrap();
        prop_assert_eq!(props["guestinfo.tls_key"].expose(), value.as_str());
        let debug = format!("{props:?} {props:#?}");
        prop_assert!(!debug.contains(SECRET_MARK));
    }

    #[test]
    fn secret_values_never_show_in_errors(
        value in "[A-Za-z0-9&;<>\"'#]{0,48}",
        tail in prop_oneof![
            Just(String::new()),
            Just("</PropertySection>".to_owned()),
            Just("<Property oe:key=\"guestinfo.tls_key\" oe:value=\"x\"/></PropertySection></Environment>".to_owned()),
            Just("<Property oe:value=\"x\"/></PropertySection></Environment>".to_owned()),
            Just("</Wrong></Environment>".to_owned()),
            "[<>/=\"'&;a-z ]{0,24}",
        ],
    ) {
        let value = format!("{SECRET_MARK}{value}");
        let doc = doc_with_secret(&value, &tail);
        if let Err(e) = parse(doc.as_bytes()) {
            let shown = shown(&e);
            prop_assert!(!shown.contains(SECRET_MARK), "{}", shown);
        }
    }
}

#[test]
fn a_proxy_url_with_a_password_is_classified_secret_whatever_its_key() {
    let never = |_: &str| false;
    let with_password = classify(
        "guestinfo.http_proxy",
        "http://svc:S3cr3t@proxy:3128".into(),
        never,
    );
    assert!(with_password.is_secret());
    assert!(!format!("{with_password:?}").contains("S3cr3t"));
    let token_only = classify(
        "guestinfo.https_proxy",
        "http://ghp_T0KEN@proxy:3128".into(),
        never,
    );
    assert!(token_only.is_secret(), "a user part alone is often a token");
    // A password with an unencoded '/' ends the authority early: still secret.
    let slashed = classify(
        "guestinfo.http_proxy",
        "http://user:Pa/ss@proxy:3128".into(),
        never,
    );
    assert!(slashed.is_secret());
    for plain_value in ["http://proxy.example.com:3128", "user:x@host"] {
        assert!(
            !classify("guestinfo.http_proxy", plain_value.into(), never).is_secret(),
            "{plain_value}"
        );
    }
}
