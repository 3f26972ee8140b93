//! The admin's certificate and key: each rule, with real certificates.

use time::macros::datetime;

use crate::settings::KeyFormat;
use crate::tls::test_pki::*;
use crate::tls::*;

const FQDN: &str = "veba01.lab.example.com";

/// A root, an intermediate under it, and a P-256 leaf for [`FQDN`] under that.
struct Pki {
    root: Authority,
    inter: Authority,
    leaf: Vec<u8>,
    key: rcgen::KeyPair,
}

fn pki() -> Pki {
    let root = Authority::root("Lab Root CA");
    let inter = root.intermediate("Lab Issuing CA");
    let key = ec_key();
    let leaf = inter.issue(&LeafSpec::for_names(&[FQDN]), &key);
    Pki {
        root,
        inter,
        leaf,
        key,
    }
}

fn run(material: &TlsMaterial) -> Result<TlsPlan, TlsError> {
    plan(
        &host(FQDN),
        None,
        Some(material),
        None,
        &TlsConfig::default(),
        NOW,
    )
}

fn pem_of(ders: &[&[u8]]) -> String {
    ders.iter().map(|d| pem::encode("CERTIFICATE", d)).collect()
}

#[test]
fn ordered_chain_with_root_is_served_leaf_first() {
    let p = pki();
    let plan = run(&material(&[&p.leaf, &p.inter.der, &p.root.der], &p.key)).unwrap();
    assert_eq!(plan.source, CertSource::User);
    assert_eq!(plan.chain_len, 3);
    assert_eq!(
        plan.chain_pem,
        pem_of(&[&p.leaf, &p.inter.der, &p.root.der])
    );
    assert_eq!(plan.sans, vec![FQDN.to_string()]);
    assert_eq!(plan.not_after, "2027-01-01T00:00:00Z");
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    assert!(
        plan.key_pem
            .expose()
            .starts_with("-----BEGIN PRIVATE KEY-----\n")
    );
}

#[test]
fn shuffled_chain_is_reordered_by_issuer() {
    let p = pki();
    let plan = run(&material(&[&p.root.der, &p.leaf, &p.inter.der], &p.key)).unwrap();
    assert_eq!(
        plan.chain_pem,
        pem_of(&[&p.leaf, &p.inter.der, &p.root.der])
    );
}

#[test]
fn served_chain_verifies_with_openssl() {
    let p = pki();
    let plan = run(&material(&[&p.inter.der, &p.leaf], &p.key)).unwrap();
    assert_eq!(plan.chain_len, 2);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root.pem");
    let chain = dir.path().join("chain.pem");
    std::fs::write(&root, pem::encode("CERTIFICATE", &p.root.der)).unwrap();
    std::fs::write(&chain, &plan.chain_pem).unwrap();
    // openssl reads the first certificate of the file as the one to verify: the leaf.
    let out = openssl(
        &[
            "verify",
            "-attime",
            &NOW.unix_timestamp().to_string(),
            "-purpose",
            "sslserver",
            "-verify_hostname",
            FQDN,
            "-CAfile",
            root.to_str().unwrap(),
            "-untrusted",
            chain.to_str().unwrap(),
            chain.to_str().unwrap(),
        ],
        b"",
    );
    assert!(String::from_utf8_lossy(&out).contains(": OK"));
}

#[test]
fn fingerprint_is_what_openssl_shows() {
    let p = pki();
    let plan = run(&material(&[&p.leaf], &p.key)).unwrap();
    let out = openssl(
        &[
            "x509",
            "-inform",
            "DER",
            "-noout",
            "-fingerprint",
            "-sha256",
        ],
        &p.leaf,
    );
    let out = String::from_utf8(out).unwrap();
    assert_eq!(
        out.trim(),
        format!("sha256 Fingerprint={}", plan.leaf_sha256)
    );
}

#[test]
fn certificate_pasted_twice_counts_once() {
    let p = pki();
    let plan = run(&material(&[&p.leaf, &p.inter.der, &p.leaf], &p.key)).unwrap();
    assert_eq!(plan.chain_len, 2);
}

