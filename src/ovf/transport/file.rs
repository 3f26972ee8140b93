//! `--ovf-env FILE`: an explicit document, for tests, rescue and re-runs.

use std::path::{Path, PathBuf};

use super::{Delivery, Fetched, Transport, TransportError, read_capped};

/// Reads the document from a path given by the operator; a missing file is an
/// error, not a skip (it was asked for).
#[derive(Debug, Clone)]
pub struct FileTransport {
    path: PathBuf,
}

impl FileTransport {
    pub fn new(path: impl AsRef<Path>) -> Self {
        FileTransport {
            path: path.as_ref().to_owned(),
        }
    }
}

impl Transport for FileTransport {
    fn name(&self) -> &'static str {
        "file"
    }

    fn fetch(&self) -> Result<Fetched, TransportError> {
        let bytes = read_capped(&self.path, true)?;
        Ok(Fetched::Found(Delivery::document(
            self.path.display().to_string(),
            bytes,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_given_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ovf-env.xml");
        std::fs::write(&path, b"<Environment/>").unwrap();
        let Fetched::Found(delivery) = FileTransport::new(&path).fetch().unwrap() else {
            panic!()
        };
        assert_eq!(delivery.document.unwrap().expose(), b"<Environment/>");
        assert_eq!(delivery.origin, path.display().to_string());
    }

    #[test]
    fn missing_file_is_an_error_naming_the_path() {
        let err = FileTransport::new("/nonexistent/ovf-env.xml")
            .fetch()
            .unwrap_err();
        assert!(
            err.to_string().starts_with("/nonexistent/ovf-env.xml: "),
            "{err}"
        );
    }
}
