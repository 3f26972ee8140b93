//! Static network and time settings: `guestinfo.ipaddress`, `guestinfo.netmask`,
//! `guestinfo.gateway`, `guestinfo.dns`, `guestinfo.domain`, `guestinfo.ntp`
//! (the VEBA property names).
//!
//! An empty value is the same as no value: the vSphere wizard sends every
//! property, blank ones as empty strings. With `guestinfo.ipaddress` blank the
//! appliance keeps DHCP; then `guestinfo.gateway`, `guestinfo.dns` and
//! `guestinfo.domain` are refused (DHCP supplies them and there is no static
//! configuration to put them in; silently dropping what the admin typed would
//! be worse), `guestinfo.netmask` is ignored (a drop-down in the wizard always
//! sends one), and `guestinfo.ntp` applies either way.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

use crate::ovf::{Properties, PropertyValue};
use crate::settings::hostname::dns_name;

pub const KEY_IPADDRESS: &str = "guestinfo.ipaddress";
pub const KEY_NETMASK: &str = "guestinfo.netmask";
pub const KEY_GATEWAY: &str = "guestinfo.gateway";
pub const KEY_DNS: &str = "guestinfo.dns";
pub const KEY_DOMAIN: &str = "guestinfo.domain";
pub const KEY_NTP: &str = "guestinfo.ntp";

/// A refused network property: `<key>: <problem>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct NetworkError {
    pub key: &'static str,
    pub problem: String,
}

fn err(key: &'static str, problem: impl Into<String>) -> NetworkError {
    NetworkError {
        key,
        problem: problem.into(),
    }
}

/// What the network properties say: an optional static configuration and NTP
/// servers (which apply with DHCP too, so they live outside [`StaticNetwork`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkSettings {
    /// `None`: DHCP, left as the image has it.
    pub static_network: Option<StaticNetwork>,
    /// From `guestinfo.ntp`, in the order given; empty: the image's default.
    pub ntp: Vec<NtpServer>,
}

/// A validated static address for the appliance's first Ethernet interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticNetwork {
    pub address: IpAddr,
    /// Prefix length: 0–32 for IPv4, 0–128 for IPv6.
    pub prefix: u8,
    /// Same family as `address`; inside its subnet (IPv6 also: link-local).
    pub gateway: Option<IpAddr>,
    pub dns: Vec<IpAddr>,
    /// Search domains, lowercased, without trailing dot.
    pub domains: Vec<String>,
}

/// An NTP server: a host name or an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NtpServer {
    Address(IpAddr),
    Name(String),
}

impl std::fmt::Display for NtpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NtpServer::Address(a) => write!(f, "{a}"),
            NtpServer::Name(n) => f.write_str(n),
        }
    }
}

/// The value of `key`, trimmed; `None` when absent or blank.
pub(crate) fn value<'a>(props: &'a Properties, key: &str) -> Option<&'a str> {
    props
        .get(key)
        .map(PropertyValue::expose)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// How `token`, a piece of `key`'s value, may be quoted in an error: never
/// when the property is password-typed, nor when its whole value looks like
/// it carries a credential or holds another property's secret
/// ([`crate::show::quoted_unless_credential`]).
pub(crate) fn shown(props: &Properties, key: &str, token: &str) -> String {
    match props.get(key) {
        Some(PropertyValue::Secret(_)) => crate::secret::REDACTED.to_string(),
        Some(value) => {
            crate::show::quoted_unless_credential(value.expose(), token, secret_values(props))
        }
        None => crate::show::quoted(token),
    }
}

/// The values of the password-typed properties (never to be quoted anywhere).
pub(crate) fn secret_values(props: &Properties) -> impl Iterator<Item = &str> {
    props
        .values()
        .filter(|v| v.is_secret())
        .map(PropertyValue::expose)
}

/// Splits a list typed as `a b`, `a,b` or `a, b`.
pub(crate) fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
}

