//! The generated certificate, read back with x509-parser and the openssl CLI.

use std::net::{IpAddr, Ipv4Addr};

use time::{Duration, OffsetDateTime};
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION};
use x509_parser::pem::parse_x509_pem;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::settings::{KeyFormat, PrivateKey};
use crate::tls::test_pki::{NOW, host, openssl};
use crate::tls::*;

const FQDN: &str = "veba01.lab.example.com";
const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 10, 20));

fn generate(algorithm: KeyAlgorithm, ip: Option<IpAddr>) -> TlsPlan {
    let config = TlsConfig {
        key_algorithm: algorithm,
        ..TlsConfig::default()
    };
    plan(&host(FQDN), ip, None, None, &config, NOW).unwrap()
}

fn pem_der(text: &str) -> Vec<u8> {
    parse_x509_pem(text.as_bytes()).unwrap().1.contents
}

/// Every property the appliance promises of its own certificate.
fn assert_certificate(plan: &TlsPlan, algorithm: KeyAlgorithm) {
    assert_eq!(plan.source, CertSource::SelfSigned);
    assert_eq!(plan.chain_len, 1);
    let der = pem_der(&plan.chain_pem);
    let (_, cert) = X509Certificate::from_der(&der).unwrap();

    assert_eq!(cert.subject().to_string(), format!("CN={FQDN}"));
    assert_eq!(cert.issuer().to_string(), format!("CN={FQDN}"));
    cert.verify_signature(None)
        .expect("self-signature verifies");

    let san = cert.subject_alternative_name().unwrap().unwrap();
    let names: Vec<String> = san
        .value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => d.to_string(),
            GeneralName::IPAddress(b) => IpAddr::from(<[u8; 4]>::try_from(*b).unwrap()).to_string(),
            other => panic!("unexpected SAN {other:?}"),
        })
        .collect();
    assert_eq!(names, ["veba01.lab.example.com", "veba01", "192.168.10.20"]);
    assert_eq!(plan.sans, names);

    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && !eku.client_auth && !eku.any && eku.other.is_empty());
    let ku = cert.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature());
    assert_eq!(ku.key_encipherment(), algorithm.is_rsa());
    assert!(!ku.key_cert_sign());
    let bc = cert
        .basic_constraints()
        .unwrap()
        .expect("basicConstraints present");
    assert!(!bc.value.ca);

    let validity = cert.validity();
    assert_eq!(
        validity.not_before.to_datetime(),
        NOW - Duration::minutes(5)
    );
    assert_eq!(validity.not_after.to_datetime(), NOW + Duration::days(825));
    assert_eq!(plan.not_after, "2028-09-03T12:00:00Z");

    let spki = cert.public_key();
    match (algorithm, spki.parsed().unwrap()) {
        (KeyAlgorithm::EcdsaP256, PublicKey::EC(_)) => {
            assert_eq!(spki.algorithm.algorithm, OID_KEY_TYPE_EC_PUBLIC_KEY);
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .unwrap()
                .as_oid()
                .unwrap();
            assert_eq!(curve, OID_EC_P256);
        }
        (rsa, PublicKey::RSA(key)) => {
            assert_eq!(spki.algorithm.algorithm, OID_PKCS1_RSAENCRYPTION);
            let bits = match rsa {
                KeyAlgorithm::Rsa2048 => 2048,
                KeyAlgorithm::Rsa3072 => 3072,
                KeyAlgorithm::Rsa4096 => 4096,
                KeyAlgorithm::EcdsaP256 => unreachable!(),
            };
            assert_eq!(key.key_size(), bits);
        }
        (alg, other) => panic!("{alg:?} produced {other:?}"),
    }
    // Positive, 16 octets of randomness.
    assert_eq!(cert.raw_serial().len(), 16);
    assert!(cert.raw_serial()[0] & 0x80 == 0);

    // The key is PKCS#8 and belongs to the certificate: served back as user
    // material it passes every user-certificate check.
    assert!(
        plan.key_pem
            .expose()
            .starts_with("-----BEGIN PRIVATE KEY-----\n")
    );
    let material = TlsMaterial {
        certificates: vec![der],
        private_key: PrivateKey {
            format: KeyFormat::Pkcs8,
            der: crate::secret::Secret::new(pem_der(plan.key_pem.expose())),
        },
    };
    let again = crate::tls::plan(
        &host(FQDN),
        None,
        Some(&material),
        None,
        &TlsConfig::default(),
        NOW,
    )
    .unwrap();
    assert_eq!(again.leaf_sha256, plan.leaf_sha256);
}

