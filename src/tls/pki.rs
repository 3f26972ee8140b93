//! A small private PKI of ovaboot's own, for the links between the
//! appliance's own parts that no admin or browser ever sees (Contour's xDS
//! server and envoy, envoy and the auth server): a CA, and the server and
//! client pairs it issues.
//!
//! Pure but for randomness (keys, serials): `now` is passed in and nothing is
//! written here. A caller keeps what it mints (files, Secrets) and, on the next
//! run, asks [`Authority::load`] and [`Authority::verify`] whether what it
//! kept is still exactly what it would mint now; only then does it reuse it,
//! so a rerun changes nothing and a renewal is a decision with a reason.
//!
//! Both dates are checked on reuse, not only the end: a pair minted while the
//! guest's clock ran days ahead is "not yet valid" once the clock is put right,
//! and is minted again rather than kept ([`Stale::NotYetValid`]).

use std::collections::BTreeSet;
use std::fmt;

use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::key_kind::{self, KeyKind};
use super::names::printable;
use super::self_signed::{generate_key, random_serial};
use super::{KeyAlgorithm, pem, rfc3339, sha256_fingerprint, user};
use crate::secret::Secret;
use crate::settings::{KeyFormat, PrivateKey, parse_certificate_chain, parse_private_key};

/// How long what is minted lives, and when it is renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    /// Days from minting to notAfter.
    pub days: u32,
    /// A pair is renewed once fewer days than this are left.
    pub renew_before_days: u32,
    /// notBefore is this far before `now`, so a peer whose clock is a little
    /// behind accepts a fresh certificate.
    pub backdate_minutes: u32,
}

impl Lifetime {
    /// The longest a certificate minted with this lifetime lives (a kept one
    /// that lives longer was made under another config).
    fn longest(&self) -> Duration {
        Duration::days(i64::from(self.days)) + Duration::minutes(i64::from(self.backdate_minutes))
    }
}

/// What a leaf is for: the extendedKeyUsage it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// serverAuth: the side that listens (Contour's xDS server, the auth server).
    Server,
    /// clientAuth: the side that connects with a certificate (envoy to Contour).
    Client,
}

/// The leaf to issue: its subject's common name and its DNS names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafSpec {
    pub common_name: String,
    pub dns_names: Vec<String>,
    pub usage: Usage,
}

/// A certificate's validity period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// Whole days from `now` to notAfter (negative once expired).
    pub fn days_left(&self, now: OffsetDateTime) -> i64 {
        (self.not_after - now).whole_days()
    }

    /// From when the certificate is due for renewal.
    pub fn renew_from(&self, renew_before_days: u32) -> OffsetDateTime {
        self.not_after - Duration::days(i64::from(renew_before_days))
    }

    /// Whether a certificate with these dates may be kept at `now`: valid
    /// already, not expired, and not within `renew_before_days` of its end.
    pub fn check(&self, now: OffsetDateTime, renew_before_days: u32) -> Result<(), Stale> {
        if now < self.not_before {
            return Err(Stale::NotYetValid {
                not_before: rfc3339(self.not_before),
            });
        }
        if now >= self.not_after {
            return Err(Stale::Expired {
                not_after: rfc3339(self.not_after),
            });
        }
        if now >= self.renew_from(renew_before_days) {
            return Err(Stale::DueForRenewal {
                not_after: rfc3339(self.not_after),
                days_left: self.days_left(now),
            });
        }
        Ok(())
    }

    fn of(cert: &X509Certificate<'_>) -> Validity {
        Validity {
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
        }
    }
}

/// Why a certificate's dates do not let it be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// notBefore is still ahead: minted while the clock ran fast, or the clock
    /// has been moved back since.
    NotYetValid {
        not_before: String,
    },
    Expired {
        not_after: String,
    },
    DueForRenewal {
        not_after: String,
        days_left: i64,
    },
}

impl fmt::Display for Stale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stale::NotYetValid { not_before } => {
                write!(
                    f,
                    "not valid until {not_before} (the clock was ahead when it was made, or has moved back)"
                )
            }
            Stale::Expired { not_after } => write!(f, "expired on {not_after}"),
            Stale::DueForRenewal {
                not_after,
                days_left,
            } => write!(
                f,
                "expires on {not_after}, {days_left} days from now, within its renewal window"
            ),
        }
    }
}

