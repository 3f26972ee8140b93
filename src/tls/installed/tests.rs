//! Reruns: the installed self-signed pair is kept when it is still the one
//! this run would make, and replaced (never refused) otherwise. Real
//! certificates throughout: made by this agent, or by rcgen for the odd ones.

use std::net::{IpAddr, Ipv4Addr};

use rcgen::{CertificateParams, DnType, KeyPair};
use time::{Duration, OffsetDateTime};
use x509_parser::pem::parse_x509_pem;

use crate::tls::installed::reuse;
use crate::tls::test_pki::*;
use crate::tls::*;

const FQDN: &str = "veba01.lab.example.com";
const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 10, 20));

fn config(key_algorithm: KeyAlgorithm) -> TlsConfig {
    TlsConfig {
        key_algorithm,
        ..TlsConfig::default()
    }
}

/// What a first run makes (and the caller installs).
fn first_run(ip: Option<IpAddr>, config: &TlsConfig) -> TlsPlan {
    let plan = plan(&host(FQDN), ip, None, None, config, NOW).unwrap();
    assert!(!plan.reused);
    plan
}

fn installed(plan: &TlsPlan) -> InstalledPair {
    InstalledPair {
        cert_pem: plan.chain_pem.clone(),
        key_pem: plan.key_pem.clone(),
    }
}

/// The installed (first) certificate's fingerprint, if there is one to read.
fn fingerprint(cert_pem: &str) -> Option<String> {
    parse_x509_pem(cert_pem.as_bytes())
        .ok()
        .map(|(_, pem)| sha256_fingerprint(&pem.contents))
}

/// The rerun replaces the pair (a fresh certificate, not an error) and says why.
fn regenerated(
    pair: &InstalledPair,
    name: &str,
    ip: Option<IpAddr>,
    config: &TlsConfig,
    now: OffsetDateTime,
) -> NotReused {
    let plan = plan(&host(name), ip, None, Some(pair), config, now).unwrap();
    assert!(!plan.reused);
    assert_eq!(plan.source, CertSource::SelfSigned);
    if let Some(old) = fingerprint(&pair.cert_pem) {
        assert_ne!(
            plan.leaf_sha256, old,
            "the installed certificate was served"
        );
    }
    reuse(pair, &host(name), ip, config, now).unwrap_err()
}

#[test]
fn rerun_with_the_same_settings_serves_the_installed_pair_unchanged() {
    for algorithm in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048] {
        let config = config(algorithm);
        let first = first_run(Some(IP), &config);
        // A rerun a month later, after a power cut.
        let later = NOW + Duration::days(30);
        let again = plan(
            &host(FQDN),
            Some(IP),
            None,
            Some(&installed(&first)),
            &config,
            later,
        )
        .unwrap();
        assert!(again.reused);
        assert_eq!(again.source, CertSource::SelfSigned);
        assert_eq!(again.chain_pem, first.chain_pem);
        assert_eq!(again.key_pem.expose(), first.key_pem.expose());
        assert_eq!(again.leaf_sha256, first.leaf_sha256);
        assert_eq!(again.sans, first.sans);
        assert_eq!(again.not_after, first.not_after);
        assert_eq!(again.chain_len, 1);
        // Same Secret, so Contour and the clients see no rotation.
        assert_eq!(
            kubernetes_secret(&again, "s", "n").expose().value(),
            kubernetes_secret(&first, "s", "n").expose().value()
        );
    }
}

#[test]
fn host_name_change_regenerates() {
    let config = config(KeyAlgorithm::EcdsaP256);
    let pair = installed(&first_run(None, &config));
    let why = regenerated(&pair, "veba02.lab.example.com", None, &config, NOW);
    assert!(matches!(why, NotReused::HostNameChanged { .. }), "{why:?}");
    assert_eq!(
        why.to_string(),
        "host name changed (installed DNS names veba01.lab.example.com, veba01; now veba02.lab.example.com, veba02)"
    );
}

#[test]
fn domain_change_with_the_same_short_name_regenerates() {
    let config = config(KeyAlgorithm::EcdsaP256);
    let pair = installed(&first_run(None, &config));
    let why = regenerated(&pair, "veba01.prod.example.com", None, &config, NOW);
    assert!(matches!(why, NotReused::HostNameChanged { .. }), "{why:?}");
}