impl NetworkSettings {
    /// Reads and validates the network properties; every error names its key.
    pub fn from_properties(props: &Properties) -> Result<NetworkSettings, NetworkError> {
        let ntp = match value(props, KEY_NTP) {
            Some(v) => parse_ntp(props, v)?,
            None => Vec::new(),
        };
        let Some(address) = value(props, KEY_IPADDRESS) else {
            // A netmask alone is ignored: descriptors that offer it as a
            // drop-down (VEBA's does) always send one, DHCP or not.
            for key in [KEY_GATEWAY, KEY_DNS, KEY_DOMAIN] {
                if value(props, key).is_some() {
                    return Err(err(
                        key,
                        format!(
                            "is set but {KEY_IPADDRESS} is empty; it only applies to a static \
                             address (with DHCP the DHCP server supplies it)"
                        ),
                    ));
                }
            }
            return Ok(NetworkSettings {
                static_network: None,
                ntp,
            });
        };
        let static_network = parse_static(props, address)?;
        check_reachable(&static_network, &ntp)?;
        let static_network = Some(static_network);
        Ok(NetworkSettings {
            static_network,
            ntp,
        })
    }
}

fn parse_static(props: &Properties, address_text: &str) -> Result<StaticNetwork, NetworkError> {
    let (address, prefix) = parse_address(props, address_text)?;
    let subnet = subnet(address, prefix);
    let gateway = parse_gateway(props, &subnet, &address)?;
    let dns = parse_dns(props)?;
    let domains = parse_domains(props)?;
    Ok(StaticNetwork {
        address,
        prefix,
        gateway,
        dns,
        domains,
    })
}

/// `guestinfo.ipaddress` and `guestinfo.netmask`: a host address and its prefix length.
fn parse_address(props: &Properties, address_text: &str) -> Result<(IpAddr, u8), NetworkError> {
    let address: IpAddr = address_text.parse().map_err(|_| {
        let hint = if address_text.contains('/') {
            format!("; give the prefix length in {KEY_NETMASK}, not here")
        } else {
            String::new()
        };
        err(
            KEY_IPADDRESS,
            format!(
                "{} is not an IPv4 or IPv6 address{hint}",
                shown(props, KEY_IPADDRESS, address_text)
            ),
        )
    })?;
    if !is_unicast(&address) {
        return Err(err(
            KEY_IPADDRESS,
            format!(
                "{address} is not a usable host address (unspecified, loopback, multicast or broadcast)"
            ),
        ));
    }
    let mask_text = value(props, KEY_NETMASK).ok_or_else(|| {
        err(
            KEY_NETMASK,
            format!("is required with a static {KEY_IPADDRESS} (a prefix length such as 24)"),
        )
    })?;
    let prefix = parse_netmask(mask_text, &address).map_err(|problem| {
        err(
            KEY_NETMASK,
            format!("{}: {problem}", shown(props, KEY_NETMASK, mask_text)),
        )
    })?;
    let subnet = subnet(address, prefix);
    if let Some(kind) = reserved_kind(&subnet, &address) {
        return Err(err(
            KEY_IPADDRESS,
            format!("{address} is the {kind} address of {subnet}; choose a host address"),
        ));
    }
    Ok((address, prefix))
}

fn parse_gateway(
    props: &Properties,
    subnet: &IpNet,
    address: &IpAddr,
) -> Result<Option<IpAddr>, NetworkError> {
    let Some(text) = value(props, KEY_GATEWAY) else {
        return Ok(None);
    };
    let gateway: IpAddr = text.parse().map_err(|_| {
        err(
            KEY_GATEWAY,
            format!("{} is not an IP address", shown(props, KEY_GATEWAY, text)),
        )
    })?;
    check_gateway(subnet, address, &gateway).map_err(|p| err(KEY_GATEWAY, p))?;
    Ok(Some(gateway))
}

fn parse_dns(props: &Properties) -> Result<Vec<IpAddr>, NetworkError> {
    let mut dns = Vec::new();
    for token in value(props, KEY_DNS).map(split_list).into_iter().flatten() {
        let server: IpAddr = token.parse().map_err(|_| {
            err(
                KEY_DNS,
                format!(
                    "{} is not an IP address (DNS servers are given as addresses, separated by spaces or commas)",
                    shown(props, KEY_DNS, token)
                ),
            )
        })?;
        if server.is_unspecified() || server.is_multicast() {
            return Err(err(KEY_DNS, format!("{server} cannot be a DNS server")));
        }
        if !dns.contains(&server) {
            dns.push(server);
        }
    }
    Ok(dns)
}

