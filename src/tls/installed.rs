//! The self-signed pair an earlier run installed, kept when it is still the
//! one this run would make, so a rerun (after a power cut, say) does not
//! rotate the certificate and the Secret under the clients that trust it.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::key_kind::{self, KeyKind};
use super::names::printable;
use super::{
    CertSource, TlsConfig, TlsPlan, expiry_warning_from, pem, rfc3339, self_signed,
    sha256_fingerprint, user,
};
use crate::secret::Secret;
use crate::settings::{
    Hostname, KeyFormat, PrivateKey, parse_certificate_chain, parse_private_key,
};

/// The pair on the target (`/etc/ovaboot/tls/tls.crt` and `tls.key`), as read
/// by the caller. `Debug` shows the certificate's size and redacts the key.
#[derive(Clone)]
pub struct InstalledPair {
    /// `tls.crt`: PEM.
    pub cert_pem: String,
    /// `tls.key`: PEM.
    pub key_pem: Secret<String>,
}

impl fmt::Debug for InstalledPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstalledPair")
            .field(
                "cert_pem",
                &format!("<{} bytes of PEM>", self.cert_pem.len()),
            )
            .field("key_pem", &self.key_pem)
            .finish()
    }
}

/// Why the installed pair is not kept. The text goes in an info log line; it
/// never holds key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReused {
    Unreadable(String),
    KeyMismatch,
    NotSelfSigned,
    AlgorithmChanged {
        installed: String,
        configured: &'static str,
    },
    CommonNameChanged {
        installed: Vec<String>,
    },
    HostNameChanged {
        installed: Vec<String>,
        now: Vec<String>,
    },
    StaticIpChanged {
        installed: Vec<String>,
        now: Vec<String>,
    },
    ValidityLowered {
        lifetime_days: i64,
        validity_days: u32,
    },
    NotYetValid {
        not_before: String,
    },
    Expired {
        not_after: String,
    },
    ExpiresSoon {
        not_after: String,
        days_left: i64,
    },
}

impl fmt::Display for NotReused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotReused::Unreadable(why) => write!(f, "the installed pair does not parse: {why}"),
            NotReused::KeyMismatch => f.write_str("tls.key does not match tls.crt"),
            NotReused::NotSelfSigned => {
                f.write_str("tls.crt is not a self-signed certificate this agent made")
            }
            NotReused::AlgorithmChanged {
                installed,
                configured,
            } => write!(
                f,
                "key algorithm changed (installed {installed}, tls.key_algorithm is {configured})"
            ),
            NotReused::CommonNameChanged { installed } => write!(
                f,
                "the common name is not the host name (installed: {})",
                installed.join(", ")
            ),
            NotReused::HostNameChanged { installed, now } => write!(
                f,
                "host name changed (installed DNS names {}; now {})",
                installed.join(", "),
                now.join(", ")
            ),
            NotReused::StaticIpChanged { installed, now } => write!(
                f,
                "static IP changed (installed [{}]; now [{}])",
                installed.join(", "),
                now.join(", ")
            ),
            NotReused::ValidityLowered {
                lifetime_days,
                validity_days,
            } => write!(
                f,
                "tls.validity_days or tls.backdate_minutes lowered (the installed certificate lives {lifetime_days} days; validity_days is now {validity_days})"
            ),
            NotReused::NotYetValid { not_before } => write!(
                f,
                "the installed certificate is not valid until {not_before} (clock moved back?)"
            ),
            NotReused::Expired { not_after } => {
                write!(f, "the installed certificate expired on {not_after}")
            }
            NotReused::ExpiresSoon {
                not_after,
                days_left,
            } => write!(
                f,
                "the installed certificate expires on {not_after}, within tls.expiry_warning_days ({days_left} days left)"
            ),
        }
    }
}

