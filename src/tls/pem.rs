//! PEM writing (RFC 7468): base64 of the DER in 64-character lines between
//! BEGIN/END lines. Written here rather than with a crate so the key's copies
//! (the base64 text) can be zeroed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::secret::Secret;

/// One PEM block for public data (certificates).
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    wrap(label, &body)
}

/// One PEM block for a private key; every intermediate copy is zeroed on drop.
pub(crate) fn encode_secret(label: &str, der: &[u8]) -> Secret<String> {
    let body = Zeroizing::new(STANDARD.encode(der));
    Secret::new(wrap(label, &body))
}

fn wrap(label: &str, body: &str) -> String {
    let lines = body.len().div_ceil(64);
    // Sized up front so the String never reallocates (which would leave copies behind).
    let mut out = String::with_capacity(2 * (label.len() + 17) + body.len() + lines);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    let mut rest = body;
    while !rest.is_empty() {
        // base64 is ASCII, so any byte index is a char boundary.
        let (line, tail) = rest.split_at(rest.len().min(64));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    debug_assert!(out.len() <= out.capacity());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_64_characters_and_round_trip() {
        let der: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let text = encode("CERTIFICATE", &der);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.first(), Some(&"-----BEGIN CERTIFICATE-----"));
        assert_eq!(lines.last(), Some(&"-----END CERTIFICATE-----"));
        let body = &lines[1..lines.len() - 1];
        assert!(body[..body.len() - 1].iter().all(|l| l.len() == 64));
        assert_eq!(STANDARD.decode(body.concat()).unwrap(), der);
        assert!(text.ends_with("-----\n"));
    }

    #[test]
    fn secret_pem_is_redacted_in_debug() {
        let key = encode_secret("PRIVATE KEY", &[1, 2, 3]);
        assert_eq!(format!("{key:?}"), crate::secret::REDACTED);
        assert!(key.expose().contains("AQID"));
    }
}
