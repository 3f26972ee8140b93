//! The ISO transport: vSphere attaches a CD-ROM image labelled "OVF ENV" that
//! holds `ovf-env.xml`.
//!
//! Candidates are the CD-ROM drives (`/sys/block/sr*`, `/dev/sr*`). The volume
//! label is read from the ISO 9660 primary volume descriptor without mounting;
//! a drive without a medium or with another file system is skipped at once.
//! A matching medium (labelled "OVF ENV", or any other ISO 9660 medium, which
//! might hold the file) is mounted read-only, nosuid, nodev, noexec in a private
//! directory (mode 0700), the document read, and the medium unmounted and the
//! directory removed, also on error.

use std::fs::{File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};

use super::{Delivery, Fetched, Transport, TransportError, read_capped};

/// The label vSphere gives the OVF environment CD.
pub const OVF_ENV_LABEL: &str = "OVF ENV";

/// File names seen on OVF environment CDs (Joliet/Rock Ridge, or plain ISO
/// 9660 names as Linux shows them).
pub const DOCUMENT_NAMES: [&str; 4] = ["ovf-env.xml", "OVF-ENV.XML", "ovf_env.xml", "OVF_ENV.XML"];

const SECTOR: u64 = 2048;

#[derive(Debug, Clone)]
pub struct IsoTransport {
    sysfs: PathBuf,
    dev: PathBuf,
    mount_base: PathBuf,
    devices: Option<Vec<PathBuf>>,
}

impl IsoTransport {
    /// Looks at the machine's CD-ROM drives; mounts under `/run`.
    pub fn new() -> Self {
        let mount_base = if Path::new("/run").is_dir() {
            PathBuf::from("/run")
        } else {
            std::env::temp_dir()
        };
        IsoTransport {
            sysfs: "/sys".into(),
            dev: "/dev".into(),
            mount_base,
            devices: None,
        }
    }

    /// Finds drives under these roots instead of `/sys` and `/dev`.
    pub fn with_roots(mut self, sysfs: impl Into<PathBuf>, dev: impl Into<PathBuf>) -> Self {
        self.sysfs = sysfs.into();
        self.dev = dev.into();
        self
    }

    /// Uses exactly these block devices (e.g. a loop device) as candidates.
    pub fn with_devices(mut self, devices: Vec<PathBuf>) -> Self {
        self.devices = Some(devices);
        self
    }

    /// Makes the private mount directories under `base`.
    pub fn with_mount_base(mut self, base: impl Into<PathBuf>) -> Self {
        self.mount_base = base.into();
        self
    }

    /// CD-ROM drives: `sr*` in `<sysfs>/block` and in `<dev>`, as `<dev>/srN`.
    pub fn candidates(&self) -> Vec<PathBuf> {
        if let Some(devices) = &self.devices {
            return devices.clone();
        }
        let names = |dir: PathBuf| -> Vec<String> {
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| {
                    n.strip_prefix("sr")
                        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                })
                .collect()
        };
        let mut found = names(self.sysfs.join("block"));
        found.extend(names(self.dev.clone()));
        found.sort();
        found.dedup();
        found.into_iter().map(|n| self.dev.join(n)).collect()
    }
}

impl Default for IsoTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl Transport for IsoTransport {
    fn name(&self) -> &'static str {
        "iso"
    }

    fn fetch(&self) -> Result<Fetched, TransportError> {
        let candidates = self.candidates();
        if candidates.is_empty() {
            return Ok(Fetched::Skipped("no CD-ROM drive".into()));
        }
        let mut notes = Vec::new();
        for device in candidates {
            let label = match read_volume_label(&device) {
                Ok(Some(label)) => label,
                Ok(None) => {
                    notes.push(format!("{}: not ISO 9660", device.display()));
                    continue;
                }
                Err(e) => {
                    notes.push(format!("{}: {}", device.display(), no_medium_or(&e)));
                    continue;
                }
            };
            let labelled = label == OVF_ENV_LABEL;
            tracing::debug!(device = %device.display(), label, "ISO 9660 medium");
            let read = with_read_only_mount(&device, "iso9660", &self.mount_base, find_document);
            match read {
                Ok(Some(result)) => {
                    let bytes = result?;
                    return Ok(Fetched::Found(Delivery::document(
                        device.display().to_string(),
                        bytes,
                    )));
                }
                Ok(None) if labelled => return Err(TransportError::IsoWithoutDocument { device }),
                Ok(None) => notes.push(format!(
                    "{}: labelled {label:?}, no ovf-env.xml",
                    device.display()
                )),
                Err(source) if labelled => return Err(TransportError::Mount { device, source }),
                Err(e) => notes.push(format!(
                    "{}: labelled {label:?}, cannot mount: {e}",
                    device.display()
                )),
            }
        }
        Ok(Fetched::Skipped(format!(
            "no OVF environment CD ({})",
            notes.join("; ")
        )))
    }
}