/// The CA for `now` from what was kept (`cert_pem`, `key_pem`): kept when
/// it is still exactly what would be minted, renewed with its key kept when
/// only its dates are due, minted otherwise. With why, when not kept as is.
pub fn keep_or_mint_ca(
    kept: Option<(&str, &Secret<String>)>,
    common_name: &str,
    algorithm: KeyAlgorithm,
    lifetime: &Lifetime,
    now: OffsetDateTime,
) -> Result<(Authority, Option<String>), MintError> {
    let mint = || Authority::mint(common_name, algorithm, lifetime, now);
    let Some((cert_pem, key_pem)) = kept else {
        return Ok((mint()?, Some("none is kept yet".to_owned())));
    };
    match Authority::load(cert_pem, key_pem, algorithm, lifetime, now) {
        Ok(ca) => Ok((ca, None)),
        Err(NotKept::Stale(stale)) => {
            match Authority::renew(cert_pem, key_pem, algorithm, lifetime, now) {
                Ok(ca) => Ok((ca, Some(format!("{stale}: renewed with its key kept")))),
                Err(why) => Ok((
                    mint()?,
                    Some(format!("{stale}, and its key cannot be kept: {why}")),
                )),
            }
        }
        Err(why) => Ok((mint()?, Some(why.to_string()))),
    }
}

/// A certificate and its key. `Debug` shows the certificate's fingerprint and
/// dates and redacts the key.
#[derive(Clone)]
pub struct Pair {
    /// PEM, one certificate.
    pub cert_pem: String,
    /// PEM, PKCS#8.
    pub key_pem: Secret<String>,
    pub validity: Validity,
    /// SHA-256 of the certificate's DER, `AB:CD:…`.
    pub sha256: String,
}

impl fmt::Debug for Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pair")
            .field("sha256", &self.sha256)
            .field("not_before", &rfc3339(self.validity.not_before))
            .field("not_after", &rfc3339(self.validity.not_after))
            .field("key_pem", &self.key_pem)
            .finish()
    }
}

/// Why nothing could be minted (the crypto backend failed). Never holds key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not mint the {what}: {reason}")]
pub struct MintError {
    pub what: String,
    pub reason: String,
}

/// Why a kept CA or pair is not reused (logged, then a new one is minted).
/// Never holds key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotKept {
    Unreadable(String),
    KeyMismatch,
    NotACa,
    NotIssuedByTheCa,
    AlgorithmChanged {
        kept: String,
        wanted: &'static str,
    },
    NamesChanged {
        kept: Vec<String>,
        wanted: Vec<String>,
    },
    UsageChanged,
    LifetimeChanged {
        lifetime_days: i64,
        days: u32,
    },
    Stale(Stale),
}

impl fmt::Display for NotKept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotKept::Unreadable(why) => write!(f, "it does not parse: {why}"),
            NotKept::KeyMismatch => f.write_str("the key does not match the certificate"),
            NotKept::NotACa => f.write_str("the CA certificate is not a CA this agent made"),
            NotKept::NotIssuedByTheCa => f.write_str("the certificate was not issued by the CA"),
            NotKept::AlgorithmChanged { kept, wanted } => {
                write!(f, "the key type changed (kept {kept}, configured {wanted})")
            }
            NotKept::NamesChanged { kept, wanted } => write!(
                f,
                "the names changed (kept {}; now {})",
                kept.join(", "),
                wanted.join(", ")
            ),
            NotKept::UsageChanged => f.write_str("the extended key usage is not the one wanted"),
            NotKept::LifetimeChanged {
                lifetime_days,
                days,
            } => write!(
                f,
                "the configured lifetime is shorter ({days} days; the kept certificate lives {lifetime_days})"
            ),
            NotKept::Stale(stale) => stale.fmt(f),
        }
    }
}

/// A CA of ovaboot's own: its certificate and key.
#[derive(Clone, Debug)]
pub struct Authority {
    pair: Pair,
}

impl Authority {
    /// A new CA, `CN=common_name`, that may issue leaves only (pathLen 0).
    pub fn mint(
        common_name: &str,
        algorithm: KeyAlgorithm,
        lifetime: &Lifetime,
        now: OffsetDateTime,
    ) -> Result<Authority, MintError> {
        let failed = |e: rcgen::Error| MintError {
            what: format!("CA {common_name}"),
            reason: e.to_string(),
        };
        let key = generate_key(algorithm).map_err(failed)?;
        let params = ca_params(common_name, lifetime, now)?;
        let cert = params.self_signed(&key).map_err(failed)?;
        Ok(Authority {
            pair: pair_of(cert.der(), &key, &params),
        })
    }