#[test]
fn pkcs1_rsa_key_is_accepted_and_kept_as_given() {
    let root = Authority::root("Lab Root CA");
    let key = rsa_key();
    let leaf = root.issue(&LeafSpec::for_names(&[FQDN]), &key);
    let pkcs1 = to_pkcs1(&key);
    let plan = run(&material_with_key(
        &[&leaf],
        KeyFormat::Pkcs1Rsa,
        pkcs1.clone(),
    ))
    .unwrap();
    assert_eq!(
        plan.key_pem.expose(),
        &pem::encode("RSA PRIVATE KEY", &pkcs1)
    );
}

#[test]
fn sec1_ec_key_is_accepted_and_kept_as_given() {
    let p = pki();
    let sec1 = to_sec1(&p.key);
    let plan = run(&material_with_key(
        &[&p.leaf],
        KeyFormat::Sec1Ec,
        sec1.clone(),
    ))
    .unwrap();
    assert_eq!(plan.key_pem.expose(), &pem::encode("EC PRIVATE KEY", &sec1));
}

#[test]
fn key_of_another_certificate_is_refused() {
    let p = pki();
    let other = ec_key();
    let err = run(&material(&[&p.leaf, &p.inter.der], &other)).unwrap_err();
    assert_eq!(err, TlsError::KeyMatchesNoCertificate { count: 2 });
    let message = err.to_string();
    assert!(
        message.starts_with("guestinfo.tls_key: the private key does not match"),
        "{message}"
    );
}

#[test]
fn key_in_the_wrong_declared_format_is_refused_without_its_bytes() {
    let p = pki();
    let der = p.key.serialized_der().to_vec();
    let err = run(&material_with_key(
        &[&p.leaf],
        KeyFormat::Pkcs1Rsa,
        der.clone(),
    ))
    .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("guestinfo.tls_key: the private key could not be read as PKCS#1"),
        "{message}"
    );
    assert_no_key_bytes(&message, &der);
}

#[test]
fn leaf_for_another_host_is_refused() {
    let root = Authority::root("Lab Root CA");
    let key = ec_key();
    let leaf = root.issue(
        &LeafSpec::for_names(&["veba02.lab.example.com", "lab.example.com"]),
        &key,
    );
    let err = run(&material(&[&leaf], &key)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "guestinfo.tls_cert: the certificate's subjectAltName (veba02.lab.example.com, lab.example.com) does not cover the appliance's host name veba01.lab.example.com: issue a certificate whose subjectAltName includes veba01.lab.example.com, or leave both TLS fields blank for a self-signed one"
    );
}

#[test]
fn wildcard_covers_one_label_only() {
    let root = Authority::root("Lab Root CA");
    let key = ec_key();
    let leaf = root.issue(&LeafSpec::for_names(&["*.lab.example.com"]), &key);
    let m = material(&[&leaf], &key);
    let config = TlsConfig::default();
    let ok = plan(&host(FQDN), None, Some(&m), None, &config, NOW).unwrap();
    assert_eq!(ok.sans, vec!["*.lab.example.com".to_string()]);
    for name in ["a.veba01.lab.example.com", "lab.example.com"] {
        let err = plan(&host(name), None, Some(&m), None, &config, NOW).unwrap_err();
        assert!(
            matches!(err, TlsError::NameNotCovered { .. }),
            "{name}: {err}"
        );
    }
}

#[test]
fn common_name_only_certificate_is_refused_asking_for_sans() {
    let root = Authority::root("Lab Root CA");
    let key = ec_key();
    let mut spec = LeafSpec::for_names(&[]);
    spec.cn = FQDN.into();
    let leaf = root.issue(&spec, &key);
    let err = run(&material(&[&leaf], &key)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "guestinfo.tls_cert: the certificate (CN=veba01.lab.example.com) has no DNS names in its subjectAltName; browsers ignore the common name, so SANs are required: issue a certificate whose subjectAltName includes veba01.lab.example.com, or leave both TLS fields blank for a self-signed one"
    );
}

#[test]
fn expired_leaf_is_refused_with_its_date() {
    let root = Authority::root("Lab Root CA");
    let key = ec_key();
    let spec = LeafSpec::for_names(&[FQDN]).valid(
        datetime!(2025-01-01 0:00 UTC),
        datetime!(2026-05-01 0:00 UTC),
    );
    let err = run(&material(&[&root.issue(&spec, &key)], &key)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "guestinfo.tls_cert: the certificate expired on 2026-05-01T00:00:00Z (now 2026-06-01T12:00:00Z): paste a renewed certificate and its key, or leave both TLS fields blank for a self-signed one"
    );
}

