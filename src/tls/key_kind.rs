//! What kind of key a private key is, read from its DER structure, and
//! whether envoy can serve a certificate for it.
//!
//! Envoy 1.38 (the one the pinned Contour release runs) loads RSA keys of 2048
//! bits or more and ECDSA keys on P-256, P-384 and P-521; other key types load
//! in non-FIPS builds but are then offered only to clients that sign with them.
//! Browsers verify ECDSA only on P-256 and P-384 and never Ed25519, so those
//! and RSA are what the appliance serves. RSA stops at 8192 bits, the largest
//! key the crypto backend (aws-lc-rs) reads; every handshake signs with it.
//!
//! Only public parts are read (algorithm, curve, modulus length); nothing here
//! copies key bytes.

use std::fmt;

use x509_parser::asn1_rs::{Any, Class, FromDer, Oid, Tag};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521,
    OID_PKCS1_RSAENCRYPTION, OID_PKCS1_RSASSAPSS, OID_SIG_ED448, OID_SIG_ED25519,
};

use crate::settings::KeyFormat;

/// The smallest RSA modulus envoy loads (`context_impl.cc`: "only RSA
/// certificates with 2048-bit or larger keys are supported").
pub const RSA_MIN_BITS: usize = 2048;
/// The largest RSA modulus aws-lc-rs reads (envoy's BoringSSL stops at 16384).
pub const RSA_MAX_BITS: usize = 8192;

/// What is said of the served key types in errors and in docs/properties-and-tls.md.
pub const SUPPORTED: &str = "RSA (2048 to 8192 bits) and ECDSA on P-256 or P-384";

/// The key type of a private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    Rsa {
        bits: usize,
    },
    /// An RSA key bound to RSASSA-PSS (`id-RSASSA-PSS`), which TLS servers cannot use.
    RsaPss,
    EcdsaP256,
    EcdsaP384,
    EcdsaP521,
    /// ECDSA on a curve other than the NIST ones above (dotted OID).
    EcdsaOther(String),
    Ed25519,
    Ed448,
    /// Any other algorithm (dotted OID).
    Other(String),
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyKind::Rsa { bits } => write!(f, "RSA {bits}-bit"),
            KeyKind::RsaPss => f.write_str("RSA-PSS (id-RSASSA-PSS)"),
            KeyKind::EcdsaP256 => f.write_str("ECDSA P-256"),
            KeyKind::EcdsaP384 => f.write_str("ECDSA P-384"),
            KeyKind::EcdsaP521 => f.write_str("ECDSA P-521"),
            KeyKind::EcdsaOther(oid) => write!(f, "ECDSA on curve {oid}"),
            KeyKind::Ed25519 => f.write_str("Ed25519"),
            KeyKind::Ed448 => f.write_str("Ed448"),
            KeyKind::Other(oid) => write!(f, "algorithm {oid}"),
        }
    }
}

impl KeyKind {
    /// Why envoy cannot serve a certificate for this key, if it cannot.
    pub fn unservable(&self) -> Option<String> {
        match self {
            KeyKind::EcdsaP256 | KeyKind::EcdsaP384 => None,
            KeyKind::Rsa { bits } if (RSA_MIN_BITS..=RSA_MAX_BITS).contains(bits) => None,
            KeyKind::Rsa { bits } if *bits < RSA_MIN_BITS => Some(format!(
                "an RSA key of {bits} bits is too small (envoy refuses RSA keys under {RSA_MIN_BITS} bits)"
            )),
            KeyKind::Rsa { bits } => Some(format!(
                "an RSA key of {bits} bits is too large (at most {RSA_MAX_BITS})"
            )),
            KeyKind::Ed25519 | KeyKind::Ed448 | KeyKind::EcdsaP521 => Some(format!(
                "{self} keys cannot be served: browsers do not accept {self} server certificates"
            )),
            other => Some(format!("{other} keys cannot be served")),
        }
    }
}

/// Read the key type. `None` if the DER is not the structure its format says.
pub fn classify(format: KeyFormat, der: &[u8]) -> Option<KeyKind> {
    match format {
        KeyFormat::Pkcs1Rsa => rsa_bits(der).map(|bits| KeyKind::Rsa { bits }),
        KeyFormat::Sec1Ec => sec1_curve(der).map(|curve| curve_kind(&curve)),
        KeyFormat::Pkcs8 => pkcs8(der),
    }
}

/// The elements of a DER SEQUENCE (or any constructed value's content).
fn elements(content: &[u8]) -> Option<Vec<Any<'_>>> {
    let mut rest = content;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (tail, any) = Any::from_der(rest).ok()?;
        out.push(any);
        rest = tail;
    }
    Some(out)
}

fn sequence(der: &[u8]) -> Option<Vec<Any<'_>>> {
    let (rest, outer) = Any::from_der(der).ok()?;
    if !rest.is_empty() || outer.tag() != Tag::Sequence {
        return None;
    }
    elements(outer.data)
}

fn oid<'a>(any: &Any<'a>) -> Option<Oid<'a>> {
    (any.tag() == Tag::Oid).then(|| Oid::new(any.data.into()))
}

