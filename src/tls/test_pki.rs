//! A small real PKI for the tests: root and intermediate CAs and leaves made
//! with rcgen, keys converted to PKCS#1/SEC1 by the openssl CLI.

use std::io::Write;
use std::process::{Command, Stdio};

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, RsaKeySize,
};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::secret::Secret;
use crate::settings::{Hostname, KeyFormat, PrivateKey, TlsMaterial};

pub const OPENSSL: &str = "/usr/bin/openssl";

/// The clock every user-material test runs at.
pub const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

pub fn host(name: &str) -> Hostname {
    name.parse().expect("test host name")
}

pub fn ec_key() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 key")
}

pub fn rsa_key() -> KeyPair {
    KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048).expect("RSA key")
}

pub fn p384_key() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("P-384 key")
}

pub fn p521_key() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).expect("P-521 key")
}

pub fn ed25519_key() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("Ed25519 key")
}

/// A PKCS#8 RSA key of any size (`openssl genpkey`; aws-lc-rs makes only 2048 and
/// up). OpenSSL 3.0 writes DER keys as PKCS#1, so `openssl pkcs8 -topk8` converts.
pub fn openssl_rsa_pkcs8(bits: u32) -> Vec<u8> {
    let pkcs1 = openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            &format!("rsa_keygen_bits:{bits}"),
            "-outform",
            "DER",
        ],
        b"",
    );
    openssl(
        &[
            "pkcs8", "-topk8", "-nocrypt", "-inform", "DER", "-outform", "DER",
        ],
        &pkcs1,
    )
}

/// A certificate authority that can sign leaves and sub-CAs.
pub struct Authority {
    pub der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "ovaboot test PKI");
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = datetime!(2020-01-01 0:00 UTC);
    params.not_after = datetime!(2040-01-01 0:00 UTC);
    params
}

impl Authority {
    pub fn root(cn: &str) -> Authority {
        Authority::root_with_key(cn, ec_key())
    }

    pub fn root_with_key(cn: &str, key: KeyPair) -> Authority {
        let params = ca_params(cn);
        let cert = params.self_signed(&key).expect("root");
        Authority {
            der: cert.der().to_vec(),
            issuer: Issuer::new(params, key),
        }
    }

    pub fn intermediate(&self, cn: &str) -> Authority {
        let key = ec_key();
        let params = ca_params(cn);
        let cert = params.signed_by(&key, &self.issuer).expect("intermediate");
        Authority {
            der: cert.der().to_vec(),
            issuer: Issuer::new(params, key),
        }
    }

    pub fn issue(&self, spec: &LeafSpec, key: &KeyPair) -> Vec<u8> {
        spec.params()
            .signed_by(key, &self.issuer)
            .expect("leaf")
            .der()
            .to_vec()
    }
}

/// What a test leaf says about itself.
pub struct LeafSpec {
    pub cn: String,
    pub dns: Vec<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// serverAuth by default; empty: no extendedKeyUsage extension at all.
    pub extended_key_usages: Vec<ExtendedKeyUsagePurpose>,
    /// basicConstraints CA:TRUE (what browsers refuse in a leaf).
    pub is_ca: bool,
    /// An extension by OID arc and DER content, marked critical.
    pub critical_extension: Option<(Vec<u64>, Vec<u8>)>,
}

impl LeafSpec {
    /// Valid at [`NOW`] for the whole of 2026, for `dns`.
    pub fn for_names(dns: &[&str]) -> LeafSpec {
        LeafSpec {
            cn: dns.first().copied().unwrap_or("no-san").to_owned(),
            dns: dns.iter().map(|s| s.to_string()).collect(),
            not_before: datetime!(2026-01-01 0:00 UTC),
            not_after: datetime!(2027-01-01 0:00 UTC),
            extended_key_usages: vec![ExtendedKeyUsagePurpose::ServerAuth],
            is_ca: false,
            critical_extension: None,
        }
    }

    pub fn valid(mut self, from: OffsetDateTime, until: OffsetDateTime) -> LeafSpec {
        self.not_before = from;
        self.not_after = until;
        self
    }

    fn params(&self) -> CertificateParams {
        let mut params = CertificateParams::new(self.dns.clone()).expect("SANs");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, self.cn.as_str());
        params.distinguished_name = dn;
        params.extended_key_usages = self.extended_key_usages.clone();
        if self.is_ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        if let Some((oid, content)) = &self.critical_extension {
            let mut extension = CustomExtension::from_oid_content(oid, content.clone());
            extension.set_criticality(true);
            params.custom_extensions.push(extension);
        }
        params.not_before = self.not_before;
        params.not_after = self.not_after;
        params
    }
}

/// Material as settings would hand it over: certificates in pasted order, PKCS#8 key.
pub fn material(certificates: &[&[u8]], key: &KeyPair) -> TlsMaterial {
    material_with_key(
        certificates,
        KeyFormat::Pkcs8,
        key.serialized_der().to_vec(),
    )
}

pub fn material_with_key(certificates: &[&[u8]], format: KeyFormat, der: Vec<u8>) -> TlsMaterial {
    TlsMaterial {
        certificates: certificates.iter().map(|c| c.to_vec()).collect(),
        private_key: PrivateKey {
            format,
            der: Secret::new(der),
        },
    }
}

/// Run the openssl CLI with `input` on stdin; its stdout, or a panic with its stderr.
pub fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(OPENSSL)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run /usr/bin/openssl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write to openssl");
    let out = child.wait_with_output().expect("openssl output");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The key as PKCS#1 `RSA PRIVATE KEY` DER (`openssl rsa -traditional`).
pub fn to_pkcs1(key: &KeyPair) -> Vec<u8> {
    openssl(
        &["rsa", "-inform", "DER", "-traditional", "-outform", "DER"],
        key.serialized_der(),
    )
}

/// The key as SEC1 `EC PRIVATE KEY` DER (`openssl ec`).
pub fn to_sec1(key: &KeyPair) -> Vec<u8> {
    openssl(
        &["ec", "-inform", "DER", "-outform", "DER"],
        key.serialized_der(),
    )
}