fn parse_domains(props: &Properties) -> Result<Vec<String>, NetworkError> {
    let mut domains = Vec::new();
    for token in value(props, KEY_DOMAIN)
        .map(split_list)
        .into_iter()
        .flatten()
    {
        let domain = dns_name(token).map_err(|problem| {
            err(
                KEY_DOMAIN,
                format!(
                    "{} is not a valid domain name: it {problem}",
                    shown(props, KEY_DOMAIN, token)
                ),
            )
        })?;
        if !domains.contains(&domain) {
            domains.push(domain);
        }
    }
    Ok(domains)
}

/// Without a gateway the appliance reaches its own subnet only: a DNS or NTP
/// server given by an address outside it cannot work (refused, naming the
/// property). No gateway at all may be intended (an isolated network): a
/// warning says what it means.
fn check_reachable(network: &StaticNetwork, ntp: &[NtpServer]) -> Result<(), NetworkError> {
    if network.gateway.is_some() {
        return Ok(());
    }
    let subnet = subnet(network.address, network.prefix);
    let on_link = |server: &IpAddr| {
        subnet.contains(server)
            || server.is_loopback()
            || matches!(server, IpAddr::V6(v6) if v6.is_unicast_link_local())
    };
    let ntp_addresses = ntp.iter().filter_map(|server| match server {
        NtpServer::Address(address) => Some(address),
        NtpServer::Name(_) => None,
    });
    let servers = network.dns.iter().map(|s| (KEY_DNS, s));
    for (key, server) in servers.chain(ntp_addresses.map(|s| (KEY_NTP, s))) {
        if !on_link(server) {
            return Err(err(
                key,
                format!(
                    "{server} is outside {subnet} and {KEY_GATEWAY} is not set, so the appliance \
                     cannot reach it; set {KEY_GATEWAY}, or give a server in {subnet}"
                ),
            ));
        }
    }
    tracing::warn!(
        "{KEY_GATEWAY} is not set: the appliance reaches {subnet} only (an isolated network)"
    );
    Ok(())
}

fn parse_ntp(props: &Properties, text: &str) -> Result<Vec<NtpServer>, NetworkError> {
    let mut servers = Vec::new();
    for token in split_list(text) {
        let server = if let Ok(address) = token.parse::<IpAddr>() {
            if address.is_unspecified() || address.is_multicast() {
                return Err(err(KEY_NTP, format!("{address} cannot be an NTP server")));
            }
            NtpServer::Address(address)
        } else {
            NtpServer::Name(dns_name(token).map_err(|problem| {
                err(
                    KEY_NTP,
                    format!(
                        "{} is neither an IP address nor a valid host name: it {problem}",
                        shown(props, KEY_NTP, token)
                    ),
                )
            })?)
        };
        if !servers.contains(&server) {
            servers.push(server);
        }
    }
    Ok(servers)
}

/// Accepts `24`, `24 (255.255.255.0)` (VEBA's form; both parts must agree) and a
/// bare dotted mask `255.255.255.0` (IPv4 only).
fn parse_netmask(text: &str, address: &IpAddr) -> Result<u8, String> {
    let max: u8 = if address.is_ipv4() { 32 } else { 128 };
    let (prefix_text, mask_text) = match text.split_once('(') {
        Some((prefix, rest)) => {
            let mask = rest
                .trim()
                .strip_suffix(')')
                .ok_or("the dotted mask in parentheses is not closed with ')'")?;
            (prefix.trim(), Some(mask.trim()))
        }
        None if text.contains('.') => ("", Some(text)),
        None => (text, None),
    };
    let from_mask = match mask_text {
        None => None,
        Some(mask) => {
            if address.is_ipv6() {
                return Err(format!(
                    "a dotted mask is IPv4 only; give a prefix length 0–{max}"
                ));
            }
            let mask: Ipv4Addr = mask
                .parse()
                .map_err(|_| "the dotted mask is not a netmask like 255.255.255.0".to_owned())?;
            Some(mask_to_prefix(mask).ok_or_else(|| {
                format!("{mask} is not a valid netmask (its one bits must be contiguous)")
            })?)
        }
    };
    let from_prefix = if prefix_text.is_empty() {
        None
    } else {
        let digits = prefix_text.strip_prefix('/').unwrap_or(prefix_text);
        // Digits only: u8's parser would take "+24" as 24.
        let prefix: u8 = Some(digits)
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse().ok())
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("the prefix length must be a number from 0 to {max}"))?;
        Some(prefix)
    };
    match (from_prefix, from_mask) {
        (Some(p), Some(m)) if p != m => Err(format!(
            "prefix length /{p} and mask {} disagree (the mask is /{m})",
            prefix_to_mask(m)
        )),
        (Some(p), _) => Ok(p),
        (None, Some(m)) => Ok(m),
        (None, None) => Err(format!(
            "the prefix length must be a number from 0 to {max}"
        )),
    }
}

