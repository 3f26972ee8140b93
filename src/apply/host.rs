//! The host step's effects beyond files: the kernel's host name, and finding
//! the interface a static address goes on.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::plan::host::static_hostname;
use crate::settings::Hostname;

/// Where the kernel lists network interfaces.
pub const SYS_CLASS_NET: &str = "/sys/class/net";

/// `ARPHRD_ETHER` in `/sys/class/net/<iface>/type`.
const ARPHRD_ETHER: &str = "1";

#[derive(Debug, thiserror::Error)]
pub enum HostApplyError {
    #[error("setting the kernel host name to {name}: {source}")]
    SetHostname { name: String, source: nix::Error },
    #[error("{}: {source}", path.display())]
    Sysfs { path: PathBuf, source: io::Error },
}

/// Sets the running kernel's host name (what `/etc/hostname` holds), so the
/// name is right before the next boot; systemd reads the file from then on.
pub fn set_kernel_hostname(hostname: &Hostname) -> Result<(), HostApplyError> {
    let name = static_hostname(hostname);
    nix::unistd::sethostname(name).map_err(|source| HostApplyError::SetHostname {
        name: name.to_string(),
        source,
    })?;
    tracing::info!(hostname = name, "set the kernel host name");
    Ok(())
}

/// The first Ethernet interface by name under `sys_class_net` (normally
/// [`SYS_CLASS_NET`]): type 1, backed by a device (a `device` link), not under
/// `/devices/virtual/`, not wireless. `None` if there is none.
pub fn first_ethernet_interface(sys_class_net: &Path) -> Result<Option<String>, HostApplyError> {
    let sysfs = |source| HostApplyError::Sysfs {
        path: sys_class_net.to_path_buf(),
        source,
    };
    let mut names: Vec<String> = fs::read_dir(sys_class_net)
        .map_err(sysfs)?
        .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .map_err(sysfs)?;
    names.sort();
    Ok(names
        .into_iter()
        .find(|name| is_physical_ethernet(&sys_class_net.join(name))))
}

fn is_physical_ethernet(dir: &Path) -> bool {
    let is_ether = fs::read_to_string(dir.join("type")).is_ok_and(|t| t.trim() == ARPHRD_ETHER);
    let has_device = fs::symlink_metadata(dir.join("device")).is_ok();
    // Entries are symlinks into /sys/devices/...; virtual ones live under virtual/.
    let is_virtual =
        fs::read_link(dir).is_ok_and(|target| target.to_string_lossy().contains("/virtual/"));
    let is_wireless = dir.join("wireless").exists() || dir.join("phy80211").exists();
    is_ether && has_device && !is_virtual && !is_wireless
}

#[cfg(test)]
mod tests;