#[test]
fn not_yet_valid_leaf_is_refused_with_its_date() {
    let root = Authority::root("Lab Root CA");
    let key = ec_key();
    let spec = LeafSpec::for_names(&[FQDN]).valid(
        datetime!(2026-07-01 0:00 UTC),
        datetime!(2027-07-01 0:00 UTC),
    );
    let err = run(&material(&[&root.issue(&spec, &key)], &key)).unwrap_err();
    assert!(matches!(err, TlsError::NotYetValid { .. }));
    assert!(
        err.to_string()
            .contains("not valid until 2026-07-01T00:00:00Z (now 2026-06-01T12:00:00Z)"),
        "{err}"
    );
}

#[test]
fn leaf_expiring_soon_is_served_with_a_warning() {
    let root = Authority::root("Lab Root CA");
    let key = ec_key();
    let spec = LeafSpec::for_names(&[FQDN]).valid(
        datetime!(2026-01-01 0:00 UTC),
        datetime!(2026-06-15 12:00 UTC),
    );
    let plan = run(&material(&[&root.issue(&spec, &key)], &key)).unwrap();
    assert_eq!(
        plan.warnings,
        vec!["guestinfo.tls_cert: the certificate expires on 2026-06-15T12:00:00Z (14 days from now); replace it before then".to_string()]
    );
}

#[test]
fn certificate_outside_the_leaf_chain_is_refused_by_subject() {
    let p = pki();
    let stranger = Authority::root("Other Root").intermediate("Somebody Else's CA");
    let err = run(&material(&[&p.leaf, &stranger.der, &p.inter.der], &p.key)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "guestinfo.tls_cert: certificate 2 (in pasted order, subject O=ovaboot test PKI, CN=Somebody Else's CA) is not part of the leaf's issuing chain; paste only the leaf and the certificates that issued it"
    );
}

#[test]
fn root_pasted_without_the_intermediate_points_at_the_missing_issuer() {
    let p = pki();
    let err = run(&material(&[&p.leaf, &p.root.der], &p.key)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "guestinfo.tls_cert: certificate 2 (in pasted order, subject O=ovaboot test PKI, CN=Lab Root CA) is not part of the leaf's issuing chain (it is a root; if it is the leaf's, the certificate of O=ovaboot test PKI, CN=Lab Issuing CA that links them is missing); paste only the leaf and the certificates that issued it"
    );
}

