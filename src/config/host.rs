//! `[host]` in the agent's config: the host files' paths and the proxy
//! drop-ins, pinned by whoever builds the appliance.

use std::path::{Path, PathBuf};

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

/// Where a host file key may point: only at a file of ovaboot's own, in
/// one of its directories and named as it names them. A file planned absent
/// is removed (a proxy cleared, DHCP again), so a key naming `/etc/passwd`
/// or an image's own networkd file would delete it; two keys can never name
/// one file, since each has directories of its own.
pub struct OwnFile {
    pub key: &'static str,
    /// The directories the file may be directly in.
    pub dirs: &'static [&'static str],
    /// What its name must end in, and why.
    pub suffix: &'static str,
    pub suffix_why: &'static str,
    /// Why only plain characters (what reads the path).
    pub plain_why: &'static str,
    /// Its name must hold "ovaboot" (in a directory other programs share).
    pub named_ovaboot: bool,
}

/// `host.proxy_env_file`: in ovaboot's own directories.
pub const PROXY_ENV_FILE: OwnFile = OwnFile {
    key: "proxy_env_file",
    dirs: &["/etc/ovaboot", "/run/ovaboot"],
    suffix: ".env",
    suffix_why: "an environment file",
    plain_why: "systemd reads other characters specially in EnvironmentFile=",
    named_ovaboot: false,
};

/// `host.network_file`: beside the image's own networkd files.
pub const NETWORK_FILE: OwnFile = OwnFile {
    key: "network_file",
    dirs: &["/etc/systemd/network"],
    suffix: ".network",
    suffix_why: "or systemd ignores it",
    plain_why: "no other characters name a file ovaboot writes",
    named_ovaboot: true,
};

/// `host.timesyncd_file`: a timesyncd drop-in.
pub const TIMESYNCD_FILE: OwnFile = OwnFile {
    key: "timesyncd_file",
    dirs: &["/etc/systemd/timesyncd.conf.d"],
    suffix: ".conf",
    suffix_why: "or systemd ignores it",
    plain_why: "no other characters name a file ovaboot writes",
    named_ovaboot: true,
};

impl OwnFile {
    /// `path` is a normalised absolute path (no `.`, `..` or `//`, only
    /// characters systemd reads literally), directly in one of the
    /// directories, named as the rule says.
    pub fn check(&self, path: &Path) -> Result<(), HostConfigError> {
        let bad = |problem: String| {
            Err(HostConfigError {
                key: self.key,
                problem,
            })
        };
        let text = path.to_string_lossy();
        let shown = crate::show::escaped(&text);
        if !systemd_syntax::is_plain_absolute_path(&text) {
            return bad(format!(
                "{shown} must be a normalised absolute path of letters, digits and / . _ + @ - ({})",
                self.plain_why
            ));
        }
        let (dir, name) = text.rsplit_once('/').unwrap_or_default();
        if !name.ends_with(self.suffix) || name.len() == self.suffix.len() {
            return bad(format!(
                "{shown} must end in {} ({})",
                self.suffix, self.suffix_why
            ));
        }
        let ovaboots = !self.named_ovaboot || name.contains("ovaboot");
        if !self.dirs.contains(&dir) || !ovaboots {
            let named = if self.named_ovaboot {
                " with \"ovaboot\" in its name"
            } else {
                ""
            };
            return bad(format!(
                "{shown} is not a file of ovaboot's own: it must be directly in {}{named} (a file planned absent is removed)",
                self.dirs.join(" or ")
            ));
        }
        Ok(())
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
        for (index, unit) in self.proxy_units.iter().enumerate() {
            if !systemd_syntax::is_service_unit_name(unit) {
                return bad(
                    "proxy_units",
                    format!("{unit:?} is not a systemd service unit name (e.g. k3s.service)"),
                );
            }
            if self.proxy_units[..index].contains(unit) {
                return bad(
                    "proxy_units",
                    format!("{unit:?} is named twice (each unit gets one drop-in)"),
                );
            }
        }
        for entry in &self.no_proxy_defaults {
            if let Err(problem) = no_proxy_entry(entry) {
                return bad("no_proxy_defaults", format!("{entry:?} {problem}"));
            }
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
        for (own, path) in [
            (&PROXY_ENV_FILE, &self.proxy_env_file),
            (&NETWORK_FILE, &self.network_file),
            (&TIMESYNCD_FILE, &self.timesyncd_file),
        ] {
            own.check(path)?;
        }
        Ok(())
    }
}
