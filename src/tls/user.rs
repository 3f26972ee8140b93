//! The admin's certificate chain and key: checked, then ordered leaf first.

use std::net::IpAddr;

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _,
    RsaKeyPair,
};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate, X509Error};

use super::key_kind::{self, KeyKind};
use super::names::printable;
use super::{
    CertSource, TlsConfig, TlsError, TlsPlan, names, pem, profile, rfc3339, sha256_fingerprint,
};
use crate::settings::{Hostname, KeyFormat, PrivateKey, TlsMaterial};

/// One pasted certificate, parsed (borrowing the DER it came from).
struct Pasted<'a> {
    /// 1-based, in the order the admin pasted them: how errors point at it.
    position: usize,
    der: &'a [u8],
    cert: X509Certificate<'a>,
}

pub(super) fn from_material(
    hostname: &Hostname,
    material: &TlsMaterial,
    config: &TlsConfig,
    now: OffsetDateTime,
) -> Result<TlsPlan, TlsError> {
    let mut pasted = parse_all(&material.certificates)?;
    let public_key = public_key_of(&material.private_key)?;

    let matching: Vec<usize> = pasted
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            p.cert.public_key().subject_public_key.data.as_ref() == public_key.as_slice()
        })
        .map(|(i, _)| i)
        .collect();
    let leaf = match matching.as_slice() {
        [] => {
            return Err(TlsError::KeyMatchesNoCertificate {
                count: pasted.len(),
            });
        }
        [one] => pasted.remove(*one),
        several => {
            return Err(TlsError::SeveralLeaves {
                count: several.len(),
                subjects: several
                    .iter()
                    .map(|&i| printable(&pasted[i].cert.subject().to_string()))
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }
    };

    profile::check_server_leaf(&leaf.cert, hostname)?;
    let sans = check_names(&leaf, hostname)?;
    let mut warnings = Vec::new();
    check_dates(&leaf.cert, config, now, &mut warnings)?;
    let chain = order_chain(leaf, pasted, &mut warnings)?;

    let chain_pem: String = chain
        .iter()
        .map(|p| pem::encode("CERTIFICATE", p.der))
        .collect();
    let label = match material.private_key.format {
        KeyFormat::Pkcs8 => "PRIVATE KEY",
        KeyFormat::Pkcs1Rsa => "RSA PRIVATE KEY",
        KeyFormat::Sec1Ec => "EC PRIVATE KEY",
    };
    let leaf = &chain[0];
    let not_after = leaf.cert.validity().not_after.to_datetime();
    Ok(TlsPlan {
        source: CertSource::User,
        reused: false,
        chain_pem,
        key_pem: pem::encode_secret(label, material.private_key.der.expose()),
        leaf_sha256: sha256_fingerprint(leaf.der),
        sans,
        not_after: rfc3339(not_after),
        expiry_warning_from: super::expiry_warning_from(not_after, config),
        chain_len: chain.len(),
        warnings,
    })
}

/// Parse every certificate; identical ones pasted twice count once.
fn parse_all(certificates: &[Vec<u8>]) -> Result<Vec<Pasted<'_>>, TlsError> {
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let mut pasted: Vec<Pasted<'_>> = Vec::with_capacity(certificates.len());
    for (i, der) in certificates.iter().enumerate() {
        let position = i + 1;
        if pasted.iter().any(|p| p.der == der.as_slice()) {
            tracing::debug!(position, "certificate pasted twice; keeping the first");
            continue;
        }
        let not_a_certificate = |reason: String| TlsError::NotACertificate { position, reason };
        let (rest, cert) = X509Certificate::from_der(der).map_err(|e| {
            not_a_certificate(match e {
                x509_parser::nom::Err::Incomplete(_) => "its DER is truncated".to_owned(),
                x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => {
                    format!("its DER does not parse ({e})")
                }
            })
        })?;
        if !rest.is_empty() {
            return Err(not_a_certificate(format!(
                "{} unexpected bytes follow it",
                rest.len()
            )));
        }
        pasted.push(Pasted {
            position,
            der,
            cert,
        });
    }
    Ok(pasted)
}