    /// A kept CA, if it is one this agent made with `algorithm` and may still
    /// issue for at least `lifetime.renew_before_days` (a CA about to expire
    /// would only issue leaves that expire with it).
    pub fn load(
        cert_pem: &str,
        key_pem: &Secret<String>,
        algorithm: KeyAlgorithm,
        lifetime: &Lifetime,
        now: OffsetDateTime,
    ) -> Result<Authority, NotKept> {
        let der = single_certificate(cert_pem)?;
        let (cert, key) = matching_pair(&der, key_pem, algorithm)?;
        self_signed_ca(&cert)?;
        let validity = Validity::of(&cert);
        check_lifetime(&validity, lifetime)?;
        validity
            .check(now, lifetime.renew_before_days)
            .map_err(NotKept::Stale)?;
        Ok(Authority {
            pair: Pair {
                cert_pem: pem::encode("CERTIFICATE", &der),
                key_pem: pem::encode_secret("PRIVATE KEY", key.der.expose()),
                validity,
                sha256: sha256_fingerprint(&der),
            },
        })
    }

    /// The kept CA's key under a new certificate (same subject, new dates and
    /// serial), for a CA whose dates no longer let it be kept. Leaves signed
    /// with this key verify under the old certificate and the new one alike,
    /// so a peer that still holds the old one (its Secret volume not yet
    /// updated) keeps trusting a leaf issued after the renewal.
    /// Refused, as [`Authority::load`] would, when the pair is not a CA this
    /// agent made with `algorithm`.
    pub fn renew(
        cert_pem: &str,
        key_pem: &Secret<String>,
        algorithm: KeyAlgorithm,
        lifetime: &Lifetime,
        now: OffsetDateTime,
    ) -> Result<Authority, NotKept> {
        let der = single_certificate(cert_pem)?;
        let (cert, key) = matching_pair(&der, key_pem, algorithm)?;
        self_signed_ca(&cert)?;
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .ok_or(NotKept::NotACa)?
            .to_owned();
        let unreadable = |e: String| NotKept::Unreadable(format!("the CA key: {e}"));
        let key = KeyPair::try_from(key.der.expose().as_slice())
            .map_err(|e| unreadable(e.to_string()))?;
        let params = ca_params(&common_name, lifetime, now).map_err(|e| unreadable(e.reason))?;
        let renewed = params
            .self_signed(&key)
            .map_err(|e| unreadable(e.to_string()))?;
        Ok(Authority {
            pair: pair_of(renewed.der(), &key, &params),
        })
    }

    /// The CA's certificate and key (the key only for keeping it).
    pub fn pair(&self) -> &Pair {
        &self.pair
    }

