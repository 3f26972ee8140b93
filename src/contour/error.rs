//! Everything that stops the Contour step, each error one line naming what is
//! at fault: a `[contour]` config key, the manifest file (unreadable, not the
//! pinned release's digest, not YAML, a document that is no object), or an
//! object and field (a release whose shape the transforms do not expect, or
//! objects that contradict each other). All are permanent (exit 2): the same inputs
//! fail the same way.

use std::path::PathBuf;

/// Why the Contour step could not be planned. Each message is one line naming the
/// config key, the file, or the object and field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ContourError {
    /// A `[contour]` config value is unusable.
    #[error("contour.{key}: {problem}")]
    Config { key: &'static str, problem: String },

    #[error(
        "cannot read the Contour manifest {}: {source}{}",
        path.display(),
        if source.kind() == std::io::ErrorKind::NotFound {
            "; it ships in the appliance image: elsewhere, point OVABOOT_CONTOUR_MANIFEST or [contour] manifest at a copy of the pinned release's file"
        } else {
            ""
        }
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    /// The file is not the pinned release; nothing in it was parsed.
    #[error(
        "the Contour manifest {} has sha256 {actual}, but contour.sha256 pins {expected}: it is not the pinned release",
        path.display()
    )]
    Digest {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    #[error("cannot parse the Contour manifest {}: {message}", path.display())]
    Parse { path: PathBuf, message: String },

    #[error("the Contour manifest {}: document {index} is not a Kubernetes object: {problem}", path.display())]
    NotAnObject {
        path: PathBuf,
        index: usize,
        problem: String,
    },

    /// The manifest is not laid out as the transform expects (e.g. a new
    /// upstream release moved a field): refuse rather than guess.
    #[error(
        "the Contour manifest no longer has the shape ovaboot expects: {object}: {field}: {problem}"
    )]
    Shape {
        object: String,
        field: String,
        problem: String,
    },

    /// The (transformed) objects contradict each other, e.g. a Service port
    /// that targets a port no envoy container listens on.
    #[error("the Contour objects are not self-consistent: {object}: {field}: {problem}")]
    Inconsistent {
        object: String,
        field: String,
        problem: String,
    },
}

impl ContourError {
    pub(crate) fn shape(object: &str, field: &str, problem: impl Into<String>) -> Self {
        ContourError::Shape {
            object: object.to_owned(),
            field: field.to_owned(),
            problem: problem.into(),
        }
    }

    pub(crate) fn inconsistent(object: &str, field: &str, problem: impl Into<String>) -> Self {
        ContourError::Inconsistent {
            object: object.to_owned(),
            field: field.to_owned(),
            problem: problem.into(),
        }
    }
}
