//! Reading the system the plan is made for, never changing it: its
//! `/etc/hosts`, root's home, `/etc/shadow`, the interface a static address
//! goes on (from the running kernel) and the TLS pair a previous run
//! installed. What cannot be read where a plan can do without it is planned
//! around (a warning), not an error.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::plan::appliance::{HostFacts, TLS_CERT_PATH, TLS_KEY_PATH};
use crate::plan::credentials::{SHADOW_PATH, ShadowFacts};
use crate::root::under;
use crate::secret::Secret;
use crate::tls::InstalledPair;

/// Where the kernel lists network interfaces.
pub const SYS_CLASS_NET: &str = "/sys/class/net";

/// `ARPHRD_ETHER` in `/sys/class/net/<iface>/type`.
const ARPHRD_ETHER: &str = "1";

/// Why the facts could not be read (the path at fault).
#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    #[error("{}: {source}", path.display())]
    Sysfs { path: PathBuf, source: io::Error },
    #[error("reading {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
}

/// What the plan needs to know about the system under `root`: its
/// `/etc/hosts`, its first Ethernet interface (from the running kernel's
/// `/sys/class/net`) and the TLS pair a previous run installed.
pub fn read_host_facts(root: &Path) -> Result<HostFacts, FactsError> {
    let existing_hosts = read_optional(&under(root, "/etc/hosts"))?.unwrap_or_default();
    let interface = first_ethernet_interface(Path::new(SYS_CLASS_NET))?;
    let installed_tls = installed_tls(root)?;
    let root_home = read_optional(&under(root, "/etc/passwd"))?
        .as_deref()
        .and_then(root_home);
    Ok(HostFacts {
        existing_hosts,
        interface,
        installed_tls,
        shadow: read_shadow(root),
        root_home,
        xds: crate::xds::renew::read_kept(root),
    })
}

/// root's home directory from `/etc/passwd` text (its sixth field), if it
/// is an absolute path.
pub fn root_home(passwd: &str) -> Option<PathBuf> {
    let home = passwd
        .lines()
        .find(|l| l.starts_with("root:"))?
        .split(':')
        .nth(5)?;
    Path::new(home).is_absolute().then(|| PathBuf::from(home))
}

/// The target's `/etc/shadow`, its contents and mode. Never an error here:
/// the credentials plan refuses, naming the property, only when a password
/// needs the file (`render` by a user who cannot read it plans the rest).
pub fn read_shadow(root: &Path) -> ShadowFacts {
    use std::os::unix::fs::PermissionsExt;
    let path = under(root, SHADOW_PATH);
    let read = fs::read_to_string(&path)
        .and_then(|text| Ok((text, fs::metadata(&path)?.permissions().mode() & 0o7777)));
    match read {
        Ok((text, mode)) => ShadowFacts::Present {
            text: Secret::new(text),
            mode,
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => ShadowFacts::Missing,
        Err(e) => ShadowFacts::Unreadable(e.to_string()),
    }
}

/// The TLS pair a previous run installed under `root`, if both files are there
/// and readable. What cannot be used (not text, not readable by this user, as
/// for `render` run without root) is planned as absent: the TLS step then
/// makes a new pair, and a damaged one never stops a boot.
pub fn installed_tls(root: &Path) -> Result<Option<InstalledPair>, FactsError> {
    let read = |path: &str| -> Result<Option<Vec<u8>>, FactsError> {
        let path = under(root, path);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                tracing::warn!(path = %path.display(), "cannot read the installed TLS file; planning a new pair");
                Ok(None)
            }
            Err(source) => Err(FactsError::Read { path, source }),
        }
    };
    let (Some(cert), Some(key)) = (read(TLS_CERT_PATH)?, read(TLS_KEY_PATH)?) else {
        return Ok(None);
    };
    let key = zeroize::Zeroizing::new(key);
    match (String::from_utf8(cert), std::str::from_utf8(&key)) {
        (Ok(cert_pem), Ok(key_pem)) => Ok(Some(InstalledPair {
            cert_pem,
            key_pem: Secret::new(key_pem.to_owned()),
        })),
        _ => {
            tracing::warn!("the installed TLS pair is not PEM text; planning a new pair");
            Ok(None)
        }
    }
}

/// A file's text, or `None` when it does not exist.
fn read_optional(path: &Path) -> Result<Option<String>, FactsError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(FactsError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The first Ethernet interface by name under `sys_class_net` (normally
/// [`SYS_CLASS_NET`]): type 1, backed by a device (a `device` link), not under
/// `/devices/virtual/`, not wireless. `None` if there is none.
pub fn first_ethernet_interface(sys_class_net: &Path) -> Result<Option<String>, FactsError> {
    let sysfs = |source| FactsError::Sysfs {
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
