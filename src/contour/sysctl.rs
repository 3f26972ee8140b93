//! What the host must allow for envoy to bind 80/443 on the host network.
//!
//! Contour runs envoy as UID 65534 with no capabilities, and ports below 1024
//! are privileged. The ways round that, and why this one:
//! - a pod-level sysctl (`securityContext.sysctls`): the kubelet refuses every
//!   `net.*` sysctl for a hostNetwork pod ("not allowed with host net enabled");
//! - `capabilities.add: [NET_BIND_SERVICE]`: for a non-root UID the runtime puts
//!   it in the bounding/permitted sets, not the effective one; that needs ambient
//!   capabilities, which Kubernetes does not expose (kubernetes#56374, KEP #2757);
//! - running envoy as root, or `setcap` on a rebuilt envoy image: a larger blast
//!   radius for the internet-facing process, or giving up the pinned upstream image;
//! - a host drop-in setting `net.ipv4.ip_unprivileged_port_start` to the lowest
//!   port envoy binds (80): chosen. It is per network namespace, so only the
//!   host's namespace (and the hostNetwork pods in it) changes; ports below 80
//!   (ssh, DNS, ...) stay privileged. The cost: any local process on the
//!   appliance may bind 80-1023, acceptable on a single-purpose appliance whose
//!   only listener there is envoy.

use std::path::PathBuf;

use serde_json::Value;

use super::objects::{at, locate, port_number};
use super::transform::{ENVOY, NAMESPACE};
use super::{ContourError, Object};

/// The drop-in systemd-sysctl reads at every boot.
pub const DROP_IN_PATH: &str = "/etc/sysctl.d/60-ovaboot-envoy-ports.conf";
pub const KEY: &str = "net.ipv4.ip_unprivileged_port_start";
/// Where the host step writes the value to apply it now, without a reboot.
pub const PROC_PATH: &str = "/proc/sys/net/ipv4/ip_unprivileged_port_start";

/// A host file for the host step's plan, plus the value to apply immediately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysctlDropIn {
    pub path: PathBuf,
    pub contents: String,
    pub mode: u32,
    pub key: &'static str,
    pub value: u16,
    /// Writing `value` here applies it at once (the drop-in only at boot or on
    /// `sysctl --system`); it must happen before envoy starts.
    pub proc_path: PathBuf,
}

/// The sysctl drop-in the envoy objects need, or `None` when they need none
/// (envoy not on the host network, or no port below 1024, as in `host-port`).
pub fn privileged_port_sysctl(objects: &[Object]) -> Result<Option<SysctlDropIn>, ContourError> {
    let ds = locate(objects, "DaemonSet", NAMESPACE, ENVOY)?;
    let Some(pod) = at(ds, "spec.template.spec") else {
        return Ok(None);
    };
    if pod.get("hostNetwork").and_then(Value::as_bool) != Some(true) {
        return Ok(None);
    }
    let lowest = ["initContainers", "containers"]
        .iter()
        .filter_map(|key| pod.get(*key).and_then(Value::as_array))
        .flatten()
        .filter_map(|c| c.get("ports").and_then(Value::as_array))
        .flatten()
        .filter_map(|p| port_number(p.get("containerPort")))
        .filter(|p| *p < 1024)
        .min();
    Ok(lowest.map(|value| SysctlDropIn {
        path: PathBuf::from(DROP_IN_PATH),
        contents: format!(
            "# Written by ovaboot: envoy (UID 65534) listens on the host network on\n\
             # ports {value} and up. Ports below {value} stay privileged.\n\
             {KEY} = {value}\n"
        ),
        mode: 0o644,
        key: KEY,
        value,
        proc_path: PathBuf::from(PROC_PATH),
    }))
}

#[cfg(test)]
mod tests;
