//! The `com.vmware.guestInfo` transport: vSphere puts the whole document in
//! the guestinfo variable `guestinfo.ovfEnv`.
//!
//! Two ways to read guestinfo, behind [`GuestInfo`]: the VMware backdoor
//! directly ([`Backdoor`], no open-vm-tools needed, works before vmtoolsd
//! starts) and `vmware-rpctool` ([`Rpctool`]) when open-vm-tools is installed.
//! Neither is touched unless VMware is detected first: the backdoor's `in`
//! instruction faults on other hypervisors.
//!
//! Each key the descriptor declares may also be set directly as a guestinfo
//! variable (a VM advanced setting / `extraConfig`, e.g. `guestinfo.hostname`);
//! a non-empty value set that way overrides the document's. This is particular
//! to this transport.
//!
//! Limit: a guestinfo value travels in one RPC message, 64 KiB by default, so
//! the whole document (including a pasted certificate chain and key) must fit.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Delivery, Fetched, Transport, TransportError};
use crate::secret::Secret;

/// The guestinfo variable holding the whole OVF environment document.
pub const OVF_ENV_KEY: &str = "guestinfo.ovfEnv";

/// Why a guestinfo read failed (never carries a value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GuestInfoError(pub String);

/// Read access to guestinfo variables.
pub trait GuestInfo {
    /// How it reads (`backdoor`, `vmware-rpctool`, `memory`).
    fn via(&self) -> &'static str;
    /// The variable's value, `None` when it is not set.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, GuestInfoError>;
}

/// Guestinfo held in memory, for tests of code that reads guestinfo (a
/// hypervisor cannot run in a test).
#[derive(Debug, Default, Clone)]
pub struct MemoryGuestInfo {
    values: std::collections::BTreeMap<String, Vec<u8>>,
}

impl MemoryGuestInfo {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a variable, as `extraConfig` or vSphere would.
    pub fn set(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.values.insert(key.into(), value.into());
        self
    }
}

impl GuestInfo for MemoryGuestInfo {
    fn via(&self) -> &'static str {
        "memory"
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, GuestInfoError> {
        Ok(self.values.get(key).cloned())
    }
}

/// The guestinfo transport: readers in preference order, and the keys that may
/// be overridden.
pub struct GuestInfoTransport {
    readers: Vec<Box<dyn GuestInfo>>,
    /// Why there are no readers (shown when skipped).
    unavailable: String,
    override_keys: Vec<String>,
}

impl GuestInfoTransport {
    /// Detects VMware (CPUID hypervisor vendor, else DMI `sys_vendor`) and
    /// picks the readers available: the backdoor, then `vmware-rpctool`.
    pub fn detect() -> Self {
        Self::detect_with_root(Path::new("/"))
    }

    /// [`Self::detect`] with `root` standing for `/` when reading DMI.
    pub fn detect_with_root(root: &Path) -> Self {
        let cpuid = cpuid_says_vmware();
        let dmi = dmi_says_vmware(root);
        if !cpuid && !dmi {
            return Self::unavailable(
                "not running on VMware (neither CPUID nor DMI sys_vendor says so)",
            );
        }
        tracing::debug!(cpuid, dmi, "VMware detected");
        let mut readers: Vec<Box<dyn GuestInfo>> = Vec::new();
        if let Some(backdoor) = Backdoor::after_detection(cpuid) {
            readers.push(Box::new(backdoor));
        }
        if let Some(rpctool) = Rpctool::find() {
            readers.push(Box::new(rpctool));
        }
        if readers.is_empty() {
            return Self::unavailable(
                "on VMware, but neither the backdoor (x86_64 Linux) nor vmware-rpctool is available",
            );
        }
        Self::with_readers(readers)
    }

    /// Uses these readers (tests give an in-memory one); overrides are read for
    /// the keys the embedded descriptor declares.
    pub fn with_readers(readers: Vec<Box<dyn GuestInfo>>) -> Self {
        let override_keys = super::super::descriptor::declared_keys()
            .into_iter()
            .map(str::to_owned)
            .collect();
        GuestInfoTransport {
            readers,
            unavailable: String::new(),
            override_keys,
        }
    }