    /// A new leaf for `spec`, valid from `now` (backdated) for `lifetime.days`
    /// but never past the CA's own notAfter.
    pub fn issue(
        &self,
        spec: &LeafSpec,
        algorithm: KeyAlgorithm,
        lifetime: &Lifetime,
        now: OffsetDateTime,
    ) -> Result<Pair, MintError> {
        let failed = |e: rcgen::Error| MintError {
            what: format!("certificate {}", spec.common_name),
            reason: e.to_string(),
        };
        let ca_key = KeyPair::try_from(self.key_der()?.as_slice()).map_err(failed)?;
        let ca_der = single_certificate(&self.pair.cert_pem).map_err(|why| MintError {
            what: format!("certificate {}", spec.common_name),
            reason: why.to_string(),
        })?;
        let issuer = Issuer::from_ca_cert_der(&ca_der.into(), &ca_key).map_err(failed)?;
        let key = generate_key(algorithm).map_err(failed)?;
        let mut params = params(&spec.common_name, lifetime, now)?;
        params.not_after = params.not_after.min(self.pair.validity.not_after);
        params.is_ca = IsCa::ExplicitNoCa;
        params.subject_alt_names = spec
            .dns_names
            .iter()
            .map(|name| Ia5String::try_from(name.as_str()).map(SanType::DnsName))
            .collect::<Result<_, _>>()
            .map_err(failed)?;
        params.extended_key_usages = vec![match spec.usage {
            Usage::Server => ExtendedKeyUsagePurpose::ServerAuth,
            Usage::Client => ExtendedKeyUsagePurpose::ClientAuth,
        }];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if algorithm.is_rsa() {
            params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
        }
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &issuer).map_err(failed)?;
        Ok(pair_of(cert.der(), &key, &params))
    }

    /// A kept leaf, if it is exactly what [`Authority::issue`] would make
    /// now (bar key, serial and dates): issued by this CA, its key matches,
    /// the same names, usage and key type, and its dates let it be kept.
    pub fn verify(
        &self,
        cert_pem: &str,
        key_pem: &Secret<String>,
        spec: &LeafSpec,
        algorithm: KeyAlgorithm,
        lifetime: &Lifetime,
        now: OffsetDateTime,
    ) -> Result<Pair, NotKept> {
        let der = single_certificate(cert_pem)?;
        let (cert, key) = matching_pair(&der, key_pem, algorithm)?;
        let ca_der = single_certificate(&self.pair.cert_pem)?;
        let (_, ca) = X509Certificate::from_der(&ca_der)
            .map_err(|e| NotKept::Unreadable(format!("the CA certificate: {e}")))?;
        if cert.issuer().as_raw() != ca.subject().as_raw()
            || cert.verify_signature(Some(ca.public_key())).is_err()
        {
            return Err(NotKept::NotIssuedByTheCa);
        }
        same_names(&cert, spec)?;
        same_usage(&cert, spec.usage)?;
        let validity = Validity::of(&cert);
        check_lifetime(&validity, lifetime)?;
        validity
            .check(now, lifetime.renew_before_days)
            .map_err(NotKept::Stale)?;
        Ok(Pair {
            cert_pem: pem::encode("CERTIFICATE", &der),
            key_pem: pem::encode_secret("PRIVATE KEY", key.der.expose()),
            validity,
            sha256: sha256_fingerprint(&der),
        })
    }

    fn key_der(&self) -> Result<zeroize::Zeroizing<Vec<u8>>, MintError> {
        let key = parse_private_key(self.pair.key_pem.expose()).map_err(|p| MintError {
            what: "certificate".into(),
            reason: format!("the CA key does not parse: {p}"),
        })?;
        Ok(zeroize::Zeroizing::new(key.der.expose().clone()))
    }
}

/// A CA's parameters: it may issue leaves only (pathLen 0).
fn ca_params(
    common_name: &str,
    lifetime: &Lifetime,
    now: OffsetDateTime,
) -> Result<CertificateParams, MintError> {
    let mut params = params(common_name, lifetime, now)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

/// A CA certificate that signed itself, as this agent makes them.
fn self_signed_ca(cert: &X509Certificate<'_>) -> Result<(), NotKept> {
    let is_ca = matches!(cert.basic_constraints(), Ok(Some(c)) if c.value.ca);
    if !is_ca
        || cert.issuer().as_raw() != cert.subject().as_raw()
        || cert.verify_signature(None).is_err()
    {
        return Err(NotKept::NotACa);
    }
    Ok(())
}

/// The parameters every certificate minted here shares.
fn params(
    common_name: &str,
    lifetime: &Lifetime,
    now: OffsetDateTime,
) -> Result<CertificateParams, MintError> {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let mut params = CertificateParams::default();
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, common_name);
    params.distinguished_name = subject;
    params.not_before = now - Duration::minutes(i64::from(lifetime.backdate_minutes));
    params.not_after = now + Duration::days(i64::from(lifetime.days));
    let serial = random_serial().map_err(|e| MintError {
        what: common_name.to_owned(),
        reason: e.to_string(),
    })?;
    params.serial_number = Some(serial);
    Ok(params)
}

fn pair_of(der: &[u8], key: &KeyPair, params: &CertificateParams) -> Pair {
    Pair {
        cert_pem: pem::encode("CERTIFICATE", der),
        key_pem: pem::encode_secret("PRIVATE KEY", key.serialized_der()),
        validity: Validity {
            not_before: params.not_before,
            not_after: params.not_after,
        },
        sha256: sha256_fingerprint(der),
    }
}

fn single_certificate(cert_pem: &str) -> Result<Vec<u8>, NotKept> {
    let certificates = parse_certificate_chain(cert_pem)
        .map_err(|p| NotKept::Unreadable(format!("the certificate: {p}")))?;
    match <[Vec<u8>; 1]>::try_from(certificates) {
        Ok([der]) => Ok(der),
        Err(all) => Err(NotKept::Unreadable(format!(
            "{} certificates where one was kept",
            all.len()
        ))),
    }
}

