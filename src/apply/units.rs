//! systemd's copy of the unit files. systemd reads units and their drop-ins
//! when it starts and at `daemon-reload`, not when they change: after ovaboot
//! wrote or removed one (the proxy drop-ins for k3s and containerd), k3s
//! would start without its proxy, or with the one taken away, unless systemd
//! reloads first. Reloading at every boot costs time for nothing, so ovaboot
//! asks for it only when a unit file changed: it leaves a flag file, and the
//! unit that ran it reloads after it exits (`ExecStartPost=` in
//! `systemd/ovaboot-host.service` and `systemd/ovaboot-reconfigure.service`
//! says why a flag rather than ovaboot calling systemctl itself).

use std::path::{Path, PathBuf};

use crate::apply::files::{FilesError, WriteReport, write_files};
use crate::plan::PlannedFile;

/// Where the admin's and packages' unit files and drop-ins are (the proxy
/// drop-ins go under `<unit>.d/` here).
pub const UNITS_DIR: &str = "/etc/systemd/system";

/// The flag: present when systemd must reload before the units ovaboot
/// configures start. It lists the unit files that changed. Under /run, so a
/// reboot (which loads every unit afresh) clears it.
pub const RELOAD_FLAG: &str = "/run/ovaboot/daemon-reload";

/// The unit files and drop-ins `report` wrote or removed, in plan order.
pub fn changed_units(report: &WriteReport) -> Vec<&Path> {
    report
        .written
        .iter()
        .chain(&report.removed)
        .map(PathBuf::as_path)
        .filter(|path| path.starts_with(UNITS_DIR))
        .collect()
}

/// Leaves [`RELOAD_FLAG`] under `root` when `report` changed a unit file;
/// returns whether it did. A flag left by an earlier run of this boot stays:
/// its unit may not have reloaded yet (a run that failed after writing is
/// retried, and the retry finds nothing left to change).
pub fn request_reload(root: &Path, report: &WriteReport) -> Result<bool, FilesError> {
    let changed = changed_units(report);
    if changed.is_empty() {
        return Ok(false);
    }
    let mut list = String::new();
    for path in &changed {
        list.push_str(&path.display().to_string());
        list.push('\n');
    }
    write_files(root, &[PlannedFile::plain(RELOAD_FLAG, list, 0o644)])?;
    tracing::info!(
        flag = RELOAD_FLAG,
        "unit files changed: systemd reloads before starting them"
    );
    Ok(true)
}

#[cfg(test)]
mod tests;
