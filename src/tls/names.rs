//! Does a certificate name cover the host name? RFC 6125 §6.4, as browsers apply it.

/// True if the subjectAltName DNS entry `pattern` covers `host`.
///
/// Case-insensitive, one trailing dot ignored. A wildcard is only a whole
/// left-most label (`*.lab.example.com`), stands for exactly one non-empty label,
/// and needs at least two labels after it (`*.com` covers nothing). Partial
/// wildcards (`f*.example.com`) and wildcards elsewhere cover nothing.
pub fn san_covers(pattern: &str, host: &str) -> bool {
    let pattern = normalise(pattern);
    let host = normalise(host);
    if pattern.is_empty() || host.is_empty() || host.contains('*') {
        return false;
    }
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            if suffix.contains('*') || suffix.split('.').filter(|l| !l.is_empty()).count() < 2 {
                return false;
            }
            match host.split_once('.') {
                Some((first, rest)) => !first.is_empty() && rest == suffix,
                None => false,
            }
        }
        None => !pattern.contains('*') && pattern == host,
    }
}

/// A certificate-derived string (SAN, subject, CN) as messages may show it:
/// control characters and other non-printable ones escaped the way Rust's
/// `{:?}` does (`\u{1b}`, `\0`), so a certificate cannot drive the terminal
/// the error is printed on.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            // Printable as they are; only what a terminal would act on is escaped.
            '\\' | '"' | '\'' => c.to_string(),
            _ => c.escape_debug().to_string(),
        })
        .collect()
}

fn normalise(name: &str) -> String {
    let name = name.trim();
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::san_covers;

    #[test]
    fn exact_names_match_case_insensitively() {
        assert!(san_covers(
            "veba01.lab.example.com",
            "veba01.lab.example.com"
        ));
        assert!(san_covers(
            "VEBA01.Lab.Example.com.",
            "veba01.lab.example.com"
        ));
        assert!(!san_covers(
            "veba02.lab.example.com",
            "veba01.lab.example.com"
        ));
    }

    #[test]
    fn wildcard_covers_exactly_one_left_most_label() {
        assert!(san_covers("*.lab.example.com", "veba01.lab.example.com"));
        assert!(!san_covers("*.lab.example.com", "a.veba01.lab.example.com"));
        assert!(!san_covers("*.lab.example.com", "lab.example.com"));
        assert!(!san_covers("*.example.com", "veba01.lab.example.com"));
    }

    #[test]
    fn only_whole_left_most_label_wildcards_count() {
        assert!(!san_covers(
            "veba*.lab.example.com",
            "veba01.lab.example.com"
        ));
        assert!(!san_covers(
            "*eba01.lab.example.com",
            "veba01.lab.example.com"
        ));
        assert!(!san_covers(
            "veba01.*.example.com",
            "veba01.lab.example.com"
        ));
        assert!(!san_covers("*.*.example.com", "veba01.lab.example.com"));
        assert!(!san_covers("*", "veba01"));
        assert!(!san_covers("*.com", "example.com"));
    }
}