#[test]
fn static_ip_added_changed_or_removed_regenerates() {
    let config = config(KeyAlgorithm::EcdsaP256);
    let without_ip = installed(&first_run(None, &config));
    let with_ip = installed(&first_run(Some(IP), &config));
    let other_ip = Some(IpAddr::V4(Ipv4Addr::new(192, 168, 10, 21)));
    for (pair, ip) in [
        (&without_ip, Some(IP)),
        (&with_ip, other_ip),
        (&with_ip, None),
    ] {
        let why = regenerated(pair, FQDN, ip, &config, NOW);
        assert!(matches!(why, NotReused::StaticIpChanged { .. }), "{why:?}");
    }
    let why = regenerated(&with_ip, FQDN, None, &config, NOW);
    assert_eq!(
        why.to_string(),
        "static IP changed (installed [192.168.10.20]; now [])"
    );
}

#[test]
fn key_algorithm_change_regenerates_with_the_new_algorithm() {
    let pair = installed(&first_run(None, &config(KeyAlgorithm::EcdsaP256)));
    let rsa = config(KeyAlgorithm::Rsa2048);
    let why = regenerated(&pair, FQDN, None, &rsa, NOW);
    assert_eq!(
        why,
        NotReused::AlgorithmChanged {
            installed: "ecdsa-p256".into(),
            configured: "rsa-2048",
        }
    );
    // RSA 2048 installed, RSA 3072 configured: the size counts too.
    let pair = installed(&first_run(None, &rsa));
    let why = regenerated(&pair, FQDN, None, &config(KeyAlgorithm::Rsa3072), NOW);
    assert!(matches!(why, NotReused::AlgorithmChanged { .. }), "{why:?}");
}

#[test]
fn key_of_another_run_regenerates() {
    // A power cut between renaming the new key and the new certificate into place.
    let config = config(KeyAlgorithm::EcdsaP256);
    let old = first_run(None, &config);
    let new = first_run(None, &config);
    let pair = InstalledPair {
        cert_pem: old.chain_pem.clone(),
        key_pem: new.key_pem.clone(),
    };
    assert_eq!(
        regenerated(&pair, FQDN, None, &config, NOW),
        NotReused::KeyMismatch
    );
}

#[test]
fn expired_not_yet_valid_or_expiring_soon_regenerates() {
    let config = config(KeyAlgorithm::EcdsaP256);
    let first = first_run(None, &config);
    let pair = installed(&first);
    let not_after = NOW + Duration::days(825);

    let why = regenerated(&pair, FQDN, None, &config, not_after + Duration::days(1));
    assert!(matches!(why, NotReused::Expired { .. }), "{why:?}");

    // Within expiry_warning_days (30) of notAfter.
    let why = regenerated(&pair, FQDN, None, &config, not_after - Duration::days(10));
    assert_eq!(
        why,
        NotReused::ExpiresSoon {
            not_after: first.not_after.clone(),
            days_left: 10,
        }
    );
    // One day outside the window, it is kept.
    let kept = reuse(
        &pair,
        &host(FQDN),
        None,
        &config,
        not_after - Duration::days(31),
    );
    assert!(kept.is_ok());

    // The clock went back past the backdated notBefore.
    let why = regenerated(&pair, FQDN, None, &config, NOW - Duration::days(1));
    assert!(matches!(why, NotReused::NotYetValid { .. }), "{why:?}");
}

#[test]
fn validity_days_lowered_regenerates() {
    let pair = installed(&first_run(None, &config(KeyAlgorithm::EcdsaP256)));
    let shorter = TlsConfig {
        validity_days: 398,
        ..TlsConfig::default()
    };
    let why = regenerated(&pair, FQDN, None, &shorter, NOW);
    assert!(matches!(why, NotReused::ValidityLowered { .. }), "{why:?}");
}

/// A certificate like this agent's (CN, SANs, dates, P-256), then changed by `tweak`.
fn lookalike(tweak: impl FnOnce(&mut CertificateParams)) -> (CertificateParams, KeyPair) {
    let mut params =
        CertificateParams::new(vec![FQDN.to_owned(), "veba01".to_owned()]).expect("SANs");
    params.distinguished_name.push(DnType::CommonName, FQDN);
    params.not_before = NOW - Duration::minutes(5);
    params.not_after = NOW + Duration::days(825);
    tweak(&mut params);
    (params, ec_key())
}

fn pair_of(der: &[u8], key: &KeyPair) -> InstalledPair {
    InstalledPair {
        cert_pem: pem::encode("CERTIFICATE", der),
        key_pem: pem::encode_secret("PRIVATE KEY", key.serialized_der()),
    }
}

