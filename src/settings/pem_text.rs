//! Finding PEM blocks in text an admin pasted into the vSphere wizard, and
//! repairing what the paste did to them.
//!
//! The HTML5 wizard turns newlines into spaces, other paths turn them into
//! CRLF, and some admins paste base64 of the whole PEM file. So we locate the
//! `-----BEGIN X-----` / `-----END X-----` markers ourselves, strip every
//! whitespace character from the body between them, rewrap it at 64 columns
//! and hand that canonical block to a real PEM parser (`rustls-pki-types`,
//! whose base64 decoder is constant-time for private keys).
//!
//! Nothing here echoes a body, a header or an unrecognised label: the same
//! code reads the private key. Text outside blocks (openssl's `Bag Attributes`,
//! `subject=` lines) is ignored, as RFC 7468 section 2 asks of parsers.

use std::fmt;

use base64::Engine as _;
use rustls_pki_types::pem::{PemObject, SectionKind};
use zeroize::Zeroizing;

use super::tls_material::PemProblem;

const BEGIN: &str = "-----BEGIN";
const END: &str = "-----END";
const DASHES: &str = "-----";

/// Labels that may be shown in an error whatever field they came from: the
/// RFC 7468 ones and the few others that tools emit.
const KNOWN_LABELS: &[&str] = &[
    "CERTIFICATE",
    "TRUSTED CERTIFICATE",
    "X509 CRL",
    "CERTIFICATE REQUEST",
    "NEW CERTIFICATE REQUEST",
    "PKCS7",
    "CMS",
    "ATTRIBUTE CERTIFICATE",
    "PUBLIC KEY",
    "RSA PUBLIC KEY",
    "PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "DSA PRIVATE KEY",
    "OPENSSH PRIVATE KEY",
    "EC PARAMETERS",
    "DH PARAMETERS",
    "X9.42 DH PARAMETERS",
];

/// Whether the field's text is secret: then only known labels are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exposure {
    Public,
    Secret,
}

/// A block label as it may appear in an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownLabel(Option<String>);

impl ShownLabel {
    fn new(label: &str, exposure: Exposure) -> Self {
        let shown = exposure == Exposure::Public || KNOWN_LABELS.contains(&label);
        ShownLabel(shown.then(|| label.to_owned()))
    }
}

impl fmt::Display for ShownLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(label) => f.write_str(label),
            None => f.write_str("unrecognised label"),
        }
    }
}

/// One block as found in the text, body not yet decoded.
pub(crate) struct RawBlock {
    /// 1-based position among the blocks of the field, for error messages.
    pub index: usize,
    /// Label with runs of whitespace collapsed to one space.
    pub label: String,
    exposure: Exposure,
    /// Legacy OpenSSL encryption (`Proc-Type: 4,ENCRYPTED` / `DEK-Info:`).
    pub legacy_encrypted: bool,
    /// Any other RFC 1421 header line (`Name: value`).
    has_headers: bool,
    /// The body with all whitespace removed.
    body: Zeroizing<String>,
}

impl RawBlock {
    pub fn shown_label(&self) -> ShownLabel {
        ShownLabel::new(&self.label, self.exposure)
    }

    /// Rewraps the body, parses it as PEM and checks the result is one DER value.
    pub fn decode(&self) -> Result<Zeroizing<Vec<u8>>, PemProblem> {
        let (block, label) = (self.index, self.shown_label());
        if self.has_headers || self.legacy_encrypted {
            return Err(PemProblem::Headers { block, label });
        }
        if self.body.is_empty() {
            return Err(PemProblem::EmptyBody { block, label });
        }
        // ASCII-only from here on, so 64-byte chunks are whole characters.
        if !self.body.is_ascii() {
            return Err(PemProblem::BadBody { block, label });
        }
        let mut canonical = Zeroizing::new(String::with_capacity(self.body.len() * 65 / 64 + 80));
        canonical.push_str("-----BEGIN ");
        canonical.push_str(&self.label);
        canonical.push_str("-----\n");
        for line in self.body.as_bytes().chunks(64) {
            canonical.push_str(std::str::from_utf8(line).unwrap_or_default());
            canonical.push('\n');
        }
        canonical.push_str("-----END ");
        canonical.push_str(&self.label);
        canonical.push_str("-----\n");

        let der = match <(SectionKind, Vec<u8>)>::from_pem_slice(canonical.as_bytes()) {
            Ok((_, der)) => Zeroizing::new(der),
            // NoItemsFound: a label the parser does not know; callers only
            // decode the four kinds it does, so this is a programming error
            // reported as a refusal rather than a panic.
            Err(rustls_pki_types::pem::Error::NoItemsFound) => {
                return Err(PemProblem::Unexpected { block, label });
            }
            Err(_) => return Err(PemProblem::BadBody { block, label }),
        };
        check_der_framing(&der).map_err(|problem| PemProblem::NotDer {
            block,
            label,
            problem,
        })?;
        Ok(der)
    }
}