/// The public key bits of the private key, as they appear in a certificate's
/// subjectPublicKey (RSAPublicKey DER or an uncompressed EC point). Keys envoy
/// cannot serve are refused here, before any certificate is looked at.
pub(super) fn public_key_of(key: &PrivateKey) -> Result<Vec<u8>, TlsError> {
    let der = key.der.expose().as_slice();
    let format = match key.format {
        KeyFormat::Pkcs1Rsa => "PKCS#1 (RSA PRIVATE KEY)",
        KeyFormat::Sec1Ec => "SEC1 (EC PRIVATE KEY)",
        KeyFormat::Pkcs8 => "PKCS#8 (PRIVATE KEY)",
    };
    let unreadable = |reason: String| TlsError::UnreadableKey {
        format: format.to_owned(),
        reason,
    };
    let kind = key_kind::classify(key.format, der)
        .ok_or_else(|| unreadable("its DER is not that structure".to_owned()))?;
    if let Some(reason) = kind.unservable() {
        return Err(TlsError::UnsupportedKey {
            kind: kind.to_string(),
            reason,
        });
    }
    let ec = |alg| match key.format {
        KeyFormat::Sec1Ec => EcdsaKeyPair::from_private_key_der(alg, der),
        _ => EcdsaKeyPair::from_pkcs8(alg, der),
    };
    let parsed = match (&kind, key.format) {
        (KeyKind::Rsa { .. }, KeyFormat::Pkcs1Rsa) => {
            RsaKeyPair::from_der(der).map(|k| k.public_key().as_ref().to_vec())
        }
        (KeyKind::Rsa { .. }, _) => {
            RsaKeyPair::from_pkcs8(der).map(|k| k.public_key().as_ref().to_vec())
        }
        (KeyKind::EcdsaP256, _) => {
            ec(&ECDSA_P256_SHA256_ASN1_SIGNING).map(|k| k.public_key().as_ref().to_vec())
        }
        (KeyKind::EcdsaP384, _) => {
            ec(&ECDSA_P384_SHA384_ASN1_SIGNING).map(|k| k.public_key().as_ref().to_vec())
        }
        // unservable() let only the kinds above through.
        (other, _) => {
            return Err(TlsError::UnsupportedKey {
                kind: other.to_string(),
                reason: format!("{other} keys cannot be served"),
            });
        }
    };
    // KeyRejected's text is a fixed reason ("InvalidEncoding", …), never key bytes.
    parsed.map_err(|e| unreadable(e.to_string()))
}

/// The leaf's SANs, if one of its DNS names covers the FQDN (the CN is ignored,
/// as browsers do).
fn check_names(leaf: &Pasted<'_>, hostname: &Hostname) -> Result<Vec<String>, TlsError> {
    let fqdn = hostname.fqdn();
    let san = leaf
        .cert
        .subject_alternative_name()
        .map_err(|e| TlsError::NotACertificate {
            position: leaf.position,
            reason: format!("its subjectAltName extension is malformed: {e}"),
        })?;
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    for name in san.iter().flat_map(|ext| ext.value.general_names.iter()) {
        match name {
            GeneralName::DNSName(d) => dns.push(d.to_string()),
            GeneralName::IPAddress(bytes) => {
                if let Some(ip) = ip_from_bytes(bytes) {
                    ips.push(ip.to_string());
                }
            }
            _ => {}
        }
    }
    if dns.is_empty() {
        return Err(TlsError::SansRequired {
            subject: printable(&leaf.cert.subject().to_string()),
            fqdn: fqdn.to_owned(),
        });
    }
    if !dns.iter().any(|pattern| names::san_covers(pattern, fqdn)) {
        return Err(TlsError::NameNotCovered {
            sans: printable(&dns.join(", ")),
            fqdn: fqdn.to_owned(),
        });
    }
    // Shown in render's summary line and plan.json: escaped like the errors.
    let mut dns: Vec<String> = dns.iter().map(|d| printable(d)).collect();
    dns.extend(ips);
    Ok(dns)
}

