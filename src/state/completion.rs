//! The completion record, `/var/lib/ovaboot/firstboot.json` (under the root):
//! written once, when first boot's cluster phase has finished. While it
//! exists, `firstboot` does nothing and `reconfigure` may run.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::apply::files::FilesError;
use crate::root::under;

use super::json;

/// Where the completion record lives, under the target root.
pub const COMPLETION_PATH: &str = "/var/lib/ovaboot/firstboot.json";

/// What `firstboot.json` says: when first boot finished and what it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    pub ovaboot_version: String,
    /// RFC 3339, UTC.
    pub completed_at: String,
    pub hostname: String,
    pub certificate_sha256: String,
}

impl Completion {
    /// First boot completed `now` for `hostname` (its FQDN), with the leaf
    /// whose SHA-256 fingerprint is `certificate_sha256`.
    pub fn new(hostname: &str, certificate_sha256: &str, now: time::OffsetDateTime) -> Completion {
        Completion {
            ovaboot_version: env!("CARGO_PKG_VERSION").to_owned(),
            completed_at: super::rfc3339(now),
            hostname: hostname.to_owned(),
            certificate_sha256: certificate_sha256.to_owned(),
        }
    }
}

/// Why the completion record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CompletionError {
    #[error("the completion record {} is unreadable ({message}); remove it to run first boot again", path.display())]
    Unreadable { path: PathBuf, message: String },
    #[error(transparent)]
    Files(#[from] FilesError),
}

/// The completion record under `root`, if first boot has finished.
pub fn load(root: &Path) -> Result<Option<Completion>, CompletionError> {
    json::read(root, COMPLETION_PATH).map_err(|e| CompletionError::Unreadable {
        path: e.path().to_owned(),
        message: e.message(),
    })
}

/// Writes `completion` (atomically) under `root`.
pub fn store(root: &Path, completion: &Completion) -> Result<(), CompletionError> {
    json::write(root, COMPLETION_PATH, completion, 0o644)?;
    Ok(())
}

/// The completion record's real path under `root` (for messages).
pub fn path(root: &Path) -> PathBuf {
    under(root, COMPLETION_PATH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_completion_record_round_trips_and_names_what_was_made() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(load(root.path()).unwrap(), None);
        let at = time::macros::datetime!(2026-11-27 10:00 UTC);
        let written = Completion::new("veba01.lab.example.com", "AB:CD", at);
        store(root.path(), &written).unwrap();
        assert_eq!(written.completed_at, "2026-11-27T10:00:00Z");
        assert_eq!(load(root.path()).unwrap(), Some(written));
    }

    #[test]
    fn a_damaged_record_is_an_error_that_says_how_to_rerun() {
        let root = tempfile::tempdir().unwrap();
        let real = path(root.path());
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::fs::write(&real, "{\"ovaboot_version\":").unwrap();
        let err = load(root.path()).unwrap_err().to_string();
        assert!(err.contains("remove it to run first boot again"), "{err}");
        assert!(err.contains(&real.display().to_string()), "{err}");
    }
}
