//! `[host]` in the agent's config: the host files' paths and the proxy
//! drop-ins, pinned by whoever builds the appliance.

use std::path::PathBuf;

use serde::Deserialize;

use crate::settings::proxy::no_proxy_entry;
use crate::systemd_syntax;

/// `[host]` in the agent's config: what the appliance builder pins.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostConfig {
    /// Services that get the proxy environment (a drop-in each).
    pub proxy_units: Vec<String>,
    /// The proxy variables, in `EnvironmentFile=` syntax (also valid POSIX sh);
    /// 0600 when a proxy URL carries credentials, else 0644.
    pub proxy_env_file: PathBuf,
    /// Appended to `NO_PROXY` (after the admin's `guestinfo.no_proxy`, before
    /// the appliance's FQDN and static address).
    pub no_proxy_defaults: Vec<String>,
    /// The systemd-networkd file for a static address. `10-` sorts before the
    /// images' catch-all DHCP files (e.g. Photon's `99-dhcp-en.network`), and
    /// networkd uses the first file that matches an interface.
    pub network_file: PathBuf,
    /// The systemd-timesyncd drop-in for `guestinfo.ntp`.
    pub timesyncd_file: PathBuf,
    /// How long the host phase keeps retrying a cause that may pass (the OVF
    /// environment's CD-ROM not readable yet) before it exits 1. Within the
    /// unit's `TimeoutStartSec=` (5 min, 30 s of it for udev to settle).
    pub retry_timeout_secs: u64,
}

/// The most `retry_timeout_secs` may be: the host unit's `TimeoutStartSec=`
/// (5 min) less udev's settle (30 s) and one last attempt.
pub const MAX_RETRY_TIMEOUT_SECS: u64 = 240;

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
            proxy_env_file: "/etc/ovaboot/proxy.env".into(),
            network_file: "/etc/systemd/network/10-ovaboot.network".into(),
            timesyncd_file: "/etc/systemd/timesyncd.conf.d/ovaboot.conf".into(),
            retry_timeout_secs: 180,
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
            if !systemd_syntax::is_service_unit_name(unit) {
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
        if !systemd_syntax::is_plain_absolute_path(&self.proxy_env_file.to_string_lossy()) {
            return bad(
                "proxy_env_file",
                format!(
                    "{} must be a normalised absolute path of letters, digits and / . _ + @ - (systemd reads other characters specially in EnvironmentFile=)",
                    self.proxy_env_file.display()
                ),
            );
        }
        if self.retry_timeout_secs > MAX_RETRY_TIMEOUT_SECS {
            return bad(
                "retry_timeout_secs",
                format!(
                    "{} is over {MAX_RETRY_TIMEOUT_SECS}: ovaboot-host.service would be stopped first (TimeoutStartSec=5min)",
                    self.retry_timeout_secs
                ),
            );
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