/// The installed pair as the plan, if it is exactly what [`self_signed`]
/// would make now (bar the key, serial and dates): self-signed, the key
/// matches, CN = FQDN, SANs = FQDN, short name and static IP, the configured
/// key algorithm, valid now and not within `expiry_warning_days` of expiry.
pub(super) fn reuse(
    installed: &InstalledPair,
    hostname: &Hostname,
    static_ip: Option<IpAddr>,
    config: &TlsConfig,
    now: OffsetDateTime,
) -> Result<TlsPlan, NotReused> {
    let certificates = parse_certificate_chain(&installed.cert_pem)
        .map_err(|p| NotReused::Unreadable(format!("tls.crt: {p}")))?;
    let [der] = certificates.as_slice() else {
        return Err(NotReused::Unreadable(format!(
            "tls.crt holds {} certificates, not one",
            certificates.len()
        )));
    };
    let (cert, key) = own_pair(der, installed, config)?;
    let sans = same_names(&cert, hostname, static_ip)?;
    let not_after = still_valid(&cert, config, now)?;
    Ok(TlsPlan {
        source: CertSource::SelfSigned,
        reused: true,
        // Re-encoded from the DER: the same bytes this agent wrote.
        chain_pem: pem::encode("CERTIFICATE", der),
        key_pem: pem::encode_secret("PRIVATE KEY", key.der.expose()),
        leaf_sha256: sha256_fingerprint(der),
        sans,
        not_after: rfc3339(not_after),
        expiry_warning_from: expiry_warning_from(not_after, config),
        chain_len: 1,
        warnings: self_signed::config_warnings(config),
    })
}

/// A new self-signed pair with the names of the installed one, which must be
/// a self-signed certificate this agent made for `hostname`; `None` when it
/// is not (nothing to renew in its place). For a renewal while a property
/// change waits for the next boot: the names are those the appliance answers
/// at now (a pending static IP is not its address yet).
pub fn renewal(
    installed: &InstalledPair,
    hostname: &Hostname,
    config: &TlsConfig,
    now: OffsetDateTime,
) -> Result<Option<TlsPlan>, super::TlsError> {
    let Ok(certificates) = parse_certificate_chain(&installed.cert_pem) else {
        return Ok(None);
    };
    let [der] = certificates.as_slice() else {
        return Ok(None);
    };
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Ok(None);
    };
    if cert.issuer().as_raw() != cert.subject().as_raw() {
        return Ok(None);
    }
    let Ok((_, ips)) = sans_of(&cert) else {
        return Ok(None);
    };
    let static_ip = match ips.as_slice() {
        [] => None,
        [ip] => Some(*ip),
        _ => return Ok(None),
    };
    if same_names(&cert, hostname, static_ip).is_err() {
        return Ok(None);
    }
    self_signed(hostname, static_ip, config, now).map(Some)
}

/// The certificate and key, if they are a self-signed pair of the configured
/// key algorithm as this agent makes them.
fn own_pair<'a>(
    der: &'a [u8],
    installed: &InstalledPair,
    config: &TlsConfig,
) -> Result<(X509Certificate<'a>, PrivateKey), NotReused> {
    let unreadable = |why: String| NotReused::Unreadable(why);
    let (rest, cert) = X509Certificate::from_der(der)
        .map_err(|e| unreadable(format!("tls.crt is not an X.509 certificate ({e})")))?;
    if !rest.is_empty() {
        return Err(unreadable("tls.crt has bytes after the certificate".into()));
    }
    let key = parse_private_key(installed.key_pem.expose())
        .map_err(|p| unreadable(format!("tls.key: {p}")))?;
    if key.format != KeyFormat::Pkcs8 {
        return Err(unreadable("tls.key is not a PKCS#8 key".into()));
    }
    // Against the key algorithm first: a kind this agent would not make is not its pair.
    let kind = key_kind::classify(key.format, key.der.expose())
        .ok_or_else(|| unreadable("tls.key does not parse as PKCS#8".into()))?;
    let wanted = config.key_algorithm.kind();
    if kind != wanted {
        return Err(NotReused::AlgorithmChanged {
            installed: kind_name(&kind),
            configured: config.key_algorithm.as_str(),
        });
    }
    let public_key = user::public_key_of(&key)
        .map_err(|_| unreadable("tls.key does not parse as its algorithm".into()))?;
    if cert.public_key().subject_public_key.data.as_ref() != public_key.as_slice() {
        return Err(NotReused::KeyMismatch);
    }
    if cert.issuer().as_raw() != cert.subject().as_raw() || cert.verify_signature(None).is_err() {
        return Err(NotReused::NotSelfSigned);
    }
    Ok((cert, key))
}

