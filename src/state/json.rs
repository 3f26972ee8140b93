//! The one way a record under `/var/lib/ovaboot` is read and written: JSON,
//! pretty-printed with a final newline, written atomically and fsync'd by the
//! file executor ([`crate::apply::files`]), read back as `None` when absent.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::apply::files::{FilesError, write_files};
use crate::plan::PlannedFile;
use crate::root::under;

/// Why a record could not be read: its real path and what went wrong. The
/// caller decides what that means (an error to stop on, or a record to
/// start afresh).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("reading {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not the JSON expected: {message}", path.display())]
    Json { path: PathBuf, message: String },
}

impl ReadError {
    /// The real path (under the root) of the record at fault.
    pub fn path(&self) -> &Path {
        match self {
            ReadError::Io { path, .. } | ReadError::Json { path, .. } => path,
        }
    }

    /// What went wrong, without the path.
    pub fn message(&self) -> String {
        match self {
            ReadError::Io { source, .. } => source.to_string(),
            ReadError::Json { message, .. } => message.clone(),
        }
    }
}

/// The record at `path` (absolute, as on the running system) under `root`;
/// `None` when there is no such file.
pub fn read<T: DeserializeOwned>(root: &Path, path: &str) -> Result<Option<T>, ReadError> {
    let path = under(root, path);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ReadError::Json {
                path,
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ReadError::Io { path, source }),
    }
}

/// `value` as the file planned at `path` with `mode` (to write with others
/// in one atomic step).
pub fn file<T: Serialize>(path: &str, value: &T, mode: u32) -> PlannedFile {
    let mut text = serde_json::to_string_pretty(value).expect("records are plain data");
    text.push('\n');
    PlannedFile::plain(path, text.into_bytes(), mode)
}

/// Writes `value` at `path` under `root` with `mode`, atomically.
pub fn write<T: Serialize>(
    root: &Path,
    path: &str,
    value: &T,
    mode: u32,
) -> Result<(), FilesError> {
    write_files(root, &[file(path, value, mode)])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_record_round_trips_with_its_mode_and_an_absent_one_is_none() {
        let root = tempfile::tempdir().unwrap();
        let path = "/var/lib/ovaboot/example.json";
        assert_eq!(read::<Vec<u32>>(root.path(), path).unwrap(), None);
        write(root.path(), path, &vec![1u32, 2], 0o600).unwrap();
        assert_eq!(
            read::<Vec<u32>>(root.path(), path).unwrap(),
            Some(vec![1, 2])
        );
        let real = under(root.path(), path);
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "[\n  1,\n  2\n]\n");
        let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_damaged_record_names_its_real_path() {
        let root = tempfile::tempdir().unwrap();
        let path = "/var/lib/ovaboot/example.json";
        let real = under(root.path(), path);
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::fs::write(&real, "{\"a\":").unwrap();
        let err = read::<serde_json::Value>(root.path(), path).unwrap_err();
        assert_eq!(err.path(), real);
        assert!(
            err.to_string().contains("is not the JSON expected"),
            "{err}"
        );
    }
}
