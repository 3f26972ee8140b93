//! The private PKI, judged by x509-parser and the openssl CLI (`openssl verify`
//! with the purpose each leaf is for).

use time::Duration;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::*;
use crate::tls::test_pki::{NOW, openssl};

const LIFETIME: Lifetime = Lifetime {
    days: 365,
    renew_before_days: 30,
    backdate_minutes: 5,
};
const CA_LIFETIME: Lifetime = Lifetime {
    days: 3650,
    renew_before_days: 365,
    backdate_minutes: 5,
};

fn contour() -> LeafSpec {
    LeafSpec {
        common_name: "contour".into(),
        dns_names: vec![
            "contour".into(),
            "contour.projectcontour".into(),
            "contour.projectcontour.svc".into(),
        ],
        usage: Usage::Server,
    }
}

fn envoy() -> LeafSpec {
    LeafSpec {
        common_name: "envoy".into(),
        dns_names: vec!["envoy".into()],
        usage: Usage::Client,
    }
}

fn ca(algorithm: KeyAlgorithm) -> Authority {
    Authority::mint("ovaboot test CA", algorithm, &CA_LIFETIME, NOW).unwrap()
}

fn der(pem_text: &str) -> Vec<u8> {
    single_certificate(pem_text).unwrap()
}

/// `openssl verify -purpose P -CAfile ca leaf`, as stdout or the failure text.
fn openssl_verify(ca: &str, leaf: &str, purpose: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.crt");
    let leaf_path = dir.path().join("leaf.crt");
    std::fs::write(&ca_path, ca).unwrap();
    std::fs::write(&leaf_path, leaf).unwrap();
    let at = NOW.unix_timestamp().to_string();
    let out = std::process::Command::new(crate::tls::test_pki::OPENSSL)
        .args(["verify", "-attime", &at, "-purpose", purpose, "-CAfile"])
        .arg(&ca_path)
        .arg(&leaf_path)
        .output()
        .expect("run openssl");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

#[test]
fn a_minted_ca_is_a_path_length_zero_ca_that_signs_leaves_only() {
    let ca = ca(KeyAlgorithm::EcdsaP256);
    let der = der(&ca.pair().cert_pem);
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    let constraints = cert.basic_constraints().unwrap().unwrap().value;
    assert!(constraints.ca);
    assert_eq!(constraints.path_len_constraint, Some(0));
    let usage = cert.key_usage().unwrap().unwrap().value;
    assert!(usage.key_cert_sign() && usage.crl_sign());
    assert_eq!(cert.subject().to_string(), "CN=ovaboot test CA");
    assert_eq!(
        ca.pair().validity.not_after,
        NOW.replace_nanosecond(0).unwrap() + Duration::days(3650)
    );
    assert_eq!(
        ca.pair().validity.not_before,
        NOW.replace_nanosecond(0).unwrap() - Duration::minutes(5)
    );
}

#[test]
fn openssl_verifies_each_leaf_for_its_purpose_only() {
    for algorithm in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048] {
        let ca = ca(algorithm);
        let server = ca.issue(&contour(), algorithm, &LIFETIME, NOW).unwrap();
        let client = ca.issue(&envoy(), algorithm, &LIFETIME, NOW).unwrap();
        let ca_pem = &ca.pair().cert_pem;
        openssl_verify(ca_pem, &server.cert_pem, "sslserver").unwrap();
        openssl_verify(ca_pem, &client.cert_pem, "sslclient").unwrap();
        assert!(
            openssl_verify(ca_pem, &server.cert_pem, "sslclient").is_err(),
            "a server pair is not a client pair"
        );
        assert!(
            openssl_verify(ca_pem, &client.cert_pem, "sslserver").is_err(),
            "a client pair is not a server pair"
        );
        let other = Authority::mint("another CA", algorithm, &CA_LIFETIME, NOW).unwrap();
        let refused = openssl_verify(&other.pair().cert_pem, &server.cert_pem, "sslserver")
            .expect_err("another CA does not vouch for it");
        assert!(refused.contains("unable to get local issuer"), "{refused}");
    }
}

