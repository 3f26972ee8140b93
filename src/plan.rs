//! Plans: pure functions from the validated settings and the agent's config to
//! the desired end state (files with contents and modes, objects to apply).
//! Nothing here touches the world; `crate::apply` does.

pub mod appliance;
pub mod credentials;
pub mod host;
pub mod summary;

use std::fmt;
use std::path::PathBuf;

use crate::secret::Secret;

/// A file's desired contents; secret contents redact themselves in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub enum FileContents {
    Plain(Vec<u8>),
    Secret(Secret<Vec<u8>>),
    /// The file must not exist: a file ovaboot owns that this run does not
    /// want (e.g. the static network file once the admin chose DHCP), so a
    /// rerun with changed properties takes back what an earlier run wrote.
    Absent,
}

impl FileContents {
    /// The bytes to write (for the file executor and for comparing only), or
    /// `None` when the file must not exist. An `Option` rather than empty
    /// bytes, so that no caller can write an absent file as an empty one.
    pub fn expose(&self) -> Option<&[u8]> {
        match self {
            FileContents::Plain(bytes) => Some(bytes),
            FileContents::Secret(secret) => Some(secret.expose()),
            FileContents::Absent => None,
        }
    }

    pub fn is_secret(&self) -> bool {
        matches!(self, FileContents::Secret(_))
    }

    pub fn is_absent(&self) -> bool {
        matches!(self, FileContents::Absent)
    }
}

impl fmt::Debug for FileContents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Plain files are text in practice; show them so test failures read well.
            FileContents::Plain(bytes) => f
                .debug_tuple("Plain")
                .field(&String::from_utf8_lossy(bytes))
                .finish(),
            FileContents::Secret(secret) => f.debug_tuple("Secret").field(secret).finish(),
            FileContents::Absent => f.write_str("Absent"),
        }
    }
}

/// One file of a plan: where it goes (absolute, inside the target system),
/// what it holds (or that it must not exist), and its permission bits (e.g.
/// `0o644`, `0o600` for secrets; `0` and unused when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    pub path: PathBuf,
    pub contents: FileContents,
    pub mode: u32,
    /// Give the new file the owner and group of the one it replaces (e.g.
    /// `/etc/shadow`, group `shadow`); a new file is the writer's own.
    pub keep_owner: bool,
    /// The mode of the file's directory if the writer has to create it
    /// (`~/.ssh`: 0700); `None`: 0755. An existing directory is left as it is.
    pub dir_mode: Option<u32>,
}

impl PlannedFile {
    pub fn plain(path: impl Into<PathBuf>, contents: impl Into<Vec<u8>>, mode: u32) -> Self {
        PlannedFile {
            path: path.into(),
            contents: FileContents::Plain(contents.into()),
            mode,
            keep_owner: false,
            dir_mode: None,
        }
    }

    pub fn secret(path: impl Into<PathBuf>, contents: Secret<Vec<u8>>, mode: u32) -> Self {
        PlannedFile {
            path: path.into(),
            contents: FileContents::Secret(contents),
            mode,
            keep_owner: false,
            dir_mode: None,
        }
    }

    /// `path` must not exist: the file executor removes it if it does (a file
    /// or symlink, never a directory).
    pub fn absent(path: impl Into<PathBuf>) -> Self {
        PlannedFile {
            path: path.into(),
            contents: FileContents::Absent,
            mode: 0,
            keep_owner: false,
            dir_mode: None,
        }
    }

    pub fn is_absent(&self) -> bool {
        self.contents.is_absent()
    }

    /// See [`PlannedFile::keep_owner`].
    pub fn keeping_owner(mut self) -> Self {
        self.keep_owner = true;
        self
    }

    /// See [`PlannedFile::dir_mode`].
    pub fn in_dir_with_mode(mut self, mode: u32) -> Self {
        self.dir_mode = Some(mode);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_file_contents_are_redacted_in_debug() {
        let file = PlannedFile::secret(
            "/etc/ovaboot/key.pem",
            Secret::new(b"-----BEGIN PRIVATE KEY-----hunter2".to_vec()),
            0o600,
        );
        let debug = format!("{file:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("<redacted>"));
        assert_eq!(
            file.contents.expose(),
            Some(&b"-----BEGIN PRIVATE KEY-----hunter2"[..])
        );
        let plain = PlannedFile::plain("/etc/hostname", "veba01.example.com\n", 0o644);
        assert!(format!("{plain:?}").contains("veba01.example.com"));
    }

    #[test]
    fn an_absent_file_has_no_bytes_to_write_and_says_so() {
        let file = PlannedFile::absent("/etc/ovaboot/proxy.env");
        assert!(file.is_absent());
        assert!(!file.contents.is_secret());
        assert_eq!(file.contents.expose(), None, "never written as empty");
        assert!(format!("{file:?}").contains("Absent"));
        assert!(!PlannedFile::plain("/etc/hostname", "", 0o644).is_absent());
    }
}
