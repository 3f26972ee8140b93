//! The host step's plan: host name, `/etc/hosts`, static network, NTP and the
//! outbound proxy for the cluster's services, as files. Pure: the caller reads
//! the existing `/etc/hosts` and finds the interface (`crate::facts`).
//!
//! The proxy variables go to one environment file (`/etc/ovaboot/proxy.env`),
//! root-only when a URL carries credentials, and each service's drop-in only
//! names it with `EnvironmentFile=`. Never inline `Environment=`: systemd shows
//! those to any local user over D-Bus (`systemctl show -p Environment`), file
//! mode or not. Non-secret proxies use the same file, so other consumers have
//! one place to read and a change needs a restart, not a `daemon-reload`.

mod hosts_file;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::config::{HostConfig, HostConfigError};
pub use crate::systemd_syntax::push_env_file_line;
pub use hosts_file::{DEBIAN_HOSTNAME_ADDRESS, HOSTS_MARKER, merge_hosts};

use crate::plan::PlannedFile;
use crate::secret::Secret;
use crate::settings::Hostname;
use crate::settings::network::{NetworkSettings, StaticNetwork};
use crate::settings::proxy::ProxySettings;

/// The kernel's limit on a host name (HOST_NAME_MAX); systemd applies it to
/// `/etc/hostname` too.
pub const HOST_NAME_MAX: usize = 64;

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
/// the networkd file, the timesyncd drop-in, the proxy environment file then
/// one drop-in per configured unit naming it.
///
/// Every optional file this run does not want is planned absent, so that a
/// rerun after the admin changed the properties (static → DHCP, NTP or proxy
/// cleared) takes back what an earlier run wrote: the networkd file with DHCP,
/// the timesyncd drop-in without NTP, the drop-ins and then the environment
/// file without a proxy. Drop-ins go first when removing (and last when
/// writing) so that no unit ever names a missing `EnvironmentFile=`, which
/// would stop it from starting. Only the paths `HostConfig` names are
/// touched: what the admin or the image put elsewhere stays.
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

    files.push(network_file(static_network, interface, config)?);
    files.push(timesyncd_file(network, config));
    files.extend(proxy_files(proxy, config, fqdn, static_network));
    Ok(files)
}

/// The networkd file for a static address, or planned absent (DHCP).
fn network_file(
    static_network: Option<&StaticNetwork>,
    interface: Option<&str>,
    config: &HostConfig,
) -> Result<PlannedFile, HostPlanError> {
    let Some(net) = static_network else {
        return Ok(PlannedFile::absent(&config.network_file));
    };
    let interface = interface.ok_or(HostPlanError::NoInterface)?;
    if !crate::systemd_syntax::is_interface_name(interface) {
        return Err(HostPlanError::BadInterface(interface.to_string()));
    }
    Ok(PlannedFile::plain(
        &config.network_file,
        networkd_file(net, interface),
        0o644,
    ))
}

/// The timesyncd drop-in naming `guestinfo.ntp`'s servers, or planned absent.
fn timesyncd_file(network: &NetworkSettings, config: &HostConfig) -> PlannedFile {
    if network.ntp.is_empty() {
        return PlannedFile::absent(&config.timesyncd_file);
    }
    let servers: Vec<String> = network.ntp.iter().map(ToString::to_string).collect();
    PlannedFile::plain(
        &config.timesyncd_file,
        format!(
            "# Written by ovaboot on first boot from guestinfo.ntp.\n[Time]\nNTP={}\n",
            servers.join(" ")
        ),
        0o644,
    )
}

/// The proxy's environment file and the drop-ins naming it; without a proxy,
/// the drop-ins then the file planned absent (see [`plan_host`] for the order).
fn proxy_files(
    proxy: Option<&ProxySettings>,
    config: &HostConfig,
    fqdn: &str,
    static_network: Option<&StaticNetwork>,
) -> Vec<PlannedFile> {
    let Some(proxy) = proxy else {
        let mut files: Vec<PlannedFile> = config
            .proxy_units
            .iter()
            .map(|unit| PlannedFile::absent(proxy_dropin_path(unit)))
            .collect();
        files.push(PlannedFile::absent(&config.proxy_env_file));
        return files;
    };
    let no_proxy = no_proxy_list(proxy, config, fqdn, static_network.map(|s| s.address));
    let env = proxy_env_file(proxy, &no_proxy);
    let mut files = vec![if proxy.is_secret() {
        // Root-only: it holds the proxy password.
        PlannedFile::secret(&config.proxy_env_file, Secret::new(env.into_bytes()), 0o600)
    } else {
        PlannedFile::plain(&config.proxy_env_file, env, 0o644)
    }];
    // No secret in the drop-ins, whatever the proxy: only the file's path.
    let dropin = proxy_dropin(&config.proxy_env_file);
    files.extend(
        config
            .proxy_units
            .iter()
            .map(|unit| PlannedFile::plain(proxy_dropin_path(unit), dropin.clone(), 0o644)),
    );
    files
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
fn proxy_env_file(proxy: &ProxySettings, no_proxy: &[String]) -> String {
    const HEADER: &str = "# Written by ovaboot on first boot from guestinfo.http_proxy,\n\
         # guestinfo.https_proxy and guestinfo.no_proxy. systemd EnvironmentFile=\n\
         # syntax, also valid POSIX sh.\n";
    let no_proxy = no_proxy.join(",");
    let values: Vec<(&str, &str)> = [
        proxy.http.as_ref().map(|u| ("HTTP_PROXY", u.expose())),
        proxy.https.as_ref().map(|u| ("HTTPS_PROXY", u.expose())),
        Some(("NO_PROXY", no_proxy.as_str())),
    ]
    .into_iter()
    .flatten()
    .collect();
    // Sized up front (two lines a variable, each value at worst doubled by
    // escaping) so the text, maybe a password, is never reallocated: that
    // would leave copies behind that the Secret cannot zero.
    let capacity = HEADER.len()
        + values
            .iter()
            .map(|(name, value)| 2 * (name.len() + 2 * value.len() + 4))
            .sum::<usize>();
    let mut text = String::with_capacity(capacity);
    text.push_str(HEADER);
    for (name, value) in values {
        push_env_file_line(&mut text, name, value);
        push_env_file_line(&mut text, &name.to_ascii_lowercase(), value);
    }
    debug_assert!(text.capacity() == capacity, "reallocated");
    text
}

/// The drop-in for each proxied unit: only where the variables are.
fn proxy_dropin(env_file: &Path) -> String {
    // The path is validated plain (`HostConfig::validate`): no quoting needed.
    format!(
        "# Written by ovaboot on first boot: the proxy settings from guestinfo.http_proxy,\n\
         # guestinfo.https_proxy and guestinfo.no_proxy are in {0}.\n\
         [Service]\nEnvironmentFile={0}\n",
        env_file.display()
    )
}

#[cfg(test)]
mod tests;