    /// Reads overrides for these keys instead of the descriptor's.
    pub fn with_override_keys(mut self, keys: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.override_keys = keys.into_iter().map(Into::into).collect();
        self
    }

    /// The readers chosen, by name, in order.
    pub fn readers(&self) -> Vec<&'static str> {
        self.readers.iter().map(|r| r.via()).collect()
    }

    fn unavailable(reason: &str) -> Self {
        GuestInfoTransport {
            readers: Vec::new(),
            unavailable: reason.to_owned(),
            override_keys: Vec::new(),
        }
    }
}

impl Transport for GuestInfoTransport {
    fn name(&self) -> &'static str {
        "guestinfo"
    }

    fn fetch(&self) -> Result<Fetched, TransportError> {
        // The first reader that answers is used for every key.
        let mut failures = Vec::new();
        let mut answer = None;
        for reader in &self.readers {
            match reader.get(OVF_ENV_KEY) {
                Ok(value) => {
                    answer = Some((reader.as_ref(), value));
                    break;
                }
                Err(e) => {
                    tracing::warn!(via = reader.via(), error = %e, "reading {OVF_ENV_KEY} failed");
                    failures.push(format!("{}: {e}", reader.via()));
                }
            }
        }
        let Some((reader, document)) = answer else {
            if self.readers.is_empty() {
                return Ok(Fetched::Skipped(self.unavailable.clone()));
            }
            return Err(TransportError::GuestInfo {
                key: OVF_ENV_KEY.into(),
                via: self.readers[0].via(),
                message: failures.join("; "),
            });
        };
        let document = document.filter(|d| !d.iter().all(u8::is_ascii_whitespace));

        let mut overrides = std::collections::BTreeMap::new();
        for key in &self.override_keys {
            let value = reader.get(key).map_err(|e| TransportError::GuestInfo {
                key: key.clone(),
                via: reader.via(),
                message: e.0,
            })?;
            let Some(value) = value.filter(|v| !v.is_empty()) else {
                continue;
            };
            let value = String::from_utf8(value).map_err(|_| TransportError::GuestInfoNotUtf8 {
                key: key.clone(),
                via: reader.via(),
            })?;
            overrides.insert(key.clone(), Secret::new(value));
        }

        if document.is_none() && overrides.is_empty() {
            return Ok(Fetched::Skipped(format!(
                "{OVF_ENV_KEY} is not set (read via {}) and no declared key is set directly",
                reader.via()
            )));
        }
        Ok(Fetched::Found(Delivery {
            origin: format!("{OVF_ENV_KEY} via {}", reader.via()),
            document: document.map(Secret::new),
            overrides,
        }))
    }
}

/// Whether this machine is a VMware VM (CPUID hypervisor vendor, else DMI
/// `sys_vendor` under `root`): the same test [`GuestInfoTransport::detect`]
/// makes before touching the backdoor.
pub fn on_vmware(root: &Path) -> bool {
    cpuid_says_vmware() || dmi_says_vmware(root)
}

