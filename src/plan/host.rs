//! The host step's plan: host name, `/etc/hosts`, static network, NTP and the
//! outbound proxy for the cluster's services, as files. Pure: the caller reads
//! the existing `/etc/hosts` and finds the interface (`crate::apply::host`).

mod hosts_file;
mod systemd;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use hosts_file::{DEBIAN_HOSTNAME_ADDRESS, merge_hosts};
pub use systemd::environment_line;

use crate::plan::PlannedFile;
use crate::secret::Secret;
use crate::settings::Hostname;
use crate::settings::network::{NetworkSettings, StaticNetwork};
use crate::settings::proxy::{ProxySettings, no_proxy_entry};

/// The kernel's limit on a host name (HOST_NAME_MAX); systemd applies it to
/// `/etc/hostname` too.
pub const HOST_NAME_MAX: usize = 64;

/// `[host]` in the agent's config: what the appliance builder pins.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostConfig {
    /// Services that get the proxy environment (a drop-in each).
    pub proxy_units: Vec<String>,
    /// Appended to `NO_PROXY` (after the admin's `guestinfo.no_proxy`, before
    /// the appliance's FQDN and static address).
    pub no_proxy_defaults: Vec<String>,
    /// The systemd-networkd file for a static address. `10-` sorts before the
    /// images' catch-all DHCP files (e.g. Photon's `99-dhcp-en.network`), and
    /// networkd uses the first file that matches an interface.
    pub network_file: PathBuf,
    /// The systemd-timesyncd drop-in for `guestinfo.ntp`.
    pub timesyncd_file: PathBuf,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            proxy_units: vec!["k3s.service".into()],
            // Cluster-internal traffic must never go to the proxy: k3s' default
            // pod CIDR (10.42.0.0/16) and service CIDR (10.43.0.0/16), in-cluster
            // DNS names (.svc, .cluster.local) and loopback. Newer k3s adds its
            // own CIDRs itself, but containerd and older releases do not.
            no_proxy_defaults: [
                "localhost",
                "127.0.0.0/8",
                "10.42.0.0/16",
                "10.43.0.0/16",
                ".svc",
                ".cluster.local",
            ]
            .map(String::from)
            .to_vec(),
            network_file: "/etc/systemd/network/10-ovaboot.network".into(),
            timesyncd_file: "/etc/systemd/timesyncd.conf.d/ovaboot.conf".into(),
        }
    }
}

/// A refused `[host]` config value: `host.<key>: <problem>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("host.{key}: {problem}")]
pub struct HostConfigError {
    pub key: &'static str,
    pub problem: String,
}

impl HostConfig {
    /// Checks what serde cannot: unit names, `NO_PROXY` entries, paths.
    pub fn validate(&self) -> Result<(), HostConfigError> {
        let bad = |key, problem: String| Err(HostConfigError { key, problem });
        for unit in &self.proxy_units {
            if !systemd::is_service_unit_name(unit) {
                return bad(
                    "proxy_units",
                    format!("{unit:?} is not a systemd service unit name (e.g. k3s.service)"),
                );
            }
        }
        for entry in &self.no_proxy_defaults {
            if let Err(problem) = no_proxy_entry(entry) {
                return bad("no_proxy_defaults", format!("{entry:?} {problem}"));
            }
        }
        for (key, path, suffix) in [
            ("network_file", &self.network_file, ".network"),
            ("timesyncd_file", &self.timesyncd_file, ".conf"),
        ] {
            if !path.is_absolute() {
                return bad(key, format!("{} must be an absolute path", path.display()));
            }
            if !path.to_string_lossy().ends_with(suffix) {
                return bad(
                    key,
                    format!(
                        "{} must end in {suffix} or systemd ignores it",
                        path.display()
                    ),
                );
            }
        }
        Ok(())
    }
}

/// What the host plan is made from.
#[derive(Debug, Clone, Copy)]
pub struct HostInputs<'a> {
    pub hostname: &'a Hostname,
    pub network: &'a NetworkSettings,
    pub proxy: Option<&'a ProxySettings>,
    /// The target's current `/etc/hosts` (empty if it has none).
    pub existing_hosts: &'a str,
    /// The first Ethernet interface; needed only for a static address.
    pub interface: Option<&'a str>,
}

/// Why the host step cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostPlanError {
    #[error(
        "guestinfo.ipaddress: a static address is set but the appliance has no Ethernet interface to put it on"
    )]
    NoInterface,
    #[error("network interface {0:?}: not a name networkd can match literally")]
    BadInterface(String),
    #[error(transparent)]
    Config(#[from] HostConfigError),
}

/// The name for `/etc/hostname` and the kernel: the FQDN, or the short name
/// when the FQDN is longer than the kernel allows.
pub fn static_hostname(hostname: &Hostname) -> &str {
    if hostname.fqdn().len() <= HOST_NAME_MAX {
        hostname.fqdn()
    } else {
        hostname.short()
    }
}

