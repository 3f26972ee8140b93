//! The one way a record under `/var/lib/ovaboot` is read and written: JSON,
//! pretty-printed with a final newline, written atomically and fsync'd by the
//! file executor ([`crate::apply::files`]), read back as `None` when absent.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::apply::files::{FilesError, write_files};
use crate::plan::PlannedFile;
use crate::root::{ReadFileError, read_file, under};

/// The most a record may hold: a few KiB in truth.
pub const RECORD_LIMIT: u64 = 1024 * 1024;

/// Why a record could not be read: its real path and what went wrong. The
/// caller decides what that means (an error to stop on, or a record to
/// start afresh). [`ReadError::Json`] and [`ReadError::Unusable`] are
/// damage; [`ReadError::Io`] is the system refusing the read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("reading {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not the JSON expected (not UTF-8 either); the parser's message, escaped.
    #[error("{} is not the JSON expected: {message}", path.display())]
    Json { path: PathBuf, message: String },
    /// Not a regular file (a FIFO, a device) or larger than [`RECORD_LIMIT`].
    #[error("{} cannot be a record: it {message}", path.display())]
    Unusable { path: PathBuf, message: String },
}

impl ReadError {
    /// The real path (under the root) of the record at fault.
    pub fn path(&self) -> &Path {
        match self {
            ReadError::Io { path, .. }
            | ReadError::Json { path, .. }
            | ReadError::Unusable { path, .. } => path,
        }
    }

    /// What went wrong, without the path.
    pub fn message(&self) -> String {
        match self {
            ReadError::Io { source, .. } => source.to_string(),
            ReadError::Json { message, .. } => message.clone(),
            ReadError::Unusable { message, .. } => format!("it {message}"),
        }
    }

    /// The record is there but damaged (as opposed to unreadable).
    pub fn is_damage(&self) -> bool {
        !matches!(self, ReadError::Io { .. })
    }
}

/// The record at `path` (absolute, as on the running system) under `root`;
/// `None` when there is no such file. Read inside the root, never blocking,
/// at most [`RECORD_LIMIT`] bytes ([`crate::root::read_file`]).
pub fn read<T: DeserializeOwned>(root: &Path, path: &str) -> Result<Option<T>, ReadError> {
    let read = match read_file(root, path, RECORD_LIMIT) {
        Ok(Some(read)) => read,
        Ok(None) => return Ok(None),
        Err(ReadFileError::Io { path, source }) => return Err(ReadError::Io { path, source }),
        Err(e) => {
            return Err(ReadError::Unusable {
                path: e.path().to_owned(),
                message: e.message(),
            });
        }
    };
    serde_json::from_slice(&read.bytes)
        .map(Some)
        .map_err(|e| ReadError::Json {
            path: under(root, path),
            message: crate::show::escaped(&e.to_string()).into_owned(),
        })
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
    fn a_record_not_utf8_is_damaged_json_and_a_fifo_never_blocks() {
        let root = tempfile::tempdir().unwrap();
        let path = "/var/lib/ovaboot/example.json";
        let real = under(root.path(), path);
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::fs::write(&real, b"[\"\xff\"]").unwrap();
        let err = read::<Vec<String>>(root.path(), path).unwrap_err();
        assert!(matches!(err, ReadError::Json { .. }), "{err}");
        std::fs::remove_file(&real).unwrap();
        nix::unistd::mkfifo(&real, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let root_path = root.path().to_owned();
        let err = crate::root::test_support::returns("reading a FIFO record", move || {
            read::<Vec<String>>(&root_path, path).unwrap_err()
        });
        assert!(matches!(err, ReadError::Unusable { .. }), "{err}");
        assert!(err.to_string().contains("is a FIFO"), "{err}");
    }

    #[test]
    fn a_parsers_message_about_a_record_is_escaped() {
        let root = tempfile::tempdir().unwrap();
        let path = "/var/lib/ovaboot/example.json";
        let real = under(root.path(), path);
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::fs::write(&real, "\"done\\u001b[2J\"").unwrap();
        let err = read::<super::super::Outcome>(root.path(), path).unwrap_err();
        assert!(
            !err.to_string().chars().any(crate::show::is_unsafe),
            "{err:?}"
        );
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
