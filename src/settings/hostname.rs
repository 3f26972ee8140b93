//! The appliance's host name (`guestinfo.hostname`).

/// The appliance's fully qualified host name: validated, lowercased, no trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Hostname(String);

/// Why a name was refused (the caller names the property). The same RFC 1123
/// rules apply to every name the properties hold: the host name, search
/// domains, NTP servers, proxy hosts and `no_proxy` entries ([`dns_name`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostnameError {
    #[error("is empty")]
    Empty,
    #[error(
        "is an IP address, not a host name: give the appliance's fully qualified domain name (e.g. veba01.example.com); its address goes in guestinfo.ipaddress"
    )]
    AddressForHostname,
    #[error("is an IP address, not a name")]
    Address,
    #[error("is {0} characters long; at most 253 are allowed")]
    TooLong(usize),
    #[error("must be a fully qualified domain name (at least two labels, e.g. veba01.example.com)")]
    NotQualified,
    #[error("has an empty label (two dots in a row, or a leading dot)")]
    EmptyLabel,
    #[error("has a label of {0} characters; at most 63 are allowed")]
    LabelTooLong(usize),
    #[error("has the character {0:?}; only letters, digits, '-' and '.' are allowed")]
    BadCharacter(char),
    #[error("has a label that starts or ends with '-'")]
    HyphenAtEdge,
    #[error("ends in an all-numeric label; a top-level domain is never numeric")]
    NumericTld,
}

impl std::str::FromStr for Hostname {
    type Err = HostnameError;

    /// RFC 1123 host name rules, FQDN required; lowercased; one trailing dot stripped.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let name = input.trim();
        if is_address(name) {
            return Err(HostnameError::AddressForHostname);
        }
        let name = dns_name(name)?;
        if !name.contains('.') {
            return Err(HostnameError::NotQualified);
        }
        Ok(Hostname(name))
    }
}

/// `10.0.0.20`, `fe80::1`, `[fe80::1]`: an address typed where a name belongs.
fn is_address(text: &str) -> bool {
    let text = text.strip_suffix('.').unwrap_or(text);
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    bare.parse::<std::net::IpAddr>().is_ok()
}

/// A DNS name by RFC 1123 (a single label is allowed, e.g. a search domain
/// `corp`), returned lowercased without its one trailing dot.
pub(crate) fn dns_name(input: &str) -> Result<String, HostnameError> {
    if is_address(input) {
        return Err(HostnameError::Address);
    }
    let name = input.strip_suffix('.').unwrap_or(input);
    if name.is_empty() {
        return Err(HostnameError::Empty);
    }
    if name.len() > 253 {
        return Err(HostnameError::TooLong(name.len()));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        return Err(HostnameError::BadCharacter(c));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(HostnameError::EmptyLabel);
        }
        if label.len() > 63 {
            return Err(HostnameError::LabelTooLong(label.len()));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(HostnameError::HyphenAtEdge);
        }
    }
    if name
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(HostnameError::NumericTld);
    }
    Ok(name.to_ascii_lowercase())
}

impl Hostname {
    /// The FQDN, e.g. `veba01.lab.example.com`.
    pub fn fqdn(&self) -> &str {
        &self.0
    }

    /// The first label, e.g. `veba01`.
    pub fn short(&self) -> &str {
        self.0.split('.').next().unwrap_or(&self.0)
    }
}

#[cfg(test)]
mod tests;