/// Plans the host step's files, in this order: `/etc/hostname`, `/etc/hosts`,
/// the networkd file (static address only), the timesyncd drop-in (NTP only),
/// one proxy drop-in per configured unit (proxy only).
pub fn plan_host(
    inputs: &HostInputs<'_>,
    config: &HostConfig,
) -> Result<Vec<PlannedFile>, HostPlanError> {
    config.validate()?;
    let HostInputs {
        hostname,
        network,
        proxy,
        existing_hosts,
        interface,
    } = *inputs;
    let fqdn = hostname.fqdn();
    let static_network = network.static_network.as_ref();

    let mut files = vec![PlannedFile::plain(
        "/etc/hostname",
        format!("{}\n", static_hostname(hostname)),
        0o644,
    )];

    let address = static_network.map_or_else(
        || DEBIAN_HOSTNAME_ADDRESS.to_string(),
        |s| s.address.to_string(),
    );
    files.push(PlannedFile::plain(
        "/etc/hosts",
        merge_hosts(existing_hosts, &address, fqdn, hostname.short()),
        0o644,
    ));

    if let Some(net) = static_network {
        let interface = interface.ok_or(HostPlanError::NoInterface)?;
        if !systemd::is_interface_name(interface) {
            return Err(HostPlanError::BadInterface(interface.to_string()));
        }
        files.push(PlannedFile::plain(
            &config.network_file,
            networkd_file(net, interface),
            0o644,
        ));
    }

    if !network.ntp.is_empty() {
        let servers: Vec<String> = network.ntp.iter().map(ToString::to_string).collect();
        files.push(PlannedFile::plain(
            &config.timesyncd_file,
            format!(
                "# Written by ovaboot on first boot from guestinfo.ntp.\n[Time]\nNTP={}\n",
                servers.join(" ")
            ),
            0o644,
        ));
    }

    if let Some(proxy) = proxy {
        let no_proxy = no_proxy_list(proxy, config, fqdn, static_network.map(|s| s.address));
        // Into a Secret at once: with credentials it holds the proxy password.
        let dropin = Secret::new(proxy_dropin(proxy, &no_proxy).into_bytes());
        for unit in &config.proxy_units {
            let path = proxy_dropin_path(unit);
            files.push(if proxy.is_secret() {
                PlannedFile::secret(path, dropin.clone(), 0o600)
            } else {
                PlannedFile::plain(path, dropin.expose().clone(), 0o644)
            });
        }
    }
    Ok(files)
}

/// `/etc/systemd/system/<unit>.d/ovaboot-proxy.conf`.
pub fn proxy_dropin_path(unit: &str) -> PathBuf {
    Path::new("/etc/systemd/system")
        .join(format!("{unit}.d"))
        .join("ovaboot-proxy.conf")
}

fn networkd_file(net: &StaticNetwork, interface: &str) -> String {
    let mut text = format!(
        "# Written by ovaboot on first boot from guestinfo.ipaddress, guestinfo.netmask,\n\
         # guestinfo.gateway, guestinfo.dns and guestinfo.domain.\n\
         [Match]\nName={interface}\n\n[Network]\nAddress={}/{}\n",
        net.address, net.prefix
    );
    if let Some(gateway) = net.gateway {
        text.push_str(&format!("Gateway={gateway}\n"));
    }
    for dns in &net.dns {
        text.push_str(&format!("DNS={dns}\n"));
    }
    if !net.domains.is_empty() {
        text.push_str(&format!("Domains={}\n", net.domains.join(" ")));
    }
    text
}

/// The admin's entries, then the configured defaults, then the appliance's own
/// FQDN and static address (so talking to itself never goes through the proxy);
/// duplicates dropped, order kept.
fn no_proxy_list(
    proxy: &ProxySettings,
    config: &HostConfig,
    fqdn: &str,
    address: Option<IpAddr>,
) -> Vec<String> {
    let own = std::iter::once(fqdn.to_string()).chain(address.map(|a| a.to_string()));
    let mut list: Vec<String> = Vec::new();
    for entry in proxy
        .no_proxy
        .iter()
        .cloned()
        .chain(config.no_proxy_defaults.iter().cloned())
        .chain(own)
    {
        if !list.contains(&entry) {
            list.push(entry);
        }
    }
    list
}

/// Both spellings of each variable: Go and curl read the upper case ones,
/// other tools (wget, some curl builds for `http_proxy`) only the lower case.
fn proxy_dropin(proxy: &ProxySettings, no_proxy: &[String]) -> String {
    let mut text = String::from(
        "# Written by ovaboot on first boot from guestinfo.http_proxy,\n\
         # guestinfo.https_proxy and guestinfo.no_proxy.\n[Service]\n",
    );
    let mut set = |name: &str, value: &str| {
        for name in [name.to_string(), name.to_ascii_lowercase()] {
            text.push_str(&environment_line(&name, value));
            text.push('\n');
        }
    };
    if let Some(http) = &proxy.http {
        set("HTTP_PROXY", http.expose());
    }
    if let Some(https) = &proxy.https {
        set("HTTPS_PROXY", https.expose());
    }
    set("NO_PROXY", &no_proxy.join(","));
    text
}

#[cfg(test)]
mod tests;