/// PKCS#8 PrivateKeyInfo: version, AlgorithmIdentifier { algorithm, parameters }, privateKey.
fn pkcs8(der: &[u8]) -> Option<KeyKind> {
    let fields = sequence(der)?;
    let [_version, algorithm, private_key, ..] = fields.as_slice() else {
        return None;
    };
    if algorithm.tag() != Tag::Sequence || private_key.tag() != Tag::OctetString {
        return None;
    }
    let algorithm = elements(algorithm.data)?;
    let id = oid(algorithm.first()?)?;
    Some(if id == OID_PKCS1_RSAENCRYPTION {
        KeyKind::Rsa {
            bits: rsa_bits(private_key.data)?,
        }
    } else if id == OID_PKCS1_RSASSAPSS {
        KeyKind::RsaPss
    } else if id == OID_KEY_TYPE_EC_PUBLIC_KEY {
        // Named curve in the parameters; else the SEC1 key inside may name it.
        match algorithm.get(1).and_then(oid) {
            Some(curve) => curve_kind(&curve),
            None => curve_kind(&sec1_curve(private_key.data)?),
        }
    } else if id == OID_SIG_ED25519 {
        KeyKind::Ed25519
    } else if id == OID_SIG_ED448 {
        KeyKind::Ed448
    } else {
        KeyKind::Other(id.to_id_string())
    })
}

/// PKCS#1 RSAPrivateKey: version, modulus, …; the modulus length in bits.
fn rsa_bits(der: &[u8]) -> Option<usize> {
    let fields = sequence(der)?;
    let modulus = fields.get(1).filter(|m| m.tag() == Tag::Integer)?;
    let bytes = modulus.data;
    let first = bytes.iter().position(|&b| b != 0)?;
    let significant = &bytes[first..];
    Some(significant.len() * 8 - significant[0].leading_zeros() as usize)
}

/// SEC1 ECPrivateKey: version, privateKey, [0] parameters (named curve), [1] publicKey.
fn sec1_curve(der: &[u8]) -> Option<Oid<'_>> {
    let fields = sequence(der)?;
    let parameters = fields
        .iter()
        .find(|f| f.class() == Class::ContextSpecific && f.tag() == Tag(0))?;
    let (_, curve) = Any::from_der(parameters.data).ok()?;
    oid(&curve)
}

fn curve_kind(curve: &Oid<'_>) -> KeyKind {
    if *curve == OID_EC_P256 {
        KeyKind::EcdsaP256
    } else if *curve == OID_NIST_EC_P384 {
        KeyKind::EcdsaP384
    } else if *curve == OID_NIST_EC_P521 {
        KeyKind::EcdsaP521
    } else {
        KeyKind::EcdsaOther(curve.to_id_string())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_pki::*;
    use super::*;

    #[test]
    fn pkcs8_keys_are_named_by_algorithm_and_curve() {
        let cases = [
            (ec_key(), KeyKind::EcdsaP256),
            (p384_key(), KeyKind::EcdsaP384),
            (p521_key(), KeyKind::EcdsaP521),
            (ed25519_key(), KeyKind::Ed25519),
            (rsa_key(), KeyKind::Rsa { bits: 2048 }),
        ];
        for (key, kind) in cases {
            assert_eq!(classify(KeyFormat::Pkcs8, key.serialized_der()), Some(kind));
        }
    }

    #[test]
    fn sec1_and_pkcs1_keys_are_named_too() {
        assert_eq!(
            classify(KeyFormat::Sec1Ec, &to_sec1(&p384_key())),
            Some(KeyKind::EcdsaP384)
        );
        assert_eq!(
            classify(KeyFormat::Pkcs1Rsa, &to_pkcs1(&rsa_key())),
            Some(KeyKind::Rsa { bits: 2048 })
        );
    }

    #[test]
    fn rsa_modulus_length_is_counted_in_bits() {
        let der = openssl_rsa_pkcs8(1024);
        assert_eq!(
            classify(KeyFormat::Pkcs8, &der),
            Some(KeyKind::Rsa { bits: 1024 })
        );
    }

    #[test]
    fn a_key_in_another_format_than_declared_is_not_classified() {
        let der = ec_key().serialized_der().to_vec();
        assert_eq!(classify(KeyFormat::Pkcs1Rsa, &der), None);
        assert_eq!(classify(KeyFormat::Pkcs8, b"\x30\x03\x02\x01"), None);
    }

    #[test]
    fn only_rsa_in_bounds_and_p256_p384_are_servable() {
        assert_eq!(KeyKind::EcdsaP256.unservable(), None);
        assert_eq!(KeyKind::EcdsaP384.unservable(), None);
        assert_eq!(KeyKind::Rsa { bits: 2048 }.unservable(), None);
        assert_eq!(KeyKind::Rsa { bits: 8192 }.unservable(), None);
        assert_eq!(
            KeyKind::Rsa { bits: 2047 }.unservable().unwrap(),
            "an RSA key of 2047 bits is too small (envoy refuses RSA keys under 2048 bits)"
        );
        assert_eq!(
            KeyKind::Rsa { bits: 16384 }.unservable().unwrap(),
            "an RSA key of 16384 bits is too large (at most 8192)"
        );
        assert_eq!(
            KeyKind::Ed25519.unservable().unwrap(),
            "Ed25519 keys cannot be served: browsers do not accept Ed25519 server certificates"
        );
        for kind in [
            KeyKind::EcdsaP521,
            KeyKind::Ed448,
            KeyKind::RsaPss,
            KeyKind::EcdsaOther("1.3.36.3.3.2.8.1.1.7".into()),
            KeyKind::Other("1.2.3".into()),
        ] {
            assert!(kind.unservable().is_some(), "{kind}");
        }
    }
}