#[test]
fn default_is_ecdsa_p256_with_names_ip_server_auth_and_validity() {
    let plan = generate(KeyAlgorithm::default(), Some(IP));
    assert_certificate(&plan, KeyAlgorithm::EcdsaP256);
}

#[test]
fn rsa_2048_has_key_encipherment_too() {
    assert_certificate(
        &generate(KeyAlgorithm::Rsa2048, Some(IP)),
        KeyAlgorithm::Rsa2048,
    );
}

#[test]
fn rsa_3072_key_size_is_honoured() {
    assert_certificate(
        &generate(KeyAlgorithm::Rsa3072, Some(IP)),
        KeyAlgorithm::Rsa3072,
    );
}

// aws-lc builds its C optimised even in debug profiles: about a second here.
#[test]
fn rsa_4096_key_size_is_honoured() {
    assert_certificate(
        &generate(KeyAlgorithm::Rsa4096, Some(IP)),
        KeyAlgorithm::Rsa4096,
    );
}

#[test]
fn without_static_ip_the_sans_are_the_names_only() {
    let plan = generate(KeyAlgorithm::EcdsaP256, None);
    assert_eq!(plan.sans, ["veba01.lab.example.com", "veba01"]);
}

#[test]
fn openssl_accepts_it_for_the_host_and_ip_as_a_server_certificate() {
    let plan = generate(KeyAlgorithm::EcdsaP256, Some(IP));
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("tls.crt");
    std::fs::write(&cert, &plan.chain_pem).unwrap();
    let cert = cert.to_str().unwrap();
    let text = String::from_utf8(openssl(&["x509", "-noout", "-text", "-in", cert], b"")).unwrap();
    assert!(text.contains("CA:FALSE"), "{text}");
    assert!(text.contains("TLS Web Server Authentication"), "{text}");
    assert!(
        text.contains("DNS:veba01.lab.example.com, DNS:veba01, IP Address:192.168.10.20"),
        "{text}"
    );

    let check = String::from_utf8(openssl(
        &[
            "x509",
            "-noout",
            "-in",
            cert,
            "-checkhost",
            FQDN,
            "-checkip",
            "192.168.10.20",
        ],
        b"",
    ))
    .unwrap();
    assert!(
        check.contains(&format!("Hostname {FQDN} does match certificate")),
        "{check}"
    );
    assert!(
        check.contains("IP 192.168.10.20 does match certificate"),
        "{check}"
    );

    let at = NOW.unix_timestamp().to_string();
    let verify = openssl(
        &[
            "verify",
            "-attime",
            &at,
            "-partial_chain",
            "-purpose",
            "sslserver",
            "-CAfile",
            cert,
            cert,
        ],
        b"",
    );
    assert!(String::from_utf8_lossy(&verify).contains(": OK"));

    // And the key is a sound key openssl can read.
    openssl(
        &["pkey", "-check", "-noout"],
        plan.key_pem.expose().as_bytes(),
    );
}

#[test]
fn serials_differ_between_generations() {
    let a = pem_der(&generate(KeyAlgorithm::EcdsaP256, None).chain_pem);
    let b = pem_der(&generate(KeyAlgorithm::EcdsaP256, None).chain_pem);
    let serial = |der: &[u8]| {
        X509Certificate::from_der(der)
            .unwrap()
            .1
            .raw_serial()
            .to_vec()
    };
    assert_ne!(serial(&a), serial(&b));
}

