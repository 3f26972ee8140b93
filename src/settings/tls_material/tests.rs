//! Every accepted shape of pasted TLS material, and every refusal. Certificates
//! are made with rcgen at test time; the PKCS#1, SEC1 and encrypted keys are
//! openssl output kept in tests/fixtures/pem/ (see its README).

use std::sync::OnceLock;

use base64::Engine as _;
use proptest::prelude::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use super::*;

/// A real three-certificate chain (root → intermediate → leaf) and the leaf's key.
struct Chain {
    /// Leaf first, as admins are told to paste it.
    pem: String,
    der: Vec<Vec<u8>>,
    key_pem: String,
    key_der: Vec<u8>,
}

fn chain() -> &'static Chain {
    static CHAIN: OnceLock<Chain> = OnceLock::new();
    CHAIN.get_or_init(|| {
        let ca_params = |name: &str| {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, name);
            params
        };
        let root_key = KeyPair::generate().unwrap();
        let root_params = ca_params("ovaboot test root");
        let root_cert = root_params.self_signed(&root_key).unwrap();
        let root = Issuer::new(root_params, root_key);

        let int_key = KeyPair::generate().unwrap();
        let int_params = ca_params("ovaboot test intermediate");
        let int_cert = int_params.signed_by(&int_key, &root).unwrap();
        let int = Issuer::new(int_params, int_key);

        let leaf_key = KeyPair::generate().unwrap();
        let leaf_cert = CertificateParams::new(vec!["veba01.example.com".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &int)
            .unwrap();

        let certs = [leaf_cert, int_cert, root_cert];
        Chain {
            pem: certs.iter().map(|c| c.pem()).collect(),
            der: certs.iter().map(|c| c.der().to_vec()).collect(),
            key_pem: leaf_key.serialize_pem(),
            key_der: leaf_key.serialize_der(),
        }
    })
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/pem/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fixture_text(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap()
}

/// What the vSphere HTML5 wizard does to a pasted PEM: newlines become spaces.
fn wizard_one_line(pem: &str) -> String {
    pem.replace("\r\n", "\n").trim_end().replace('\n', " ")
}

