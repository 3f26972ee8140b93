//! Kubernetes name rules (apimachinery's validation), for config values that
//! become object names.

/// DNS-1123 label: namespaces. Lowercase alphanumerics and '-', alphanumeric at
/// both ends, at most 63 characters.
pub(crate) fn dns1123_label(value: &str) -> Result<(), String> {
    label(value, false)
}

/// DNS-1035 label: Service names. As a DNS-1123 label, but must start with a letter.
pub(crate) fn dns1035_label(value: &str) -> Result<(), String> {
    label(value, true)
}

/// DNS-1123 subdomain: Secret and HTTPProxy names. Labels joined by '.', at
/// most 253 characters.
pub(crate) fn dns1123_subdomain(value: &str) -> Result<(), String> {
    if value.len() > 253 {
        return Err(format!("{value:?} is longer than 253 characters"));
    }
    value
        .split('.')
        .try_for_each(|part| check_label(part, false, 253))
        .map_err(|why| format!("{value:?} is not a DNS-1123 subdomain: {why}"))
}

fn label(value: &str, letter_first: bool) -> Result<(), String> {
    let kind = if letter_first { "DNS-1035" } else { "DNS-1123" };
    check_label(value, letter_first, 63)
        .map_err(|why| format!("{value:?} is not a {kind} label: {why}"))
}

fn check_label(value: &str, letter_first: bool, max: usize) -> Result<(), String> {
    if value.is_empty() {
        return Err("it is empty".into());
    }
    if value.len() > max {
        return Err(format!("it is longer than {max} characters"));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err("use only lowercase letters, digits and '-'".into());
    }
    let first = value.as_bytes()[0];
    if letter_first && !first.is_ascii_lowercase() {
        return Err("it must start with a letter".into());
    }
    if first == b'-' || value.ends_with('-') {
        return Err("it must start and end with a letter or digit".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_subdomains() {
        assert!(dns1123_label("ovaboot").is_ok());
        assert!(dns1123_label("1st-team").is_ok());
        assert!(dns1035_label("1st-team").is_err());
        assert!(dns1123_label("Team").is_err());
        assert!(dns1123_label("team-").is_err());
        assert!(dns1123_label(&"a".repeat(64)).is_err());
        assert!(dns1123_label("a.b").is_err());
        assert!(dns1123_subdomain("ovaboot-tls.v1").is_ok());
        assert!(dns1123_subdomain("ovaboot..tls").is_err());
        assert!(dns1123_subdomain("ovaboot_tls").is_err());
    }
}
