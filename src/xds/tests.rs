//! The xDS plan near and past expiry, judged by the PKI's own checks and by
//! `openssl verify`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use time::Duration;

use super::*;
use crate::tls::test_pki::{NOW, OPENSSL};

fn kept_from(plan: &XdsPlan) -> Kept {
    let pair = |p: &Pair| {
        Some(KeptPair {
            cert_pem: p.cert_pem.clone(),
            key_pem: p.key_pem.clone(),
        })
    };
    Kept {
        ca: pair(&plan.ca),
        contour: pair(&plan.contour),
        envoy: pair(&plan.envoy),
    }
}

fn minted(plan: &XdsPlan) -> Vec<(Which, String)> {
    plan.minted
        .iter()
        .map(|m| (m.which, m.why.clone()))
        .collect()
}

fn fresh() -> XdsPlan {
    plan(&Kept::default(), &XdsConfig::default(), NOW).unwrap()
}

fn openssl_verify(ca: &str, leaf: &str, purpose: &str, at: OffsetDateTime) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.crt"), ca).unwrap();
    std::fs::write(dir.path().join("leaf.crt"), leaf).unwrap();
    let out = std::process::Command::new(OPENSSL)
        .args([
            "verify",
            "-attime",
            &at.unix_timestamp().to_string(),
            "-purpose",
            purpose,
        ])
        .args([
            "-verify_hostname",
            if purpose == "sslserver" {
                "contour"
            } else {
                "envoy"
            },
        ])
        .arg("-CAfile")
        .arg(dir.path().join("ca.crt"))
        .arg(dir.path().join("leaf.crt"))
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn a_first_run_mints_a_ca_and_two_pairs_under_certgens_names() {
    let plan = fresh();
    assert_eq!(
        minted(&plan),
        [
            (Which::Ca, "none is kept yet".to_owned()),
            (Which::Contour, "the CA changed".to_owned()),
            (Which::Envoy, "the CA changed".to_owned()),
        ]
    );
    openssl_verify(&plan.ca.cert_pem, &plan.contour.cert_pem, "sslserver", NOW).unwrap();
    openssl_verify(&plan.ca.cert_pem, &plan.envoy.cert_pem, "sslclient", NOW).unwrap();
    assert!(openssl_verify(&plan.ca.cert_pem, &plan.envoy.cert_pem, "sslserver", NOW).is_err());
    assert_eq!(
        contour_spec().dns_names,
        [
            "contour",
            "contour.projectcontour",
            "contour.projectcontour.svc",
            "contour.projectcontour.svc.cluster.local"
        ]
    );
    assert_eq!(envoy_spec().common_name, "envoy");
    assert_eq!(
        plan.contour.validity.not_after - plan.contour.validity.not_before,
        Duration::days(365) + Duration::minutes(5)
    );
}

#[test]
fn a_rerun_keeps_everything_and_mints_nothing() {
    let first = fresh();
    let again = plan(
        &kept_from(&first),
        &XdsConfig::default(),
        NOW + Duration::days(1),
    )
    .unwrap();
    assert!(again.minted.is_empty(), "{:?}", again.minted);
    assert_eq!(again.fingerprints(), first.fingerprints());
    assert_eq!(again.ca.key_pem.expose(), first.ca.key_pem.expose());
}

#[test]
fn pairs_within_their_window_or_expired_are_renewed_under_the_same_ca() {
    let first = fresh();
    let config = XdsConfig::default();
    for (days, why) in [
        (340, "within its renewal window"),
        (366, "expired on"),
        (365 * 3, "expired on"),
    ] {
        let later = NOW + Duration::days(days);
        let renewed = plan(&kept_from(&first), &config, later).unwrap();
        let reasons = minted(&renewed);
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(
            reasons
                .iter()
                .all(|(w, r)| *w != Which::Ca && r.contains(why)),
            "{days}: {reasons:?}"
        );
        assert_eq!(renewed.ca.sha256, first.ca.sha256, "the CA is kept");
        openssl_verify(
            &first.ca.cert_pem,
            &renewed.contour.cert_pem,
            "sslserver",
            later,
        )
        .unwrap();
        openssl_verify(
            &first.ca.cert_pem,
            &renewed.envoy.cert_pem,
            "sslclient",
            later,
        )
        .unwrap();
        // Renewed once, kept after.
        let next = plan(&kept_from(&renewed), &config, later + Duration::days(1)).unwrap();
        assert!(next.minted.is_empty(), "{days}: {:?}", next.minted);
    }
}