#[test]
fn validity_and_backdate_follow_the_config() {
    let config = TlsConfig {
        validity_days: 90,
        backdate_minutes: 60,
        ..TlsConfig::default()
    };
    let plan = self_signed(&host(FQDN), None, &config, NOW).unwrap();
    let der = pem_der(&plan.chain_pem);
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    assert_eq!(
        cert.validity().not_before.to_datetime(),
        NOW - Duration::hours(1)
    );
    assert_eq!(
        cert.validity().not_after.to_datetime(),
        NOW + Duration::days(90)
    );
    assert!(plan.warnings.is_empty());
}

#[test]
fn validity_beyond_825_days_warns_about_apple_platforms() {
    let config = TlsConfig {
        validity_days: 3650,
        ..TlsConfig::default()
    };
    let plan = self_signed(&host(FQDN), None, &config, NOW).unwrap();
    assert_eq!(plan.warnings.len(), 1);
    assert!(plan.warnings[0].starts_with("tls.validity_days is 3650"));
}

#[test]
fn sub_second_clock_is_truncated_so_the_summary_matches_the_certificate() {
    let now = OffsetDateTime::from_unix_timestamp_nanos(1_780_315_200_987_654_321).unwrap();
    let plan = generate_at(now);
    assert!(plan.not_after.ends_with(":00Z"), "{}", plan.not_after);
}

fn generate_at(now: OffsetDateTime) -> TlsPlan {
    self_signed(&host(FQDN), None, &TlsConfig::default(), now).unwrap()
}

#[test]
fn bad_config_is_refused_before_generating() {
    let config = TlsConfig {
        validity_days: 0,
        ..TlsConfig::default()
    };
    let err = plan(&host(FQDN), None, None, None, &config, NOW).unwrap_err();
    assert_eq!(
        err,
        TlsError::Config {
            key: "validity_days",
            problem: "must be between 1 and 3650, got 0".into()
        }
    );
}

#[test]
fn kubernetes_secret_carries_chain_and_key_and_redacts_itself() {
    use base64::Engine;
    let plan = generate(KeyAlgorithm::EcdsaP256, None);
    let secret = kubernetes_secret(&plan, "veba-tls", "vmware-system");
    let body = plan.key_pem.expose().lines().nth(1).unwrap().to_owned();
    let key_b64 = base64::engine::general_purpose::STANDARD.encode(plan.key_pem.expose());
    for shown in [
        format!("{secret:?}"),
        serde_json::to_string(&secret).unwrap(),
    ] {
        assert!(
            !shown.contains(&body) && !shown.contains(&key_b64[..40]),
            "{shown}"
        );
    }

    let doc = secret.expose().value();
    assert_eq!(doc["apiVersion"], "v1");
    assert_eq!(doc["kind"], "Secret");
    assert_eq!(doc["type"], "kubernetes.io/tls");
    assert_eq!(doc["metadata"]["name"], "veba-tls");
    assert_eq!(doc["metadata"]["namespace"], "vmware-system");
    let decode = |field: &str| {
        let text = doc["data"][field].as_str().unwrap();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(decode("tls.crt"), plan.chain_pem);
    assert_eq!(&decode("tls.key"), plan.key_pem.expose());
}

#[test]
fn zeroizing_json_clears_every_string() {
    use zeroize::Zeroize;
    let plan = generate(KeyAlgorithm::EcdsaP256, None);
    let mut doc = ZeroizingJson::new(serde_json::json!({"a": ["x", {"b": "y"}], "n": 1}));
    doc.zeroize();
    assert_eq!(doc.value(), &serde_json::Value::Null);
    // The real Secret is dropped (and zeroed) without fuss.
    drop(kubernetes_secret(&plan, "veba-tls", "vmware-system"));
}
