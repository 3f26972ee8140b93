//! A fresh self-signed server certificate, for when the admin pasted none.

use std::net::IpAddr;

use rcgen::string::Ia5String;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, RsaKeySize, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use super::config::APPLE_MAX_VALIDITY_DAYS;
use super::{
    CertSource, KeyAlgorithm, TlsConfig, TlsError, TlsPlan, expiry_warning_from, pem, rfc3339,
    sha256_fingerprint,
};
use crate::settings::Hostname;

/// Generate the key and a self-signed certificate for the appliance: CN = FQDN;
/// SANs = FQDN, short name, static IP; serverAuth only; not a CA; backdated by
/// `backdate_minutes`; valid `validity_days`.
///
/// Public so the bench can time generation per [`KeyAlgorithm`].
pub fn self_signed(
    hostname: &Hostname,
    static_ip: Option<IpAddr>,
    config: &TlsConfig,
    now: OffsetDateTime,
) -> Result<TlsPlan, TlsError> {
    config.validate()?;
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let algorithm = config.key_algorithm;
    let key_pair = generate_key(algorithm).map_err(generate)?;

    let now = now.replace_nanosecond(0).unwrap_or(now);
    let not_after = now + Duration::days(i64::from(config.validity_days));

    let mut params = CertificateParams::default();
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, hostname.fqdn());
    params.distinguished_name = subject;
    let mut sans = vec![hostname.fqdn().to_owned()];
    if hostname.short() != hostname.fqdn() {
        sans.push(hostname.short().to_owned());
    }
    params.subject_alt_names = sans
        .iter()
        .map(|name| Ia5String::try_from(name.as_str()).map(SanType::DnsName))
        .collect::<Result<_, _>>()
        .map_err(generate)?;
    if let Some(ip) = static_ip {
        params.subject_alt_names.push(SanType::IpAddress(ip));
        sans.push(ip.to_string());
    }
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if algorithm.is_rsa() {
        // RSA key exchange (TLS 1.2 non-ECDHE suites) encrypts to the key.
        params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    }
    params.is_ca = IsCa::ExplicitNoCa;
    params.not_before = now - Duration::minutes(i64::from(config.backdate_minutes));
    params.not_after = not_after;
    params.serial_number = Some(random_serial()?);

    let cert = params.self_signed(&key_pair).map_err(generate)?;
    let der = cert.der().as_ref();

    let warnings = config_warnings(config);
    tracing::debug!(
        algorithm = algorithm.as_str(),
        "generated a self-signed certificate"
    );
    Ok(TlsPlan {
        source: CertSource::SelfSigned,
        reused: false,
        chain_pem: pem::encode("CERTIFICATE", der),
        key_pem: pem::encode_secret("PRIVATE KEY", key_pair.serialized_der()),
        leaf_sha256: sha256_fingerprint(der),
        sans,
        not_after: rfc3339(not_after),
        expiry_warning_from: expiry_warning_from(not_after, config),
        chain_len: 1,
        warnings,
    })
}

/// A new key of the configured type (also the private PKI's, [`super::pki`]).
pub(super) fn generate_key(algorithm: KeyAlgorithm) -> Result<KeyPair, rcgen::Error> {
    match algorithm {
        KeyAlgorithm::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyAlgorithm::Rsa2048 => {
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048)
        }
        KeyAlgorithm::Rsa3072 => {
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_3072)
        }
        KeyAlgorithm::Rsa4096 => {
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_4096)
        }
    }
}

/// What the admin should know about the config a self-signed certificate is made with.
pub(super) fn config_warnings(config: &TlsConfig) -> Vec<String> {
    let mut warnings = Vec::new();
    if config.validity_days > APPLE_MAX_VALIDITY_DAYS {
        warnings.push(format!(
            "tls.validity_days is {}: macOS and iOS refuse server certificates valid for more than {APPLE_MAX_VALIDITY_DAYS} days",
            config.validity_days
        ));
    }
    warnings
}

/// 128 random bits, positive (RFC 5280 §4.1.2.2: at most 20 octets, non-negative).
pub(super) fn random_serial() -> Result<SerialNumber, TlsError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| TlsError::Generate("the random number generator failed".into()))?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01; // keep the full length: no leading zero octet to strip
    Ok(SerialNumber::from_slice(&bytes))
}

#[cfg(test)]
mod tests;
