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
use crate::root::{ReadFileError, read_file, under};
use crate::secret::Secret;
use crate::tls::InstalledPair;
use zeroize::Zeroizing;

/// Where the kernel lists network interfaces.
pub const SYS_CLASS_NET: &str = "/sys/class/net";

/// `ARPHRD_ETHER` in `/sys/class/net/<iface>/type`.
const ARPHRD_ETHER: &str = "1";

/// The most a host file read here may hold (`/etc/hosts`, `/etc/passwd`,
/// `/etc/shadow`): far more than any appliance's, far less than memory.
pub const HOST_FILE_LIMIT: u64 = 4 * 1024 * 1024;
/// The most an installed certificate chain or key may hold.
pub const TLS_FILE_LIMIT: u64 = 1024 * 1024;

/// Why the facts could not be read (the path at fault).
#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    #[error("{}: {source}", path.display())]
    Sysfs { path: PathBuf, source: io::Error },
    #[error("reading {}: {}", .0.path().display(), .0.message())]
    Read(ReadFileError),
    #[error("{}: is not UTF-8 text", path.display())]
    NotText { path: PathBuf },
}

/// What the plan needs to know about the system under `root`: its
/// `/etc/hosts`, its first Ethernet interface (from the running kernel's
/// `/sys/class/net`) and the TLS pair a previous run installed. Every file
/// is read inside the root, never blocking and capped ([`read_file`]).
pub fn read_host_facts(root: &Path) -> Result<HostFacts, FactsError> {
    let existing_hosts = read_text(root, "/etc/hosts")?.unwrap_or_default();
    let interface = first_ethernet_interface(Path::new(SYS_CLASS_NET))?;
    let installed_tls = installed_tls(root)?;
    let root_home = read_text(root, "/etc/passwd")?
        .as_deref()
        .and_then(root_home);
    Ok(HostFacts {
        existing_hosts,
        interface,
        installed_tls,
        shadow: read_shadow(root),
        root_home,
        xds: crate::xds::renew::read_kept(root),
        auth: crate::auth::read_kept(root),
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
    match read_file(root, SHADOW_PATH, HOST_FILE_LIMIT) {
        Ok(Some(read)) => match std::str::from_utf8(&read.bytes) {
            Ok(text) => ShadowFacts::Present {
                text: Secret::new(text.to_owned()),
                mode: read.mode,
            },
            Err(_) => ShadowFacts::Unreadable("it is not UTF-8 text".into()),
        },
        Ok(None) => ShadowFacts::Missing,
        Err(e) => ShadowFacts::Unreadable(e.message()),
    }
}

/// The TLS pair a previous run installed under `root`, if both files are there
/// and readable. What cannot be used (not text, not readable by this user, as
/// for `render` run without root) is planned as absent: the TLS step then
/// makes a new pair, and a damaged one never stops a boot.
pub fn installed_tls(root: &Path) -> Result<Option<InstalledPair>, FactsError> {
    let read = |path: &str| -> Result<Option<Zeroizing<Vec<u8>>>, FactsError> {
        match read_file(root, path, TLS_FILE_LIMIT) {
            Ok(read) => Ok(read.map(|r| r.bytes)),
            Err(e) if e.io_kind() == Some(io::ErrorKind::PermissionDenied) => {
                tracing::warn!(path = %e.path().display(), "cannot read the installed TLS file; planning a new pair");
                Ok(None)
            }
            Err(e @ (ReadFileError::NotRegular { .. } | ReadFileError::TooLarge { .. })) => {
                tracing::warn!(error = %e, "the installed TLS file cannot be used; planning a new pair");
                Ok(None)
            }
            Err(e) => Err(FactsError::Read(e)),
        }
    };
    let (Some(cert), Some(key)) = (read(TLS_CERT_PATH)?, read(TLS_KEY_PATH)?) else {
        return Ok(None);
    };
    match (std::str::from_utf8(&cert), std::str::from_utf8(&key)) {
        (Ok(cert_pem), Ok(key_pem)) => Ok(Some(InstalledPair {
            cert_pem: cert_pem.to_owned(),
            key_pem: Secret::new(key_pem.to_owned()),
        })),
        _ => {
            tracing::warn!("the installed TLS pair is not PEM text; planning a new pair");
            Ok(None)
        }
    }
}

/// A file's text under `root`, or `None` when it does not exist.
fn read_text(root: &Path, path: &str) -> Result<Option<String>, FactsError> {
    let Some(read) = read_file(root, path, HOST_FILE_LIMIT).map_err(FactsError::Read)? else {
        return Ok(None);
    };
    String::from_utf8(read.bytes.to_vec())
        .map(Some)
        .map_err(|_| FactsError::NotText {
            path: under(root, path),
        })
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