/// What is wrong with the DER inside a block whose base64 was fine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DerProblem {
    #[error("it does not start with an ASN.1 SEQUENCE")]
    NotSequence,
    #[error(
        "it is truncated: its DER header announces {announced} bytes but the block holds {held} (a line lost when pasting?)"
    )]
    Truncated { announced: usize, held: usize },
    #[error("it has {0} bytes of trailing data after its DER value")]
    TrailingData(usize),
}

/// Certificates, PKCS#8, PKCS#1 and SEC1 keys are all one DER SEQUENCE; a
/// 64-character line lost in the paste leaves valid base64, so this is what
/// catches it before the X.509 parser gives a vaguer message.
fn check_der_framing(der: &[u8]) -> Result<(), DerProblem> {
    let (&tag, rest) = der.split_first().ok_or(DerProblem::NotSequence)?;
    let (&first, rest) = rest.split_first().ok_or(DerProblem::NotSequence)?;
    if tag != 0x30 {
        return Err(DerProblem::NotSequence);
    }
    let (content_len, header_len) = match first {
        0..=0x7f => (usize::from(first), 2),
        0x81..=0x84 => {
            let n = usize::from(first & 0x7f);
            let bytes = rest.get(..n).ok_or(DerProblem::NotSequence)?;
            let len = bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, 2 + n)
        }
        // Indefinite length (BER) or absurdly long.
        _ => return Err(DerProblem::NotSequence),
    };
    let announced = header_len.saturating_add(content_len);
    match der.len().cmp(&announced) {
        std::cmp::Ordering::Less => Err(DerProblem::Truncated {
            announced,
            held: der.len(),
        }),
        std::cmp::Ordering::Greater => Err(DerProblem::TrailingData(der.len() - announced)),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

/// Finds the PEM blocks in a pasted value (PEM, mangled PEM, or base64 of PEM).
pub(crate) fn blocks(value: &str, exposure: Exposure) -> Result<Vec<RawBlock>, PemProblem> {
    let text = pem_text(value)?;
    split(&text, exposure)
}

/// The PEM text itself: the value, or what its base64 decodes to.
fn pem_text(value: &str) -> Result<Zeroizing<String>, PemProblem> {
    let value = value.trim().trim_start_matches('\u{feff}');
    if value.contains(BEGIN) {
        return Ok(Zeroizing::new(value.to_owned()));
    }
    if value.contains(END) {
        return Err(PemProblem::EndWithoutBegin);
    }
    let compact: Zeroizing<String> =
        Zeroizing::new(value.chars().filter(|c| !c.is_whitespace()).collect());
    let base64_alphabet = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
    // Base64 of even the smallest PEM block is longer than 48 characters, and
    // wrapped base64 comes in long runs: short words are prose, not base64.
    let mut runs: Vec<&str> = value.split_whitespace().collect();
    runs.pop();
    let prose = compact.len() < 48 || runs.iter().any(|run| run.len() < 16);
    if prose || !compact.chars().all(base64_alphabet) {
        return Err(PemProblem::NotPem);
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let decoded = Zeroizing::new(
        engine
            .decode(compact.as_bytes())
            .map_err(|_| PemProblem::InvalidBase64)?,
    );
    let text = std::str::from_utf8(&decoded).map_err(|_| PemProblem::Base64NotPem)?;
    let text = text.trim().trim_start_matches('\u{feff}');
    if !text.contains(BEGIN) {
        return Err(PemProblem::Base64NotPem);
    }
    Ok(Zeroizing::new(text.to_owned()))
}

/// Collapses whitespace in a marker label; `None` if it cannot be a label.
fn normalize_label(raw: &str) -> Option<String> {
    let label = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    let printable = label.chars().all(|c| c == ' ' || c.is_ascii_graphic());
    (!label.is_empty() && label.len() <= 64 && printable).then_some(label)
}

fn split(text: &str, exposure: Exposure) -> Result<Vec<RawBlock>, PemProblem> {
    let mut found = Vec::new();
    let mut rest = text;
    let mut ignored_chars = 0usize;
    loop {
        let Some(begin_at) = rest.find(BEGIN) else {
            if rest.contains(END) {
                return Err(PemProblem::EndWithoutBegin);
            }
            ignored_chars += rest.trim().len();
            break;
        };
        let before = &rest[..begin_at];
        if before.contains(END) {
            return Err(PemProblem::EndWithoutBegin);
        }
        ignored_chars += before.trim().len();
        let index = found.len() + 1;

        let after_begin = &rest[begin_at + BEGIN.len()..];
        let label_end = after_begin
            .find(DASHES)
            .ok_or(PemProblem::MalformedBegin { block: index })?;
        let label = normalize_label(&after_begin[..label_end])
            .ok_or(PemProblem::MalformedBegin { block: index })?;
        let shown = || ShownLabel::new(&label, exposure);

        let body_and_rest = &after_begin[label_end + DASHES.len()..];
        let end_at = body_and_rest.find(END);
        let next_begin = body_and_rest.find(BEGIN);
        let end_at = match (end_at, next_begin) {
            (Some(end), Some(begin)) if begin < end => None,
            (end, _) => end,
        }
        .ok_or_else(|| PemProblem::MissingEnd {
            block: index,
            label: shown(),
        })?;
        let body_raw = &body_and_rest[..end_at];

        let after_end = &body_and_rest[end_at + END.len()..];
        let end_label_end = after_end
            .find(DASHES)
            .ok_or_else(|| PemProblem::MissingEnd {
                block: index,
                label: shown(),
            })?;
        let end_label = normalize_label(&after_end[..end_label_end]);
        if end_label.as_deref() != Some(label.as_str()) {
            return Err(PemProblem::MismatchedEnd {
                block: index,
                begin: shown(),
                end: ShownLabel::new(end_label.as_deref().unwrap_or("?"), exposure),
            });
        }
        rest = &after_end[end_label_end + DASHES.len()..];

        let legacy_encrypted = (contains_ignore_ascii_case(body_raw, "Proc-Type:")
            && contains_ignore_ascii_case(body_raw, "ENCRYPTED"))
            || contains_ignore_ascii_case(body_raw, "DEK-Info:");
        let body = Zeroizing::new(body_raw.chars().filter(|c| !c.is_whitespace()).collect());
        found.push(RawBlock {
            index,
            label,
            exposure,
            legacy_encrypted,
            has_headers: body_raw.contains(':'),
            body,
        });
    }
    if ignored_chars > 0 {
        tracing::debug!(
            ignored_chars,
            "ignored text outside the PEM blocks (RFC 7468 section 2)"
        );
    }
    Ok(found)
}

fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_framing_accepts_exact_and_refuses_short_long_and_non_sequence() {
        assert_eq!(check_der_framing(&[0x30, 0x01, 0x05]), Ok(()));
        assert_eq!(
            check_der_framing(&[0x30, 0x82, 0x01, 0x00, 0x00]),
            Err(DerProblem::Truncated {
                announced: 260,
                held: 5
            })
        );
        assert_eq!(
            check_der_framing(&[0x30, 0x00, 0x00]),
            Err(DerProblem::TrailingData(1))
        );
        assert_eq!(
            check_der_framing(&[0x04, 0x00]),
            Err(DerProblem::NotSequence)
        );
        assert_eq!(check_der_framing(&[0x30]), Err(DerProblem::NotSequence));
        assert_eq!(
            check_der_framing(&[0x30, 0x80, 0x00, 0x00]),
            Err(DerProblem::NotSequence)
        );
    }

    #[test]
    fn labels_are_normalized_and_unknown_ones_hidden_in_secret_fields() {
        assert_eq!(
            normalize_label(" RSA  PRIVATE\tKEY").as_deref(),
            Some("RSA PRIVATE KEY")
        );
        assert_eq!(normalize_label("  "), None);
        assert_eq!(normalize_label("CERT\u{e9}"), None);
        assert_eq!(
            ShownLabel::new("MY KEY", Exposure::Secret).to_string(),
            "unrecognised label"
        );
        assert_eq!(
            ShownLabel::new("MY KEY", Exposure::Public).to_string(),
            "MY KEY"
        );
        assert_eq!(
            ShownLabel::new("EC PRIVATE KEY", Exposure::Secret).to_string(),
            "EC PRIVATE KEY"
        );
    }

    #[test]
    fn text_outside_blocks_is_ignored_but_an_orphan_end_is_not() {
        let text = "Bag Attributes\n    localKeyID: 01\nsubject=CN = x\n-----BEGIN X-----\nMAA=\n-----END X-----\ntrailer";
        let found = split(text, Exposure::Public).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].label, "X");
        assert_eq!(&*found[0].body, "MAA=");
        assert!(!found[0].has_headers);

        let orphan = "-----BEGIN X-----\nMAA=\n-----END X-----\nMAA=\n-----END X-----";
        assert!(matches!(
            split(orphan, Exposure::Public),
            Err(PemProblem::EndWithoutBegin)
        ));
    }

    #[test]
    fn a_begin_inside_an_unterminated_block_is_a_missing_end() {
        let text = "-----BEGIN CERTIFICATE----- MAA= -----BEGIN CERTIFICATE----- MAA= -----END CERTIFICATE-----";
        assert!(matches!(
            split(text, Exposure::Public),
            Err(PemProblem::MissingEnd { block: 1, .. })
        ));
    }
}