fn mask_to_prefix(mask: Ipv4Addr) -> Option<u8> {
    let bits = u32::from(mask);
    let prefix = bits.leading_ones();
    // Contiguous: no one bit after the first zero.
    (bits.checked_shl(prefix).unwrap_or(0) == 0).then_some(prefix as u8)
}

fn prefix_to_mask(prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0))
}

fn is_unicast(address: &IpAddr) -> bool {
    match address {
        IpAddr::V4(a) => {
            !(a.is_unspecified() || a.is_loopback() || a.is_multicast() || a.is_broadcast())
        }
        IpAddr::V6(a) => !(a.is_unspecified() || a.is_loopback() || a.is_multicast()),
    }
}

/// The subnet an address lies in.
fn subnet(address: IpAddr, prefix: u8) -> IpNet {
    // parse_netmask bounded the prefix by the address family.
    IpNet::new(address, prefix)
        .expect("the prefix length fits the address family")
        .trunc()
}

/// IPv4 network and broadcast addresses (none in /31 and /32, RFC 3021).
/// IPv6 has no broadcast; its all-zero host (subnet-router anycast) is reserved.
fn reserved_kind(subnet: &IpNet, address: &IpAddr) -> Option<&'static str> {
    match subnet {
        IpNet::V4(net) if net.prefix_len() <= 30 => {
            if *address == IpAddr::V4(net.network()) {
                Some("network")
            } else if *address == IpAddr::V4(net.broadcast()) {
                Some("broadcast")
            } else {
                None
            }
        }
        IpNet::V6(net) if net.prefix_len() <= 126 && *address == IpAddr::V6(net.network()) => {
            Some("network")
        }
        _ => None,
    }
}

fn check_gateway(subnet: &IpNet, address: &IpAddr, gateway: &IpAddr) -> Result<(), String> {
    let fix = "give the address of the router on the appliance's subnet";
    if gateway.is_ipv4() != address.is_ipv4() {
        return Err(format!(
            "{gateway} is not of the same IP version as {address}; {fix}"
        ));
    }
    if gateway == address {
        return Err(format!("{gateway} is the appliance's own address; {fix}"));
    }
    if let IpAddr::V6(g) = gateway {
        // IPv6 routers are commonly reached by their link-local address.
        if g.is_unicast_link_local() {
            return Ok(());
        }
    }
    if !subnet.contains(gateway) {
        return Err(format!(
            "{gateway} is outside the subnet {subnet}; {fix} ({first} to {last}), or correct {KEY_NETMASK} if the subnet is wider",
            first = first_host(subnet),
            last = last_host(subnet),
        ));
    }
    if let Some(kind) = reserved_kind(subnet, gateway) {
        return Err(format!(
            "{gateway} is the {kind} address of {subnet}, not a host; {fix}"
        ));
    }
    Ok(())
}

/// The lowest and highest addresses a host (or router) may have in `subnet`.
fn first_host(subnet: &IpNet) -> IpAddr {
    match subnet {
        IpNet::V4(net) if net.prefix_len() <= 30 => {
            IpAddr::V4(Ipv4Addr::from(u32::from(net.network()) + 1))
        }
        IpNet::V6(net) if net.prefix_len() <= 126 => {
            IpAddr::V6(std::net::Ipv6Addr::from(u128::from(net.network()) + 1))
        }
        _ => subnet.network(),
    }
}

fn last_host(subnet: &IpNet) -> IpAddr {
    match subnet {
        IpNet::V4(net) if net.prefix_len() <= 30 => {
            IpAddr::V4(Ipv4Addr::from(u32::from(net.broadcast()) - 1))
        }
        _ => subnet.broadcast(),
    }
}

#[cfg(test)]
mod tests;