#[test]
fn issuer_with_the_right_name_but_wrong_key_is_refused() {
    let p = pki();
    // Same subject as the real intermediate, different key: it did not sign the leaf.
    let impostor = p.root.intermediate("Lab Issuing CA");
    let err = run(&material(&[&p.leaf, &impostor.der], &p.key)).unwrap_err();
    assert!(
        matches!(err, TlsError::Unrelated { position: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("its key did not sign it"), "{err}");
}

#[test]
fn bytes_that_are_not_a_certificate_are_refused_by_position() {
    let p = pki();
    let err = run(&material(&[&p.leaf, b"not DER at all"], &p.key)).unwrap_err();
    assert!(
        matches!(err, TlsError::NotACertificate { position: 2, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .ends_with("its DER does not parse (nom error: Eof)"),
        "{err}"
    );
    assert!(err.to_string().starts_with(
        "guestinfo.tls_cert: certificate 2 (in pasted order) is not an X.509 certificate"
    ));
}

#[test]
fn key_pasted_into_the_certificate_property_is_refused_without_its_bytes() {
    let p = pki();
    let err = run(&material(&[p.key.serialized_der()], &p.key)).unwrap_err();
    assert!(
        matches!(err, TlsError::NotACertificate { position: 1, .. }),
        "{err}"
    );
    assert_no_key_bytes(&format!("{err} {err:?}"), p.key.serialized_der());
}

#[test]
fn issuer_whose_signature_cannot_be_checked_is_linked_by_name_with_a_warning() {
    // ecdsa-with-SHA512 over P-521: the verifier has no such algorithm.
    let p521 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    let root = Authority::root_with_key("P-521 Root", p521);
    let key = ec_key();
    let leaf = root.issue(&LeafSpec::for_names(&[FQDN]), &key);
    let plan = run(&material(&[&root.der, &leaf], &key)).unwrap();
    assert_eq!(plan.chain_pem, pem_of(&[&leaf, &root.der]));
    assert_eq!(
        plan.warnings,
        [
            "guestinfo.tls_cert: the signature on CN=veba01.lab.example.com uses an algorithm this agent cannot check; certificate 1 was linked to it by name only"
        ]
    );
}

#[test]
fn two_certificates_for_the_key_are_refused() {
    let root = Authority::root("Lab Root CA");
    let key = ec_key();
    let first = root.issue(&LeafSpec::for_names(&[FQDN]), &key);
    let renewed = root.issue(
        &LeafSpec::for_names(&[FQDN]).valid(
            datetime!(2026-02-01 0:00 UTC),
            datetime!(2027-02-01 0:00 UTC),
        ),
        &key,
    );
    let err = run(&material(&[&first, &renewed], &key)).unwrap_err();
    assert!(
        matches!(err, TlsError::SeveralLeaves { count: 2, .. }),
        "{err}"
    );
}

/// Neither the DER, its base64, nor the PEM body appear in `text`.
fn assert_no_key_bytes(text: &str, der: &[u8]) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    assert!(!text.contains(&b64[..40]), "key base64 leaked: {text}");
    assert!(
        !text.contains(&format!("{:?}", &der[..8])),
        "key bytes leaked: {text}"
    );
}

#[test]
fn key_never_shows_in_debug_summary_or_errors() {
    let p = pki();
    let m = material(&[&p.leaf, &p.inter.der], &p.key);
    let plan = run(&m).unwrap();
    let key_pem = plan.key_pem.expose().clone();
    let body = key_pem.lines().nth(1).unwrap();
    for text in [
        format!("{plan:?}"),
        format!("{plan:#?}"),
        serde_json::to_string(&plan).unwrap(),
        format!("{m:?}"),
    ] {
        assert!(!text.contains(body), "key PEM leaked: {text}");
        assert_no_key_bytes(&text, p.key.serialized_der());
    }
    let summary = serde_json::to_value(&plan).unwrap();
    assert_eq!(summary["key_pem"], crate::secret::REDACTED);
    assert_eq!(summary["source"], "user");

    let wrong = material(&[&p.inter.der], &p.key);
    let err = run(&wrong).unwrap_err();
    assert_no_key_bytes(&format!("{err} {err:?}"), p.key.serialized_der());
}

/// Envoy cannot serve these: each is refused by name, before the certificate is looked at.
fn refused_key(key: &rcgen::KeyPair) -> String {
    let root = Authority::root("Lab Root CA");
    let leaf = root.issue(&LeafSpec::for_names(&[FQDN]), key);
    let err = run(&material(&[&leaf], key)).unwrap_err();
    assert!(matches!(err, TlsError::UnsupportedKey { .. }), "{err:?}");
    let message = err.to_string();
    assert_no_key_bytes(&message, key.serialized_der());
    message
}

#[test]
fn ed25519_certificate_and_key_are_refused_naming_what_is_supported() {
    assert_eq!(
        refused_key(&ed25519_key()),
        "guestinfo.tls_key: Ed25519 keys cannot be served: browsers do not accept Ed25519 server certificates; the HTTPS listener can serve RSA (2048 to 8192 bits) and ECDSA on P-256 or P-384 keys only"
    );
}

#[test]
fn p521_key_is_refused() {
    assert!(
        refused_key(&p521_key())
            .starts_with("guestinfo.tls_key: ECDSA P-521 keys cannot be served")
    );
}

#[test]
fn rsa_key_under_2048_bits_is_refused_with_its_size() {
    let root = Authority::root("Lab Root CA");
    let leaf = root.issue(&LeafSpec::for_names(&[FQDN]), &ec_key());
    let der = openssl_rsa_pkcs8(1024);
    let err = run(&material_with_key(&[&leaf], KeyFormat::Pkcs8, der.clone())).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(
            "guestinfo.tls_key: an RSA key of 1024 bits is too small (envoy refuses RSA keys under 2048 bits)"
        ),
        "{message}"
    );
    assert_no_key_bytes(&message, &der);
}

#[test]
fn p384_key_is_served_as_pkcs8_and_as_sec1() {
    let root = Authority::root("Lab Root CA");
    let key = p384_key();
    let leaf = root.issue(&LeafSpec::for_names(&[FQDN]), &key);
    let plan = run(&material(&[&leaf], &key)).unwrap();
    assert_eq!(plan.chain_pem, pem_of(&[&leaf]));
    let sec1 = to_sec1(&key);
    let plan = run(&material_with_key(
        &[&leaf],
        KeyFormat::Sec1Ec,
        sec1.clone(),
    ))
    .unwrap();
    assert_eq!(plan.key_pem.expose(), &pem::encode("EC PRIVATE KEY", &sec1));
}

// ---- what browsers refuse in a leaf -----------------------------------------

fn refused(spec: LeafSpec) -> String {
    let root = Authority::root("Lab Root CA");
    let key = ec_key();
    let leaf = root.issue(&spec, &key);
    run(&material(&[&leaf, &root.der], &key))
        .unwrap_err()
        .to_string()
}

#[test]
fn leaf_without_server_auth_is_refused_naming_its_usages() {
    let mut spec = LeafSpec::for_names(&[FQDN]);
    spec.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        rcgen::ExtendedKeyUsagePurpose::CodeSigning,
    ];
    assert_eq!(
        refused(spec),
        "guestinfo.tls_cert: the certificate's extendedKeyUsage (clientAuth, codeSigning) lacks serverAuth, so browsers refuse it for HTTPS: issue a certificate whose extendedKeyUsage includes serverAuth, or leave both TLS fields blank for a self-signed one"
    );
    // No extendedKeyUsage at all allows any use.
    let mut spec = LeafSpec::for_names(&[FQDN]);
    spec.extended_key_usages = vec![];
    let root = Authority::root("Lab Root CA");
    let key = ec_key();
    let leaf = root.issue(&spec, &key);
    assert!(run(&material(&[&leaf], &key)).is_ok());
}

#[test]
fn leaf_with_an_unknown_critical_extension_is_refused_naming_its_oid() {
    let mut spec = LeafSpec::for_names(&[FQDN]);
    // An OID under the documentation arc, content a DER NULL.
    spec.critical_extension = Some((vec![1, 3, 6, 1, 4, 1, 99999, 1], vec![0x05, 0x00]));
    assert_eq!(
        refused(spec),
        "guestinfo.tls_cert: the certificate has a critical extension browsers do not know (1.3.6.1.4.1.99999.1), so they refuse it: issue a certificate without it, or leave both TLS fields blank for a self-signed one"
    );
}

#[test]
fn leaf_that_is_a_ca_is_refused() {
    let mut spec = LeafSpec::for_names(&[FQDN]);
    spec.is_ca = true;
    assert_eq!(
        refused(spec),
        "guestinfo.tls_cert: the certificate (CN=veba01.lab.example.com) is a CA certificate (basicConstraints CA:TRUE), which browsers refuse as a server's certificate: issue a leaf certificate (CA:FALSE) for veba01.lab.example.com, or leave both TLS fields blank for a self-signed one"
    );
}

#[test]
fn control_characters_from_the_certificate_are_escaped_in_messages() {
    let hostile = "evil\u{1b}[2J\u{0}.example.com";
    // rcgen refuses such a DNS name: carry it in the CN and a SAN-less leaf,
    // and in a SAN as an IA5String built by hand below.
    let mut spec = LeafSpec::for_names(&[]);
    spec.cn = hostile.to_owned();
    let line = refused(spec);
    assert!(!line.contains('\u{1b}') && !line.contains('\0'), "{line:?}");
    assert!(line.contains("CN=evil\\u{1b}[2J\\0.example.com"), "{line}");

    let mut spec = LeafSpec::for_names(&[]);
    // subjectAltName: SEQUENCE { [2] IA5String "evil<ESC>[2J<NUL>.example.com" }
    let name = hostile.as_bytes();
    let mut san = vec![0x30, (name.len() + 2) as u8, 0x82, name.len() as u8];
    san.extend_from_slice(name);
    spec.critical_extension = Some((vec![2, 5, 29, 17], san));
    let line = refused(spec);
    assert!(!line.contains('\u{1b}') && !line.contains('\0'), "{line:?}");
    assert!(line.contains("(evil\\u{1b}[2J\\0.example.com)"), "{line}");
}