fn crlf(pem: &str) -> String {
    pem.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// `base64 -w 76` of the whole PEM text.
fn base64_wrapped(pem: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(pem);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    lines.join("\n")
}

/// The base64 body of every block in a PEM text, for "never echoed" checks.
fn bodies(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

/// Asserts that no 16-character stretch of `secret_b64` shows in `message`.
fn assert_no_window_of(secret_b64: &str, message: &str) {
    let bytes = secret_b64.as_bytes();
    for window in bytes.windows(16) {
        let window = std::str::from_utf8(window).unwrap();
        assert!(!message.contains(window), "{message:?} echoes {window:?}");
    }
}

// ---- accepted shapes: certificates ----

#[test]
fn clean_chain_of_three_decodes_in_pasted_order() {
    let c = chain();
    assert_eq!(parse_certificate_chain(&c.pem).unwrap(), c.der);
}

#[test]
fn chain_of_three_pasted_as_one_line_by_the_wizard() {
    let c = chain();
    let one_line = wizard_one_line(&c.pem);
    assert!(!one_line.contains('\n'));
    assert_eq!(parse_certificate_chain(&one_line).unwrap(), c.der);
}

#[test]
fn crlf_line_endings_and_stray_surrounding_whitespace() {
    let c = chain();
    let pasted = format!(" \r\n\t{}\r\n  ", crlf(&c.pem));
    assert_eq!(parse_certificate_chain(&pasted).unwrap(), c.der);
}

#[test]
fn base64_of_the_whole_pem_wrapped_one_line_or_mangled() {
    let c = chain();
    let wrapped = base64_wrapped(&c.pem);
    assert_eq!(parse_certificate_chain(&wrapped).unwrap(), c.der);
    assert_eq!(
        parse_certificate_chain(&wrapped.replace('\n', "")).unwrap(),
        c.der
    );
    assert_eq!(
        parse_certificate_chain(&wrapped.replace('\n', " ")).unwrap(),
        c.der
    );
    assert_eq!(
        parse_certificate_chain(&base64_wrapped(&crlf(&c.pem))).unwrap(),
        c.der
    );
}

#[test]
fn blocks_separated_by_spaces_or_glued_together() {
    let c = chain();
    let blocks: Vec<String> = c
        .pem
        .split_inclusive("-----END CERTIFICATE-----")
        .map(|b| b.trim().to_string())
        .filter(|b| !b.is_empty())
        .collect();
    assert_eq!(blocks.len(), 3);
    assert_eq!(
        parse_certificate_chain(&blocks.join("    ")).unwrap(),
        c.der
    );
    assert_eq!(parse_certificate_chain(&blocks.concat()).unwrap(), c.der);
}

#[test]
fn text_around_blocks_like_openssl_bag_attributes_is_ignored() {
    let c = chain();
    let pasted = format!(
        "Bag Attributes\n    localKeyID: 01 00 00 00\nsubject=CN = veba01.example.com\nissuer=CN = ovaboot test intermediate\n{}",
        c.pem
    );
    assert_eq!(parse_certificate_chain(&pasted).unwrap(), c.der);
}

// ---- accepted shapes: keys ----

#[test]
fn pkcs8_key_clean_one_line_crlf_and_base64() {
    let c = chain();
    for pasted in [
        c.key_pem.clone(),
        wizard_one_line(&c.key_pem),
        crlf(&c.key_pem),
        base64_wrapped(&c.key_pem),
    ] {
        let key = parse_private_key(&pasted).unwrap();
        assert_eq!(key.format, KeyFormat::Pkcs8);
        assert_eq!(key.der.expose(), &c.key_der);
    }
}

#[test]
fn pkcs1_rsa_key_from_openssl_decodes_to_openssls_der() {
    let pem = fixture_text("rsa-2048-pkcs1.pem");
    let expected = fixture("rsa-2048-pkcs1.der");
    for pasted in [pem.clone(), wizard_one_line(&pem), base64_wrapped(&pem)] {
        let key = parse_private_key(&pasted).unwrap();
        assert_eq!(key.format, KeyFormat::Pkcs1Rsa);
        assert_eq!(key.der.expose(), &expected);
    }
}

#[test]
fn ec_parameters_before_a_sec1_key_are_skipped() {
    let pem = fixture_text("ec-p256-sec1-with-ec-parameters.pem");
    assert!(pem.starts_with("-----BEGIN EC PARAMETERS-----"));
    let expected = fixture("ec-p256-sec1.der");
    for pasted in [
        pem.clone(),
        wizard_one_line(&pem),
        crlf(&pem),
        base64_wrapped(&pem),
    ] {
        let key = parse_private_key(&pasted).unwrap();
        assert_eq!(key.format, KeyFormat::Sec1Ec);
        assert_eq!(key.der.expose(), &expected);
    }
}

// ---- refusals ----

#[test]
fn a_private_key_in_the_certificate_field_is_refused_without_echoing_it() {
    let c = chain();
    let leaf_only = c
        .pem
        .split_inclusive("-----END CERTIFICATE-----")
        .next()
        .unwrap();
    let pasted = format!("{leaf_only}\n{}", c.key_pem);
    let err = parse_certificate_chain(&pasted).unwrap_err();
    assert!(matches!(
        err,
        PemProblem::KeyInCertificateField { block: 2, .. }
    ));
    let message = err.to_string();
    assert_eq!(
        message,
        "contains a private key (block 2, PRIVATE KEY); only CERTIFICATE blocks belong here, the key goes into guestinfo.tls_key"
    );
    assert_no_window_of(&bodies(&c.key_pem), &format!("{message} {err:?}"));
}

#[test]
fn other_blocks_in_the_certificate_field_are_named() {
    let pasted = "-----BEGIN CERTIFICATE REQUEST----- MAA= -----END CERTIFICATE REQUEST-----";
    assert_eq!(
        parse_certificate_chain(pasted).unwrap_err().to_string(),
        "block 1 is CERTIFICATE REQUEST, not a CERTIFICATE; only CERTIFICATE blocks belong here, leaf first"
    );
}

#[test]
fn a_certificate_in_the_key_field_is_refused() {
    let err = parse_private_key(&chain().pem).unwrap_err();
    assert_eq!(err, PemProblem::CertificateInKeyField { block: 1 });
    assert_eq!(
        err.to_string(),
        "block 1 is a CERTIFICATE; only the private key belongs here, certificates go into guestinfo.tls_cert"
    );
}

#[test]
fn encrypted_keys_are_refused_in_every_shape() {
    let pkcs8 = fixture_text("ec-p256-pkcs8-encrypted.pem");
    let legacy = fixture_text("rsa-2048-pkcs1-legacy-encrypted.pem");
    assert!(legacy.contains("Proc-Type: 4,ENCRYPTED"));
    for pasted in [
        pkcs8.clone(),
        wizard_one_line(&pkcs8),
        base64_wrapped(&pkcs8),
        legacy.clone(),
        wizard_one_line(&legacy),
        crlf(&legacy),
        base64_wrapped(&legacy),
    ] {
        let err = parse_private_key(&pasted).unwrap_err();
        assert_eq!(err, PemProblem::Encrypted);
        assert_eq!(
            err.to_string(),
            "is encrypted; provide an unencrypted key (`openssl pkey -in key.pem -out key-plain.pem` asks for the passphrase and writes the key without it)"
        );
    }
}

#[test]
fn prose_and_punctuation_are_not_pem() {
    for pasted in [
        "hello world!",
        "see the attached certificate file",
        "please use the certificate from the ticket that the security team sent",
        "{\"cert\": 1}",
    ] {
        assert_eq!(
            parse_certificate_chain(pasted).unwrap_err(),
            PemProblem::NotPem,
            "{pasted}"
        );
    }
    assert_eq!(
        PemProblem::NotPem.to_string(),
        "is not PEM: it has no \"-----BEGIN ...-----\" line, and it is not base64-encoded PEM either"
    );
}

#[test]
fn corrupt_outer_base64_is_invalid_base64() {
    let mut encoded: String = base64_wrapped(&chain().pem).replace('\n', "");
    // A length of 4n+1 can never be base64, whatever got lost.
    while encoded.len() % 4 != 1 {
        encoded.remove(encoded.len() / 2);
    }
    assert_eq!(
        parse_certificate_chain(&encoded).unwrap_err(),
        PemProblem::InvalidBase64
    );
}

#[test]
fn base64_of_der_instead_of_pem_is_refused() {
    let der_b64 = base64::engine::general_purpose::STANDARD.encode(&chain().der[0]);
    let err = parse_certificate_chain(&der_b64).unwrap_err();
    assert_eq!(err, PemProblem::Base64NotPem);
}

#[test]
fn an_empty_body_is_refused() {
    let err = parse_certificate_chain("-----BEGIN CERTIFICATE----- -----END CERTIFICATE-----")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "block 1 (CERTIFICATE) is empty: there is nothing between its BEGIN and END lines"
    );
}

#[test]
fn a_character_changed_in_a_body_is_bad_base64() {
    let c = chain();
    let at = c.pem.find("-----\n").unwrap() + 20;
    let mut broken = c.pem.clone();
    broken.replace_range(at..at + 1, "*");
    let err = parse_certificate_chain(&broken).unwrap_err();
    assert!(matches!(err, PemProblem::BadBody { block: 1, .. }), "{err}");

    // In the key field too, and without echoing the key.
    let at = c.key_pem.find("-----\n").unwrap() + 20;
    let mut broken = c.key_pem.clone();
    broken.replace_range(at..at + 1, "%");
    let err = parse_private_key(&broken).unwrap_err();
    assert_eq!(
        err.to_string(),
        "block 1 (PRIVATE KEY) is not valid base64 between its BEGIN and END lines (a character lost or changed when pasting?)"
    );
}

#[test]
fn a_line_lost_from_a_body_is_reported_as_truncated_der() {
    let c = chain();
    let mut lines: Vec<&str> = c.pem.lines().collect();
    lines.remove(3); // a full 64-character line from the leaf: the base64 stays valid
    let err = parse_certificate_chain(&lines.join("\n")).unwrap_err();
    let PemProblem::NotDer {
        block: 1,
        problem: DerProblem::Truncated { announced, held },
        ..
    } = err
    else {
        panic!("{err}");
    };
    assert_eq!(announced - held, 48);
}

#[test]
fn a_cut_off_end_or_start_is_named() {
    let c = chain();
    let no_end = c.key_pem.replace("-----END PRIVATE KEY-----", "");
    assert_eq!(
        parse_private_key(&no_end).unwrap_err().to_string(),
        "block 1 (PRIVATE KEY) has no \"-----END ...-----\" line (was the end cut off?)"
    );
    let no_begin = c.key_pem.replace("-----BEGIN PRIVATE KEY-----", "");
    assert_eq!(
        parse_private_key(&no_begin).unwrap_err(),
        PemProblem::EndWithoutBegin
    );
}

#[test]
fn mismatched_begin_and_end_labels_are_refused() {
    let c = chain();
    let mismatched = c
        .key_pem
        .replace("-----END PRIVATE KEY", "-----END RSA PRIVATE KEY");
    assert_eq!(
        parse_private_key(&mismatched).unwrap_err().to_string(),
        "block 1 begins with \"-----BEGIN PRIVATE KEY-----\" but ends with \"-----END RSA PRIVATE KEY-----\""
    );
}

#[test]
fn exactly_one_key_is_required() {
    let c = chain();
    let rsa = fixture_text("rsa-2048-pkcs1.pem");
    assert_eq!(
        parse_private_key(&format!("{}{rsa}", c.key_pem)).unwrap_err(),
        PemProblem::SeveralKeys(2)
    );
    let params_only =
        "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n";
    assert_eq!(
        parse_private_key(params_only).unwrap_err(),
        PemProblem::NoKey
    );
}

#[test]
fn unsupported_keys_and_unknown_blocks_in_the_key_field() {
    let body = bodies(&chain().key_pem);
    let openssh =
        format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----");
    assert_eq!(
        parse_private_key(&openssh).unwrap_err().to_string(),
        "block 1 is an unsupported kind of key (OPENSSH PRIVATE KEY); provide PKCS#8 (PRIVATE KEY), PKCS#1 (RSA PRIVATE KEY) or SEC1 (EC PRIVATE KEY)"
    );
    // A label nobody uses could be anything the admin typed: not shown for the key.
    let odd = format!("-----BEGIN MY SECRET NOTE-----\n{body}\n-----END MY SECRET NOTE-----");
    let err = parse_private_key(&odd).unwrap_err();
    assert_eq!(
        err.to_string(),
        "block 1 is unrecognised label, not a private key; only the private key belongs here"
    );
    assert!(!format!("{err:?}").contains("MY SECRET"));
    // The certificate field is not secret: there the label helps.
    assert!(
        parse_certificate_chain(&odd)
            .unwrap_err()
            .to_string()
            .contains("MY SECRET NOTE")
    );
}

#[test]
fn header_lines_in_a_certificate_block_are_refused() {
    let c = chain();
    let with_header = c.pem.replacen(
        "-----BEGIN CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\nComment: leaf\n\n",
        1,
    );
    assert!(matches!(
        parse_certificate_chain(&with_header).unwrap_err(),
        PemProblem::Headers { block: 1, .. }
    ));
}

#[test]
fn debug_of_material_shows_sizes_and_redacts_the_key() {
    let c = chain();
    let material = TlsMaterial::from_pem(&c.pem, &c.key_pem).unwrap();
    let debug = format!("{material:?}");
    assert!(
        debug.contains(&format!("<{} bytes of DER>", c.der[0].len())),
        "{debug}"
    );
    assert!(
        debug.contains("Pkcs8") && debug.contains(crate::secret::REDACTED),
        "{debug}"
    );
    assert!(
        !debug.contains(&format!("{:?}", &c.key_der[..8])),
        "{debug}"
    );
}

#[test]
fn from_pem_names_the_property_at_fault() {
    let c = chain();
    let err = TlsMaterial::from_pem(&c.key_pem, &c.key_pem).unwrap_err();
    assert_eq!(err.key(), keys::TLS_CERT);
    let err = TlsMaterial::from_pem(&c.pem, &c.pem).unwrap_err();
    assert_eq!(err.key(), keys::TLS_KEY);
}

// ---- properties ----

/// How a paste may replace each newline.
fn newline_replacement() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just(" "),
        Just("\n"),
        Just("\r\n"),
        Just("  "),
        Just("\t"),
        Just(" \r\n "),
        Just(""),
    ]
}

