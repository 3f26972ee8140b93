//! Outbound proxy settings: `guestinfo.http_proxy`, `guestinfo.https_proxy`,
//! `guestinfo.no_proxy`.
//!
//! Proxy URLs are restricted to what every consumer (k3s/containerd's Go
//! `httpproxy`, curl) reads the same way: `http[s]://[user[:password]@]host[:port][/]`.
//! A URL with credentials is secret as a whole: it lives in a [`Secret`], and
//! only its masked form (`http://user:***@proxy:3128`) is ever shown.
//! Errors never quote any part of a proxy URL: a mangled URL may put a password
//! anywhere (e.g. `http://user:secret` reads as host `user`, port `secret`).

use crate::ovf::{Properties, PropertyValue};
use crate::secret::{REDACTED, Secret};

/// What stands for the password (or a bare token) in a shown proxy URL: the
/// rest stays readable, so the admin can see which proxy is set.
pub const MASK: &str = "***";
use crate::settings::hostname::dns_name;
use crate::settings::network::{secret_values, split_list, value};

pub const KEY_HTTP_PROXY: &str = "guestinfo.http_proxy";
pub const KEY_HTTPS_PROXY: &str = "guestinfo.https_proxy";
pub const KEY_NO_PROXY: &str = "guestinfo.no_proxy";

/// A refused proxy property: `<key>: <problem>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ProxyError {
    pub key: &'static str,
    pub problem: String,
}

/// The proxy settings; present only when at least one proxy URL is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySettings {
    pub http: Option<ProxyUrl>,
    pub https: Option<ProxyUrl>,
    /// `guestinfo.no_proxy` entries, normalised (lowercase; `*.x` as `.x`).
    pub no_proxy: Vec<String>,
}

impl ProxySettings {
    /// Reads and validates the proxy properties. `Ok(None)`: no proxy is set
    /// (a lone `guestinfo.no_proxy` is still validated, then has nothing to act on).
    pub fn from_properties(props: &Properties) -> Result<Option<ProxySettings>, ProxyError> {
        let http = proxy_property(props, KEY_HTTP_PROXY)?;
        let https = proxy_property(props, KEY_HTTPS_PROXY)?;
        let mut no_proxy = Vec::new();
        let list = value(props, KEY_NO_PROXY).unwrap_or_default();
        let password_typed = matches!(props.get(KEY_NO_PROXY), Some(PropertyValue::Secret(_)));
        // Credentials pasted here: quote no entry of such a list.
        let withheld = crate::show::withheld(list, secret_values(props));
        for (index, token) in split_list(list).enumerate() {
            let position = index + 1;
            if token.contains('@') {
                return Err(ProxyError {
                    key: KEY_NO_PROXY,
                    problem: format!(
                        "entry {position} has an '@' in it, as credentials do (not shown); list only host names, .domains, IP addresses or CIDR ranges"
                    ),
                });
            }
            let entry = no_proxy_entry(token).map_err(|problem| {
                let shown = if password_typed {
                    format!("entry {position} ({REDACTED})")
                } else if withheld {
                    format!("entry {position} ({})", crate::show::NOT_SHOWN)
                } else {
                    crate::show::quoted(token)
                };
                ProxyError {
                    key: KEY_NO_PROXY,
                    problem: format!("{shown} {problem}"),
                }
            })?;
            if !no_proxy.contains(&entry) {
                no_proxy.push(entry);
            }
        }
        if http.is_none() && https.is_none() {
            if !no_proxy.is_empty() {
                tracing::warn!(
                    "{KEY_NO_PROXY} is set but neither {KEY_HTTP_PROXY} nor {KEY_HTTPS_PROXY} is; ignoring it"
                );
            }
            return Ok(None);
        }
        Ok(Some(ProxySettings {
            http,
            https,
            no_proxy,
        }))
    }

    /// Whether any proxy URL carries credentials (files holding them are secret).
    pub fn is_secret(&self) -> bool {
        [&self.http, &self.https]
            .into_iter()
            .flatten()
            .any(ProxyUrl::is_secret)
    }
}