#[test]
fn a_leaf_carries_exactly_its_names_and_the_key_it_comes_with() {
    let ca = ca(KeyAlgorithm::EcdsaP256);
    let pair = ca
        .issue(&contour(), KeyAlgorithm::EcdsaP256, &LIFETIME, NOW)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("tls.crt");
    std::fs::write(&cert, &pair.cert_pem).unwrap();
    let text = String::from_utf8(openssl(
        &["x509", "-noout", "-text", "-in", cert.to_str().unwrap()],
        b"",
    ))
    .unwrap();
    assert!(text.contains("Subject: CN = contour"), "{text}");
    assert!(
        text.contains("DNS:contour, DNS:contour.projectcontour, DNS:contour.projectcontour.svc"),
        "{text}"
    );
    assert!(text.contains("CA:FALSE"), "{text}");
    // The key's public half is the certificate's.
    let from_key = openssl(&["pkey", "-pubout"], pair.key_pem.expose().as_bytes());
    let from_cert = openssl(
        &["x509", "-noout", "-pubkey", "-in", cert.to_str().unwrap()],
        b"",
    );
    assert_eq!(from_key, from_cert);
    assert!(!format!("{pair:?}").contains("PRIVATE KEY"), "{pair:?}");
    assert!(!format!("{ca:?}").contains("PRIVATE KEY"), "{ca:?}");
}

#[test]
fn a_leaf_never_outlives_its_ca() {
    let short_ca = Lifetime {
        days: 100,
        ..CA_LIFETIME
    };
    let ca = Authority::mint("short", KeyAlgorithm::EcdsaP256, &short_ca, NOW).unwrap();
    let pair = ca
        .issue(&envoy(), KeyAlgorithm::EcdsaP256, &LIFETIME, NOW)
        .unwrap();
    assert_eq!(pair.validity.not_after, ca.pair().validity.not_after);
    let leaf = der(&pair.cert_pem);
    let (_, cert) = X509Certificate::from_der(&leaf).unwrap();
    assert_eq!(
        cert.validity().not_after.to_datetime(),
        ca.pair().validity.not_after
    );
}

#[test]
fn what_was_minted_is_kept_while_it_is_what_would_be_minted() {
    let ca = ca(KeyAlgorithm::EcdsaP256);
    let pair = ca
        .issue(&contour(), KeyAlgorithm::EcdsaP256, &LIFETIME, NOW)
        .unwrap();
    let later = NOW + Duration::days(200);
    let loaded = Authority::load(
        &ca.pair().cert_pem,
        &ca.pair().key_pem,
        KeyAlgorithm::EcdsaP256,
        &CA_LIFETIME,
        later,
    )
    .unwrap();
    assert_eq!(loaded.pair().sha256, ca.pair().sha256);
    let kept = loaded
        .verify(
            &pair.cert_pem,
            &pair.key_pem,
            &contour(),
            KeyAlgorithm::EcdsaP256,
            &LIFETIME,
            later,
        )
        .unwrap();
    assert_eq!(kept.sha256, pair.sha256);
    assert_eq!(kept.cert_pem, pair.cert_pem);
    assert_eq!(kept.key_pem.expose(), pair.key_pem.expose());
    assert_eq!(kept.validity, pair.validity);
}

fn verify_at(
    ca: &Authority,
    pair: &Pair,
    spec: &LeafSpec,
    algorithm: KeyAlgorithm,
    lifetime: &Lifetime,
    now: OffsetDateTime,
) -> Result<Pair, NotKept> {
    ca.verify(
        &pair.cert_pem,
        &pair.key_pem,
        spec,
        algorithm,
        lifetime,
        now,
    )
}