#[test]
fn a_lookalike_made_elsewhere_is_kept_only_if_it_is_what_we_would_make() {
    // The control: identical in every checked respect, so it is kept.
    let (params, key) = lookalike(|_| {});
    let cert = params.self_signed(&key).unwrap();
    let config = config(KeyAlgorithm::EcdsaP256);
    assert!(reuse(&pair_of(cert.der(), &key), &host(FQDN), None, &config, NOW).is_ok());

    let (params, key) = lookalike(|p| {
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, "appliance");
    });
    let cert = params.self_signed(&key).unwrap();
    let why = regenerated(&pair_of(cert.der(), &key), FQDN, None, &config, NOW);
    assert_eq!(
        why,
        NotReused::CommonNameChanged {
            installed: vec!["appliance".into()]
        }
    );

    let (params, key) = lookalike(|p| {
        p.subject_alt_names.push(rcgen::SanType::DnsName(
            "extra.example.com".try_into().unwrap(),
        ))
    });
    let cert = params.self_signed(&key).unwrap();
    let why = regenerated(&pair_of(cert.der(), &key), FQDN, None, &config, NOW);
    assert!(matches!(why, NotReused::HostNameChanged { .. }), "{why:?}");
}

#[test]
fn a_ca_issued_certificate_is_not_taken_for_ours() {
    let root = Authority::root("Lab Root CA");
    let key = ec_key();
    let mut spec = LeafSpec::for_names(&[FQDN, "veba01"]);
    spec.not_before = NOW - Duration::minutes(5);
    spec.not_after = NOW + Duration::days(825);
    let leaf = root.issue(&spec, &key);
    let config = config(KeyAlgorithm::EcdsaP256);
    assert_eq!(
        regenerated(&pair_of(&leaf, &key), FQDN, None, &config, NOW),
        NotReused::NotSelfSigned
    );
}

#[test]
fn an_installed_pair_that_does_not_parse_is_replaced_not_refused() {
    let config = config(KeyAlgorithm::EcdsaP256);
    let good = first_run(None, &config);
    let cases = [
        InstalledPair {
            cert_pem: "truncated by a power cut".into(),
            key_pem: good.key_pem.clone(),
        },
        InstalledPair {
            cert_pem: good.chain_pem.clone(),
            key_pem: crate::secret::Secret::new(String::new()),
        },
        InstalledPair {
            cert_pem: format!("{}{}", good.chain_pem, good.chain_pem),
            key_pem: good.key_pem.clone(),
        },
    ];
    for pair in &cases {
        let why = regenerated(pair, FQDN, None, &config, NOW);
        assert!(matches!(why, NotReused::Unreadable(_)), "{why:?}");
    }
}

#[test]
fn admin_material_wins_over_the_installed_pair() {
    let config = config(KeyAlgorithm::EcdsaP256);
    let pair = installed(&first_run(None, &config));
    let root = Authority::root("Lab Root CA");
    let key = ec_key();
    let leaf = root.issue(&LeafSpec::for_names(&[FQDN]), &key);
    let plan = plan(
        &host(FQDN),
        None,
        Some(&material(&[&leaf], &key)),
        Some(&pair),
        &config,
        NOW,
    )
    .unwrap();
    assert_eq!(plan.source, CertSource::User);
    assert!(!plan.reused);
    assert_eq!(plan.chain_pem, pem::encode("CERTIFICATE", &leaf));
}

#[test]
fn installed_pair_and_reasons_never_show_the_key() {
    let config = config(KeyAlgorithm::EcdsaP256);
    let first = first_run(None, &config);
    let pair = installed(&first);
    let debug = format!("{pair:?}");
    let body: String = first
        .key_pem
        .expose()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(!debug.contains(&body[..40]), "{debug}");
    assert!(debug.contains(crate::secret::REDACTED), "{debug}");
    // A key that is not PKCS#8 base64: the reason names the file, not the text.
    let broken = InstalledPair {
        cert_pem: first.chain_pem.clone(),
        key_pem: crate::secret::Secret::new(format!(
            "-----BEGIN PRIVATE KEY-----\n{}!!\n-----END PRIVATE KEY-----\n",
            &body[..40]
        )),
    };
    let why = reuse(&broken, &host(FQDN), None, &config, NOW)
        .unwrap_err()
        .to_string();
    assert!(
        why.starts_with("the installed pair does not parse: tls.key"),
        "{why}"
    );
    assert!(!why.contains(&body[..40]), "{why}");
    let reused = reuse(&pair, &host(FQDN), None, &config, NOW).unwrap();
    assert!(!format!("{reused:?}").contains(&body[..40]));
}