#[test]
fn a_ca_within_its_window_is_renewed_with_its_key_and_the_old_one_still_trusts_the_new_pairs() {
    let first = fresh();
    let later = NOW + Duration::days(3650 - 200);
    let renewed = plan(&kept_from(&first), &XdsConfig::default(), later).unwrap();
    let reasons = minted(&renewed);
    assert_eq!(reasons[0].0, Which::Ca);
    assert!(
        reasons[0].1.contains("renewed with its key kept"),
        "{reasons:?}"
    );
    assert_ne!(renewed.ca.sha256, first.ca.sha256);
    assert_eq!(renewed.ca.key_pem.expose(), first.ca.key_pem.expose());
    // A pod still mounting the old ca.crt accepts the new pairs.
    openssl_verify(
        &first.ca.cert_pem,
        &renewed.contour.cert_pem,
        "sslserver",
        later,
    )
    .unwrap();
    openssl_verify(
        &first.ca.cert_pem,
        &renewed.envoy.cert_pem,
        "sslclient",
        later,
    )
    .unwrap();
    openssl_verify(
        &renewed.ca.cert_pem,
        &renewed.envoy.cert_pem,
        "sslclient",
        later,
    )
    .unwrap();
}

#[test]
fn pairs_minted_while_the_clock_ran_ahead_are_minted_again_once_it_is_right() {
    let ahead = plan(
        &Kept::default(),
        &XdsConfig::default(),
        NOW + Duration::days(3),
    )
    .unwrap();
    let right = plan(&kept_from(&ahead), &XdsConfig::default(), NOW).unwrap();
    let reasons = minted(&right);
    assert_eq!(reasons[0].0, Which::Ca);
    assert!(reasons[0].1.contains("not valid until"), "{reasons:?}");
    assert!(right.ca.validity.not_before <= NOW);
    assert!(right.contour.validity.not_before <= NOW);
}

#[test]
fn a_key_type_change_mints_a_new_ca_and_pairs() {
    let first = fresh();
    let config = XdsConfig {
        key_algorithm: crate::tls::KeyAlgorithm::Rsa2048,
        ..XdsConfig::default()
    };
    let changed = plan(&kept_from(&first), &config, NOW).unwrap();
    assert!(
        minted(&changed)[0].1.contains("the key type changed"),
        "{:?}",
        changed.minted
    );
    assert_ne!(changed.ca.key_pem.expose(), first.ca.key_pem.expose());
}

#[test]
fn a_pair_damaged_on_disk_is_minted_again_alone() {
    let first = fresh();
    let mut kept = kept_from(&first);
    // The envoy key of another pair: a power cut between key and certificate.
    kept.envoy.as_mut().unwrap().key_pem = first.contour.key_pem.clone();
    let again = plan(&kept, &XdsConfig::default(), NOW).unwrap();
    assert_eq!(
        minted(&again),
        [(
            Which::Envoy,
            "the key does not match the certificate".to_owned()
        )]
    );
    assert_eq!(again.contour.sha256, first.contour.sha256);
}

#[test]
fn the_secrets_are_certgens_compact_format_and_never_show_a_key() {
    let plan = fresh();
    let [contour, envoy] = plan.secrets();
    for (secret, name, pair) in [
        (&contour, "contourcert", &plan.contour),
        (&envoy, "envoycert", &plan.envoy),
    ] {
        let value = secret.expose().value();
        assert_eq!(value["type"], "kubernetes.io/tls");
        assert_eq!(value["metadata"]["name"], name);
        assert_eq!(value["metadata"]["namespace"], "projectcontour");
        assert_eq!(value["metadata"]["labels"]["app"], "contour");
        let data = value["data"].as_object().unwrap();
        assert_eq!(
            data.keys().collect::<Vec<_>>(),
            ["ca.crt", "tls.crt", "tls.key"]
        );
        let decoded = |k: &str| {
            String::from_utf8(STANDARD.decode(data[k].as_str().unwrap()).unwrap()).unwrap()
        };
        assert_eq!(decoded("ca.crt"), plan.ca.cert_pem);
        assert_eq!(decoded("tls.crt"), pair.cert_pem);
        assert_eq!(&decoded("tls.key"), pair.key_pem.expose());
        assert!(!format!("{secret:?}").contains("PRIVATE KEY"));
    }
    let shown = format!("{plan:?}");
    assert!(
        !shown.contains("PRIVATE KEY") && !shown.contains("BEGIN"),
        "{shown}"
    );
}

#[test]
fn each_key_is_written_before_its_certificate_and_only_for_root() {
    let files = fresh().files();
    let paths: Vec<&str> = files.iter().map(|f| f.path.to_str().unwrap()).collect();
    assert_eq!(paths, PATHS);
    for file in &files {
        let key = file.path.extension().unwrap() == "key";
        assert_eq!(
            file.mode,
            if key { 0o600 } else { 0o644 },
            "{}",
            file.path.display()
        );
        assert_eq!(file.contents.is_secret(), key);
        assert_eq!(file.dir_mode, Some(0o700));
    }
}