fn no_medium_or(e: &io::Error) -> String {
    if e.raw_os_error() == Some(nix::libc::ENOMEDIUM) {
        "no medium".into()
    } else {
        e.to_string()
    }
}

/// The volume label of an ISO 9660 image or device (`None`: not ISO 9660).
/// Reads only the primary volume descriptor: sector 16, "CD001", label at byte 40.
pub fn read_volume_label(device: &Path) -> io::Result<Option<String>> {
    // O_NONBLOCK: opening an empty drive must not wait for the tray.
    let file: File = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(device)?;
    if drive_is_empty(&file) {
        // Reading an empty drive fails with EIO, which would read as a fault.
        return Err(io::Error::from_raw_os_error(nix::libc::ENOMEDIUM));
    }
    let mut sector = [0u8; SECTOR as usize];
    match file.read_exact_at(&mut sector, 16 * SECTOR) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    if sector[0] != 1 || &sector[1..6] != b"CD001" {
        return Ok(None);
    }
    let label = String::from_utf8_lossy(&sector[40..72]);
    Ok(Some(label.trim_end_matches([' ', '\0']).to_owned()))
}

/// Whether `file` is a CD-ROM drive that reports no disc (or an open tray).
/// Image files and other devices answer the ioctl with an error: not empty.
fn drive_is_empty(file: &File) -> bool {
    // linux/cdrom.h
    const CDROM_DRIVE_STATUS: nix::libc::c_ulong = 0x5326;
    const CDSL_CURRENT: nix::libc::c_int = nix::libc::c_int::MAX;
    const CDS_NO_DISC: nix::libc::c_int = 1;
    const CDS_TRAY_OPEN: nix::libc::c_int = 2;
    use std::os::fd::AsRawFd;
    const CDS_DRIVE_NOT_READY: nix::libc::c_int = 3;
    // SAFETY: CDROM_DRIVE_STATUS takes an integer argument and writes no memory;
    // the fd is valid for the call.
    let status = || unsafe { nix::libc::ioctl(file.as_raw_fd(), CDROM_DRIVE_STATUS, CDSL_CURRENT) };
    // A drive still spinning up says so for a moment; give it a bounded while
    // (5 s) rather than read it and mistake the EIO for an empty drive.
    let mut now = status();
    for _ in 0..25 {
        if now != CDS_DRIVE_NOT_READY {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        now = status();
    }
    matches!(now, CDS_NO_DISC | CDS_TRAY_OPEN)
}

/// Looks for the document in a mounted medium: `None` when absent.
fn find_document(dir: &Path) -> Option<Result<Vec<u8>, TransportError>> {
    let path = DOCUMENT_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.symlink_metadata().is_ok())?;
    Some(read_capped(&path, false))
}

/// Mounts `device` read-only in a fresh private directory under `base`, runs
/// `read` on it, then unmounts and removes the directory whatever happened.
pub(crate) fn with_read_only_mount<T>(
    device: &Path,
    fstype: &str,
    base: &Path,
    read: impl FnOnce(&Path) -> T,
) -> io::Result<T> {
    let dir = private_mount_dir(base)?;
    let flags = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    nix::mount::mount(Some(device), dir.path(), Some(fstype), flags, None::<&str>)?;
    let mounted = Mounted { dir };
    Ok(read(mounted.dir.path()))
}

/// A fresh directory under `base` that only root can enter.
fn private_mount_dir(base: &Path) -> io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix(".ovaboot-ovf-env-")
        .permissions(Permissions::from_mode(0o700))
        .tempdir_in(base)?;
    // Explicit: the umask must not widen or narrow it.
    std::fs::set_permissions(dir.path(), Permissions::from_mode(0o700))?;
    Ok(dir)
}

/// A mount that undoes itself; the directory is removed after the unmount.
struct Mounted {
    dir: tempfile::TempDir,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let path = self.dir.path();
        if let Err(e) = nix::mount::umount2(path, MntFlags::empty()) {
            tracing::warn!(path = %path.display(), error = %e, "unmount failed; detaching lazily");
            if let Err(e) = nix::mount::umount2(path, MntFlags::MNT_DETACH) {
                tracing::warn!(path = %path.display(), error = %e, "lazy unmount failed");
            }
        }
    }
}

#[cfg(test)]
mod tests;