pub(super) fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

fn check_dates(
    leaf: &X509Certificate<'_>,
    config: &TlsConfig,
    now: OffsetDateTime,
    warnings: &mut Vec<String>,
) -> Result<(), TlsError> {
    let not_before = leaf.validity().not_before.to_datetime();
    let not_after = leaf.validity().not_after.to_datetime();
    if now < not_before {
        return Err(TlsError::NotYetValid {
            not_before: rfc3339(not_before),
            now: rfc3339(now),
        });
    }
    if now > not_after {
        return Err(TlsError::Expired {
            not_after: rfc3339(not_after),
            now: rfc3339(now),
        });
    }
    let days_left = (not_after - now).whole_days();
    if days_left < i64::from(config.expiry_warning_days) {
        warnings.push(format!(
            "{}: the certificate expires on {} ({days_left} days from now); replace it before then",
            super::CERT_PROPERTY,
            rfc3339(not_after)
        ));
    }
    Ok(())
}

/// How `child` relates to a candidate issuer.
#[derive(PartialEq)]
enum Link {
    None,
    /// Names link and the signature verifies.
    Verified,
    /// Names link; the backend cannot check this signature algorithm.
    NameOnly,
    /// Names link but the signature does not verify: not the real issuer.
    BadSignature,
}

fn link(child: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> Link {
    if child.issuer().as_raw() != issuer.subject().as_raw() {
        return Link::None;
    }
    match child.verify_signature(Some(issuer.public_key())) {
        Ok(()) => Link::Verified,
        Err(X509Error::SignatureUnsupportedAlgorithm) => Link::NameOnly,
        Err(_) => Link::BadSignature,
    }
}

fn is_self_issued(cert: &X509Certificate<'_>) -> bool {
    cert.issuer().as_raw() == cert.subject().as_raw()
}

/// Leaf first, then each certificate's issuer, whatever order they were pasted
/// in. Stops at a self-issued root (kept if pasted) or when no issuer is left.
/// Anything not on that path is refused.
fn order_chain<'a>(
    leaf: Pasted<'a>,
    mut rest: Vec<Pasted<'a>>,
    warnings: &mut Vec<String>,
) -> Result<Vec<Pasted<'a>>, TlsError> {
    let mut chain = vec![leaf];
    while let Some(current) = chain.last().filter(|c| !is_self_issued(&c.cert)) {
        let next = rest.iter().position(|candidate| {
            matches!(
                link(&current.cert, &candidate.cert),
                Link::Verified | Link::NameOnly
            )
        });
        match next {
            Some(i) => {
                if link(&current.cert, &rest[i].cert) == Link::NameOnly {
                    warnings.push(format!(
                        "{}: the signature on {} uses an algorithm this agent cannot check; certificate {} was linked to it by name only",
                        super::CERT_PROPERTY,
                        printable(&current.cert.subject().to_string()),
                        rest[i].position
                    ));
                }
                chain.push(rest.remove(i));
            }
            None => break,
        }
    }
    if let Some(stray) = rest.iter().min_by_key(|p| p.position) {
        let impostor = chain
            .iter()
            .any(|c| link(&c.cert, &stray.cert) == Link::BadSignature);
        return Err(TlsError::Unrelated {
            position: stray.position,
            subject: printable(&stray.cert.subject().to_string()),
            detail: match chain.last() {
                _ if impostor => {
                    " (it has the name of an issuer in the chain, but its key did not sign it)"
                        .into()
                }
                // A root that does not link: most likely an intermediate was left out.
                Some(end) if is_self_issued(&stray.cert) && !is_self_issued(&end.cert) => format!(
                    " (it is a root; if it is the leaf's, the certificate of {} that links them is missing)",
                    printable(&end.cert.issuer().to_string())
                ),
                _ => String::new(),
            },
        });
    }
    Ok(chain)
}

#[cfg(test)]
mod tests;