/// The certificate and its key, if the key is PKCS#8 of the configured type
/// and matches the certificate.
fn matching_pair<'a>(
    der: &'a [u8],
    key_pem: &Secret<String>,
    algorithm: KeyAlgorithm,
) -> Result<(X509Certificate<'a>, PrivateKey), NotKept> {
    let unreadable = NotKept::Unreadable;
    let (rest, cert) = X509Certificate::from_der(der)
        .map_err(|e| unreadable(format!("not an X.509 certificate ({e})")))?;
    if !rest.is_empty() {
        return Err(unreadable("bytes after the certificate".into()));
    }
    let key =
        parse_private_key(key_pem.expose()).map_err(|p| unreadable(format!("the key: {p}")))?;
    if key.format != KeyFormat::Pkcs8 {
        return Err(unreadable("the key is not PKCS#8".into()));
    }
    let kind = key_kind::classify(key.format, key.der.expose())
        .ok_or_else(|| unreadable("the key does not parse as PKCS#8".into()))?;
    if kind != algorithm.kind() {
        return Err(NotKept::AlgorithmChanged {
            kept: kind_name(&kind),
            wanted: algorithm.as_str(),
        });
    }
    let public_key = user::public_key_of(&key)
        .map_err(|_| unreadable("the key does not parse as its algorithm".into()))?;
    if cert.public_key().subject_public_key.data.as_ref() != public_key.as_slice() {
        return Err(NotKept::KeyMismatch);
    }
    Ok((cert, key))
}

fn same_names(cert: &X509Certificate<'_>, spec: &LeafSpec) -> Result<(), NotKept> {
    let san = cert
        .subject_alternative_name()
        .map_err(|e| NotKept::Unreadable(format!("subjectAltName: {e}")))?;
    let mut kept = Vec::new();
    for name in san.iter().flat_map(|ext| ext.value.general_names.iter()) {
        match name {
            GeneralName::DNSName(d) => kept.push(d.to_ascii_lowercase()),
            other => kept.push(printable(&other.to_string())),
        }
    }
    let common_names: Vec<String> = cert
        .subject()
        .iter_common_name()
        .map(|cn| cn.as_str().map(str::to_owned).unwrap_or_default())
        .collect();
    let wanted: BTreeSet<String> = spec
        .dns_names
        .iter()
        .map(|d| d.to_ascii_lowercase())
        .collect();
    if kept.iter().cloned().collect::<BTreeSet<_>>() != wanted
        || kept.len() != wanted.len()
        || common_names != [spec.common_name.as_str()]
    {
        let mut shown: Vec<String> = common_names
            .iter()
            .map(|cn| format!("CN={}", printable(cn)))
            .collect();
        shown.extend(kept);
        let mut now = vec![format!("CN={}", spec.common_name)];
        now.extend(wanted);
        return Err(NotKept::NamesChanged {
            kept: shown,
            wanted: now,
        });
    }
    Ok(())
}

fn same_usage(cert: &X509Certificate<'_>, usage: Usage) -> Result<(), NotKept> {
    let eku = match cert.extended_key_usage() {
        Ok(Some(eku)) => eku.value,
        _ => return Err(NotKept::UsageChanged),
    };
    let only = |server: bool, client: bool| {
        eku.server_auth == server
            && eku.client_auth == client
            && !eku.any
            && !eku.code_signing
            && !eku.email_protection
            && !eku.time_stamping
            && !eku.ocsp_signing
            && eku.other.is_empty()
    };
    let matches = match usage {
        Usage::Server => only(true, false),
        Usage::Client => only(false, true),
    };
    if matches {
        Ok(())
    } else {
        Err(NotKept::UsageChanged)
    }
}

fn check_lifetime(validity: &Validity, lifetime: &Lifetime) -> Result<(), NotKept> {
    let lived = validity.not_after - validity.not_before;
    if lived > lifetime.longest() {
        return Err(NotKept::LifetimeChanged {
            lifetime_days: lived.whole_days(),
            days: lifetime.days,
        });
    }
    Ok(())
}

/// The config spelling when the kind is one, else a description.
fn kind_name(kind: &KeyKind) -> String {
    KeyAlgorithm::ALL
        .into_iter()
        .find(|a| a.kind() == *kind)
        .map(|a| a.as_str().to_owned())
        .unwrap_or_else(|| kind.to_string())
}

#[cfg(test)]
mod tests;