fn proxy_property(props: &Properties, key: &'static str) -> Result<Option<ProxyUrl>, ProxyError> {
    let Some(text) = value(props, key) else {
        return Ok(None);
    };
    // Secret by the descriptor (or its name), not merely for the credentials
    // in it: then the whole URL stays hidden, not just the password.
    let password_typed = match props.get(key) {
        Some(PropertyValue::Secret(url)) => {
            crate::ovf::descriptor::is_secret_key(key)
                || !crate::ovf::document::carries_url_credentials(url.expose())
        }
        _ => false,
    };
    let url =
        ProxyUrl::parse(text, password_typed).map_err(|problem| ProxyError { key, problem })?;
    // Another property's secret pasted as the user name: mask the user too.
    if crate::show::withheld(url.user(), secret_values(props)) && !url.user().is_empty() {
        return Ok(Some(url.user_masked()));
    }
    Ok(Some(url))
}

/// A validated proxy URL, normalised to `scheme://[userinfo@]host[:port]`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    url: UrlText,
    /// Safe to show: the URL with any password (or a bare user token) redacted.
    shown: String,
}

#[derive(Clone, PartialEq, Eq)]
enum UrlText {
    Plain(String),
    Secret(Secret<String>),
}

impl ProxyUrl {
    /// Parses a proxy URL. `password_typed`: the property itself is secret, so
    /// the whole URL is kept secret even without credentials.
    pub fn parse(text: &str, password_typed: bool) -> Result<ProxyUrl, String> {
        let text = text.trim();
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain spaces or control characters".into());
        }
        let (scheme, rest) = text
            .split_once("://")
            .ok_or("must be a URL with a scheme, like http://proxy.example.com:3128")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(
                "the scheme is not supported; use http:// or https:// (SOCKS proxies are not supported)"
                    .into(),
            );
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if tail.contains('@') {
            // `http://user:Pa/ss@proxy`: the '/' (or '?', '#') ends the host
            // part early, so this is a password that needs encoding, not a path.
            return Err(NEEDS_PERCENT_ENCODING.into());
        }
        if !tail.is_empty() && tail != "/" {
            return Err("must not have a path, query or fragment (only scheme://host:port)".into());
        }
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        let (host, port) = split_host_port(host_port)?;
        let host_port = match port {
            Some(port) => format!("{host}:{port}"),
            None => host,
        };
        let Some(userinfo) = userinfo else {
            let url = format!("{scheme}://{host_port}");
            return Ok(if password_typed {
                ProxyUrl {
                    shown: REDACTED.to_string(),
                    url: UrlText::Secret(Secret::new(url)),
                }
            } else {
                ProxyUrl {
                    shown: url.clone(),
                    url: UrlText::Plain(url),
                }
            });
        };
        check_userinfo(userinfo)?;
        let shown = match userinfo.split_once(':') {
            _ if password_typed => REDACTED.to_string(),
            Some((user, _password)) => format!("{scheme}://{user}:{MASK}@{host_port}"),
            // A user part alone is often a token: mask it too.
            None => format!("{scheme}://{MASK}@{host_port}"),
        };
        Ok(ProxyUrl {
            url: UrlText::Secret(Secret::new(format!("{scheme}://{userinfo}@{host_port}"))),
            shown,
        })
    }

    /// The user part of the URL's credentials, empty without them.
    fn user(&self) -> &str {
        let Some((_, rest)) = self.expose().split_once("://") else {
            return "";
        };
        match rest.rsplit_once('@') {
            Some((userinfo, _)) => userinfo.split(':').next().unwrap_or_default(),
            None => "",
        }
    }

    /// The same URL, shown with the whole user part masked
    /// (`http://***@proxy:3128`) unless it is hidden already.
    fn user_masked(mut self) -> ProxyUrl {
        if let Some((scheme, rest)) = self.shown.split_once("://")
            && let Some((_, host)) = rest.rsplit_once('@')
        {
            self.shown = format!("{scheme}://{MASK}@{host}");
        }
        self
    }

    /// The URL itself, credentials included: only for writing it to its target.
    pub fn expose(&self) -> &str {
        match &self.url {
            UrlText::Plain(u) => u,
            UrlText::Secret(s) => s.expose(),
        }
    }

    /// Whether the URL carries credentials (or came from a password-typed property).
    pub fn is_secret(&self) -> bool {
        matches!(self.url, UrlText::Secret(_))
    }

    /// What may be shown: the password (or a bare token) masked as `***`;
    /// the whole URL redacted when the property is password-typed.
    pub fn redacted(&self) -> &str {
        &self.shown
    }
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ProxyUrl").field(&self.shown).finish()
    }
}

