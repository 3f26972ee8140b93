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

use crate::apply::files::{Change, FilesError, WriteReport, preview, write_files};
use crate::plan::PlannedFile;

/// Where the admin's and packages' unit files and drop-ins are (the proxy
/// drop-ins go under `<unit>.d/` here).
pub const UNITS_DIR: &str = "/etc/systemd/system";

/// The flag: present when systemd must reload before the units ovaboot
/// configures start. It lists the unit files that changed. Under /run, so a
/// reboot (which loads every unit afresh) clears it.
pub const RELOAD_FLAG: &str = "/run/ovaboot/daemon-reload";

/// The unit files and drop-ins among `changes` (what [`preview`] says a
/// write would add, change or remove), in plan order.
pub fn changed_units(changes: &[(PathBuf, Change)]) -> Vec<&Path> {
    changes
        .iter()
        .map(|(path, _)| path.as_path())
        .filter(|path| path.starts_with(UNITS_DIR))
        .collect()
}

/// Writes `files` under `root` as [`write_files`] does, leaving
/// [`RELOAD_FLAG`] first when the write is going to change a unit file;
/// returns the write's report and whether it left the flag.
///
/// First, because a flag left after the write is lost whenever something
/// fails in between (a later file's rename, the flag's own write): the drop-in
/// is in place, the run fails, and its retry finds nothing left to change,
/// so no flag, and k3s starts without its proxy. A flag left before a write
/// that then fails costs one reload. A flag left by an earlier run of this
/// boot stays: its unit may not have reloaded yet.
pub fn write_files_flagging_reload(
    root: &Path,
    files: &[PlannedFile],
) -> Result<(WriteReport, bool), FilesError> {
    let changes = preview(root, files)?;
    let changed = changed_units(&changes);
    if !changed.is_empty() {
        let mut list = String::new();
        for path in &changed {
            list.push_str(&path.display().to_string());
            list.push('\n');
        }
        write_files(root, &[PlannedFile::plain(RELOAD_FLAG, list, 0o644)])?;
        tracing::info!(
            flag = RELOAD_FLAG,
            "unit files change: systemd reloads before starting them"
        );
    }
    Ok((write_files(root, files)?, !changed.is_empty()))
}

#[cfg(test)]
mod tests;