/// The SANs (DNS names, then addresses), if they and the CN are what this
/// run would put in a new certificate.
fn same_names(
    cert: &X509Certificate<'_>,
    hostname: &Hostname,
    static_ip: Option<IpAddr>,
) -> Result<Vec<String>, NotReused> {
    let fqdn = hostname.fqdn();
    let (dns, ips) = sans_of(cert)?;
    let mut wanted_dns = vec![fqdn.to_owned()];
    if hostname.short() != fqdn {
        wanted_dns.push(hostname.short().to_owned());
    }
    let installed_set: BTreeSet<String> = dns.iter().map(|d| d.to_ascii_lowercase()).collect();
    if installed_set != wanted_dns.iter().cloned().collect() {
        return Err(NotReused::HostNameChanged {
            installed: dns.iter().map(|d| printable(d)).collect(),
            now: wanted_dns,
        });
    }
    if ips.iter().collect::<BTreeSet<_>>() != static_ip.iter().collect::<BTreeSet<_>>() {
        return Err(NotReused::StaticIpChanged {
            installed: ips.iter().map(IpAddr::to_string).collect(),
            now: static_ip.iter().map(IpAddr::to_string).collect(),
        });
    }
    let common_names: Vec<String> = cert
        .subject()
        .iter_common_name()
        .map(|cn| cn.as_str().map(str::to_owned).unwrap_or_default())
        .collect();
    if common_names != [fqdn] {
        return Err(NotReused::CommonNameChanged {
            installed: common_names.iter().map(|cn| printable(cn)).collect(),
        });
    }
    let mut sans = dns;
    sans.extend(ips.iter().map(IpAddr::to_string));
    Ok(sans)
}

/// The notAfter, if the lifetime is what the config makes and the certificate
/// is valid now and not within `expiry_warning_days` of expiry.
fn still_valid(
    cert: &X509Certificate<'_>,
    config: &TlsConfig,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, NotReused> {
    let not_before = cert.validity().not_before.to_datetime();
    let not_after = cert.validity().not_after.to_datetime();
    // What this run would make lives validity_days plus the backdating.
    let longest = Duration::days(i64::from(config.validity_days))
        + Duration::minutes(i64::from(config.backdate_minutes));
    if not_after - not_before > longest {
        return Err(NotReused::ValidityLowered {
            lifetime_days: (not_after - not_before).whole_days(),
            validity_days: config.validity_days,
        });
    }
    if now < not_before {
        return Err(NotReused::NotYetValid {
            not_before: rfc3339(not_before),
        });
    }
    if now > not_after {
        return Err(NotReused::Expired {
            not_after: rfc3339(not_after),
        });
    }
    let days_left = (not_after - now).whole_days();
    if days_left < i64::from(config.expiry_warning_days) {
        return Err(NotReused::ExpiresSoon {
            not_after: rfc3339(not_after),
            days_left,
        });
    }
    Ok(not_after)
}

/// The config spelling when the kind is one, else a description.
fn kind_name(kind: &KeyKind) -> String {
    super::KeyAlgorithm::ALL
        .into_iter()
        .find(|a| a.kind() == *kind)
        .map(|a| a.as_str().to_owned())
        .unwrap_or_else(|| kind.to_string())
}

/// DNS names and IP addresses of the subjectAltName; any other entry means
/// this agent did not make the certificate.
fn sans_of(cert: &X509Certificate<'_>) -> Result<(Vec<String>, Vec<IpAddr>), NotReused> {
    let san = cert
        .subject_alternative_name()
        .map_err(|e| NotReused::Unreadable(format!("tls.crt subjectAltName: {e}")))?;
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    for name in san.iter().flat_map(|ext| ext.value.general_names.iter()) {
        match name {
            GeneralName::DNSName(d) => dns.push((*d).to_owned()),
            GeneralName::IPAddress(bytes) => match user::ip_from_bytes(bytes) {
                Some(ip) => ips.push(ip),
                None => return Err(NotReused::NotSelfSigned),
            },
            _ => return Err(NotReused::NotSelfSigned),
        }
    }
    Ok((dns, ips))
}

#[cfg(test)]
mod tests;