impl std::fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` → (host as written in a URL, port).
fn split_host_port(host_port: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or("the IPv6 address is not closed with ']'")?;
        let v6: std::net::Ipv6Addr = v6
            .parse()
            .map_err(|_| "the host in [...] is not an IPv6 address")?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or("unexpected text after the IPv6 address")?,
            ),
        };
        (format!("[{v6}]"), port)
    } else {
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        };
        if host.is_empty() {
            return Err("has no host".into());
        }
        let host = if host.parse::<std::net::Ipv4Addr>().is_ok() {
            host.to_string()
        } else {
            dns_name(host).map_err(|problem| format!("the host is not valid: it {problem}"))?
        };
        (host, port)
    };
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or("the port is not a number from 1 to 65535")?,
        ),
    };
    Ok((host, port))
}

const NEEDS_PERCENT_ENCODING: &str = "the user name or password has a character that must be percent-encoded (e.g. '@' as %40, '/' as %2F, '#' as %23, '?' as %3F)";

/// RFC 3986 userinfo: unreserved, sub-delims, ':' and %XX. The value is never
/// quoted in the error: it holds the password.
fn check_userinfo(userinfo: &str) -> Result<(), String> {
    let user = userinfo.split(':').next().unwrap_or_default();
    if user.is_empty() {
        return Err("the user name before '@' is empty".into());
    }
    let bytes = userinfo.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return Err(
                    "the user name or password has a '%' that is not followed by two hex digits"
                        .into(),
                );
            }
            i += 3;
            continue;
        }
        let allowed = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:".contains(&b);
        if !allowed {
            return Err(NEEDS_PERCENT_ENCODING.into());
        }
        i += 1;
    }
    Ok(())
}

/// One `NO_PROXY` entry: `*`, an IP address, a CIDR range, a host name, or a
/// domain suffix (`.example.com`; `*.example.com` is normalised to that, the
/// form both curl and Go understand). Returns the normalised entry.
pub(crate) fn no_proxy_entry(entry: &str) -> Result<String, String> {
    if entry == "*" {
        return Ok(entry.to_string());
    }
    if let Some((ip, prefix)) = entry.split_once('/') {
        let ip: std::net::IpAddr = ip
            .parse()
            .map_err(|_| "is not a valid CIDR range (the part before '/' is not an IP address)")?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        Some(prefix)
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u8>().ok())
            .filter(|p| *p <= max)
            .ok_or_else(|| {
                format!("is not a valid CIDR range (the prefix length must be 0–{max})")
            })?;
        return Ok(entry.to_ascii_lowercase());
    }
    if entry.parse::<std::net::IpAddr>().is_ok() {
        return Ok(entry.to_ascii_lowercase());
    }
    let (dot, name) = match entry.strip_prefix("*.").or_else(|| entry.strip_prefix('.')) {
        Some(rest) => (".", rest),
        None => ("", entry),
    };
    let name = dns_name(name).map_err(|problem| {
        format!("is not a host name, domain, IP address or CIDR range: it {problem}")
    })?;
    Ok(format!("{dot}{name}"))
}

#[cfg(test)]
mod tests;