/// The guestinfo RPC that sets `key` from the guest: `info-set KEY VALUE`
/// (what `vmware-rpctool` sends over the backdoor). Only `guestinfo.` keys
/// may be set by the guest.
pub fn info_set_rpc(key: &str, value: &str) -> String {
    format!("info-set {key} {value}")
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn cpuid_says_vmware() -> bool {
    vmw_backdoor::is_vmware_cpu()
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn cpuid_says_vmware() -> bool {
    false
}

/// DMI still says VMware when the VM hides its CPUID hypervisor leaf.
fn dmi_says_vmware(root: &Path) -> bool {
    std::fs::read_to_string(root.join("sys/class/dmi/id/sys_vendor"))
        .is_ok_and(|vendor| vendor.trim_start().starts_with("VMware"))
}

/// Guestinfo over the VMware backdoor (the `vmw_backdoor` crate).
///
/// Privileged access (`iopl(3)`, needs CAP_SYS_RAWIO) first; the kernel refuses
/// it under Secure Boot lockdown, so then unprivileged access, which VMware
/// allows by default. Unprivileged access is only tried when CPUID confirms
/// VMware: elsewhere the port access would fault and kill the process.
#[derive(Debug)]
pub struct Backdoor {
    cpuid_confirmed: bool,
}

impl Backdoor {
    /// Only after VMware detection: constructing it is the promise that the
    /// backdoor may be touched.
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    fn after_detection(cpuid_confirmed: bool) -> Option<Self> {
        Some(Backdoor { cpuid_confirmed })
    }

    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    fn after_detection(_cpuid_confirmed: bool) -> Option<Self> {
        None
    }
}

impl GuestInfo for Backdoor {
    fn via(&self) -> &'static str {
        "backdoor"
    }

    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, GuestInfoError> {
        let mut guard = match vmw_backdoor::probe_backdoor_privileged() {
            Ok(guard) => guard,
            Err(privileged) if self.cpuid_confirmed => {
                tracing::debug!(error = %privileged, "privileged backdoor access refused; trying unprivileged");
                vmw_backdoor::probe_backdoor().map_err(|e| GuestInfoError(e.to_string()))?
            }
            Err(privileged) => {
                return Err(GuestInfoError(format!(
                    "{privileged}; unprivileged access not tried because CPUID does not confirm VMware"
                )));
            }
        };
        let mut channel = guard
            .open_enhanced_chan()
            .map_err(|e| GuestInfoError(e.to_string()))?;
        channel
            .get_guestinfo(key.as_bytes())
            .map_err(|e| GuestInfoError(e.to_string()))
    }

    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    fn get(&self, _key: &str) -> Result<Option<Vec<u8>>, GuestInfoError> {
        let _ = self.cpuid_confirmed;
        Err(GuestInfoError(
            "the backdoor is only supported on x86_64 Linux".into(),
        ))
    }
}

/// Guestinfo via open-vm-tools' `vmware-rpctool "info-get KEY"`: exit 0 with
/// the value (and a newline) on stdout; exit 1 with "No value found" when unset.
#[derive(Debug, Clone)]
pub struct Rpctool {
    program: PathBuf,
}

impl Rpctool {
    pub const PROGRAM: &'static str = "vmware-rpctool";

    /// `vmware-rpctool` from `PATH` (or /usr/bin, /usr/sbin, /usr/local/bin).
    pub fn find() -> Option<Self> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain(["/usr/bin", "/usr/sbin", "/usr/local/bin"].map(PathBuf::from))
            .map(|dir| dir.join(Self::PROGRAM))
            .find(|candidate| candidate.is_file())
            .map(Self::at)
    }

    pub fn at(program: impl Into<PathBuf>) -> Self {
        Rpctool {
            program: program.into(),
        }
    }
}

impl Rpctool {
    /// Sets guestinfo `key` to `value` with `vmware-rpctool "info-set KEY VALUE"`.
    pub fn set(&self, key: &str, value: &str) -> Result<(), GuestInfoError> {
        let output = Command::new(&self.program)
            .arg(info_set_rpc(key, value))
            .output()
            .map_err(|e| GuestInfoError(format!("cannot run {}: {e}", self.program.display())))?;
        if output.status.success() {
            return Ok(());
        }
        Err(GuestInfoError(format!(
            "{} {}: {}",
            self.program.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

impl GuestInfo for Rpctool {
    fn via(&self) -> &'static str {
        Self::PROGRAM
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, GuestInfoError> {
        let output = Command::new(&self.program)
            .arg(format!("info-get {key}"))
            .output()
            .map_err(|e| GuestInfoError(format!("cannot run {}: {e}", self.program.display())))?;
        if output.status.success() {
            let mut value = output.stdout;
            if value.last() == Some(&b'\n') {
                value.pop();
            }
            return Ok(Some(value));
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.code() == Some(1) && stderr.contains("No value found") {
            return Ok(None);
        }
        Err(GuestInfoError(format!(
            "{} {}: {}",
            self.program.display(),
            output.status,
            stderr.trim()
        )))
    }
}

#[cfg(test)]
mod tests;