#[test]
fn a_leaf_is_renewed_within_its_window_and_once_expired() {
    let ca = ca(KeyAlgorithm::EcdsaP256);
    let pair = ca
        .issue(&envoy(), KeyAlgorithm::EcdsaP256, &LIFETIME, NOW)
        .unwrap();
    let p256 = KeyAlgorithm::EcdsaP256;
    let day = |n: i64| NOW + Duration::days(n);
    assert!(verify_at(&ca, &pair, &envoy(), p256, &LIFETIME, day(334)).is_ok());
    match verify_at(&ca, &pair, &envoy(), p256, &LIFETIME, day(336)) {
        Err(NotKept::Stale(Stale::DueForRenewal { days_left: 29, .. })) => {}
        other => panic!("{other:?}"),
    }
    // A year and a day later.
    match verify_at(&ca, &pair, &envoy(), p256, &LIFETIME, day(366)) {
        Err(NotKept::Stale(Stale::Expired { not_after })) => {
            assert_eq!(not_after, rfc3339(pair.validity.not_after));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_pair_minted_while_the_clock_ran_ahead_is_not_kept_once_it_is_right() {
    let ca_ahead = Authority::mint(
        "ahead",
        KeyAlgorithm::EcdsaP256,
        &CA_LIFETIME,
        NOW + Duration::days(3),
    )
    .unwrap();
    let pair = ca_ahead
        .issue(
            &envoy(),
            KeyAlgorithm::EcdsaP256,
            &LIFETIME,
            NOW + Duration::days(3),
        )
        .unwrap();
    match Authority::load(
        &ca_ahead.pair().cert_pem,
        &ca_ahead.pair().key_pem,
        KeyAlgorithm::EcdsaP256,
        &CA_LIFETIME,
        NOW,
    ) {
        Err(NotKept::Stale(Stale::NotYetValid { .. })) => {}
        other => panic!("{other:?}"),
    }
    match verify_at(
        &ca_ahead,
        &pair,
        &envoy(),
        KeyAlgorithm::EcdsaP256,
        &LIFETIME,
        NOW,
    ) {
        Err(NotKept::Stale(Stale::NotYetValid { not_before })) => {
            assert!(not_before.contains("T11:55:00Z"), "{not_before}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_pair_from_another_ca_or_with_other_names_usage_key_or_lifetime_is_not_kept() {
    let p256 = KeyAlgorithm::EcdsaP256;
    let ca = ca(p256);
    let other_ca = Authority::mint("other", p256, &CA_LIFETIME, NOW).unwrap();
    let pair = ca.issue(&contour(), p256, &LIFETIME, NOW).unwrap();
    let foreign = other_ca.issue(&contour(), p256, &LIFETIME, NOW).unwrap();
    assert_eq!(
        verify_at(&ca, &foreign, &contour(), p256, &LIFETIME, NOW).unwrap_err(),
        NotKept::NotIssuedByTheCa
    );
    let mut renamed = contour();
    renamed
        .dns_names
        .push("contour.projectcontour.svc.cluster.local".into());
    assert!(matches!(
        verify_at(&ca, &pair, &renamed, p256, &LIFETIME, NOW),
        Err(NotKept::NamesChanged { .. })
    ));
    let as_client = LeafSpec {
        usage: Usage::Client,
        ..contour()
    };
    assert_eq!(
        verify_at(&ca, &pair, &as_client, p256, &LIFETIME, NOW).unwrap_err(),
        NotKept::UsageChanged
    );
    assert!(matches!(
        verify_at(
            &ca,
            &pair,
            &contour(),
            KeyAlgorithm::Rsa2048,
            &LIFETIME,
            NOW
        ),
        Err(NotKept::AlgorithmChanged { .. })
    ));
    let shorter = Lifetime {
        days: 90,
        ..LIFETIME
    };
    assert!(matches!(
        verify_at(&ca, &pair, &contour(), p256, &shorter, NOW),
        Err(NotKept::LifetimeChanged { .. })
    ));
    // Another pair's key with this certificate.
    let mismatched = Pair {
        key_pem: foreign.key_pem.clone(),
        ..pair.clone()
    };
    assert_eq!(
        verify_at(&ca, &mismatched, &contour(), p256, &LIFETIME, NOW).unwrap_err(),
        NotKept::KeyMismatch
    );
    // A leaf is not a CA.
    assert_eq!(
        Authority::load(&pair.cert_pem, &pair.key_pem, p256, &CA_LIFETIME, NOW).unwrap_err(),
        NotKept::NotACa
    );
    let garbled = Secret::new("-----BEGIN PRIVATE KEY-----\nnot base64\n".to_owned());
    let why = Authority::load(&ca.pair().cert_pem, &garbled, p256, &CA_LIFETIME, NOW)
        .unwrap_err()
        .to_string();
    assert!(why.starts_with("it does not parse"), "{why}");
}

#[test]
fn a_ca_near_its_own_end_is_not_kept() {
    let p256 = KeyAlgorithm::EcdsaP256;
    let ca = ca(p256);
    let near_end = NOW + Duration::days(3650 - 300);
    assert!(matches!(
        Authority::load(
            &ca.pair().cert_pem,
            &ca.pair().key_pem,
            p256,
            &CA_LIFETIME,
            near_end
        ),
        Err(NotKept::Stale(Stale::DueForRenewal { .. }))
    ));
}

#[test]
fn a_renewed_ca_keeps_its_key_so_old_and_new_certificates_vouch_for_new_leaves() {
    let old = ca(KeyAlgorithm::EcdsaP256);
    let later = NOW + Duration::days(3650 - 100);
    let err = Authority::load(
        &old.pair().cert_pem,
        &old.pair().key_pem,
        KeyAlgorithm::EcdsaP256,
        &CA_LIFETIME,
        later,
    )
    .unwrap_err();
    assert!(
        matches!(err, NotKept::Stale(Stale::DueForRenewal { .. })),
        "{err}"
    );
    let renewed = Authority::renew(
        &old.pair().cert_pem,
        &old.pair().key_pem,
        KeyAlgorithm::EcdsaP256,
        &CA_LIFETIME,
        later,
    )
    .unwrap();
    assert_ne!(renewed.pair().sha256, old.pair().sha256);
    assert_eq!(
        renewed.pair().key_pem.expose(),
        old.pair().key_pem.expose(),
        "the same key"
    );
    assert_eq!(
        renewed.pair().validity.not_after,
        later.replace_nanosecond(0).unwrap() + Duration::days(3650)
    );
    // A leaf issued by the renewed CA, judged on the day it was issued by a
    // peer holding either CA certificate (the old one still valid then).
    let leaf = renewed
        .issue(&contour(), KeyAlgorithm::EcdsaP256, &LIFETIME, later)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, ca_pem) in [
        ("old", &old.pair().cert_pem),
        ("new", &renewed.pair().cert_pem),
    ] {
        let ca_path = dir.path().join(format!("{name}.crt"));
        let leaf_path = dir.path().join("leaf.crt");
        std::fs::write(&ca_path, ca_pem).unwrap();
        std::fs::write(&leaf_path, &leaf.cert_pem).unwrap();
        let out = std::process::Command::new(crate::tls::test_pki::OPENSSL)
            .args([
                "verify",
                "-attime",
                &(later + Duration::hours(1)).unix_timestamp().to_string(),
            ])
            .args(["-purpose", "sslserver", "-CAfile"])
            .arg(&ca_path)
            .arg(&leaf_path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name} CA: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Not a CA: refused.
    let not_ca = Authority::renew(
        &leaf.cert_pem,
        &leaf.key_pem,
        KeyAlgorithm::EcdsaP256,
        &CA_LIFETIME,
        later,
    )
    .unwrap_err();
    assert_eq!(not_ca, NotKept::NotACa);
}