fn mangle(pem: &str, replacements: &[&str]) -> String {
    let mut out = String::with_capacity(pem.len() * 2);
    for (i, line) in pem.split('\n').enumerate() {
        if i > 0 {
            out.push_str(replacements[(i - 1) % replacements.len()]);
        }
        out.push_str(line);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_newline_mangling_of_a_chain_round_trips_to_the_same_der(
        replacements in prop::collection::vec(newline_replacement(), 1..40),
        as_base64 in any::<bool>(),
        lead in "[ \t\r\n]{0,3}",
        trail in "[ \t\r\n]{0,3}",
    ) {
        let c = chain();
        let mut pasted = format!("{lead}{}{trail}", mangle(&c.pem, &replacements));
        if as_base64 {
            pasted = base64_wrapped(&pasted);
        }
        prop_assert_eq!(parse_certificate_chain(&pasted).unwrap(), c.der.clone());

        let key = parse_private_key(&mangle(&c.key_pem, &replacements)).unwrap();
        prop_assert_eq!(key.der.expose(), &c.key_der);
    }

    #[test]
    fn arbitrary_key_values_never_appear_in_errors(
        value in prop_oneof![
            "\\PC{8,200}",
            ("[A-Z ]{1,20}", "[A-Za-z0-9+/=: \n]{8,200}").prop_map(|(label, body)| {
                format!("-----BEGIN {label}-----{body}-----END {label}-----")
            }),
        ],
    ) {
        let c = chain();
        if let Err(err) = TlsMaterial::from_pem(&c.pem, &value) {
            let shown = format!("{err} {err:?}");
            prop_assert!(!shown.contains(&value), "{}", shown);
            prop_assert_eq!(err.key(), keys::TLS_KEY);
            prop_assert!(!err.to_string().contains('\n'));
        }
    }

    #[test]
    fn a_damaged_real_key_is_never_echoed(
        at in 0usize..200,
        cut in 0usize..80,
        junk in "[*%!:= \n]{0,3}",
    ) {
        let c = chain();
        let mut damaged = c.key_pem.clone();
        let at = at.min(damaged.len());
        let end = (at + cut).min(damaged.len());
        damaged.replace_range(at..end, &junk);
        if let Err(err) = parse_private_key(&damaged) {
            assert_no_window_of(&bodies(&c.key_pem), &format!("{err} {err:?}"));
            prop_assert!(!err.to_string().contains('\n'));
        }
    }
}
