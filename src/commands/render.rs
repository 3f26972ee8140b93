//! `ovaboot render --out DIR`: the whole plan written to a folder, changing
//! nothing else on the system.
//!
//! ```text
//! DIR/rootfs/<absolute path>   every host file first boot would write, with its mode
//!                              (nothing for the files planned absent: plan.json lists them)
//! DIR/manifests/NN-kind-name.yaml   every Kubernetes object, in apply order (Secret 0600)
//! DIR/plan.json                 the summary
//! ```
//!
//! The folder is built beside DIR under a temporary name and renamed into
//! place at the end, so DIR is either complete or absent (or left empty, as
//! it was, when the plan fails before anything is written).

use std::path::{Path, PathBuf};

use crate::apply::files::{FilesError, write_files};
use crate::plan::PlannedFile;
use crate::plan::appliance::Plan;
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{}: the output folder must be absent or empty", path.display())]
    NotEmpty { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Files(#[from] FilesError),
}

/// What was written.
#[derive(Debug)]
pub struct Rendered {
    /// Host files written under `rootfs/`.
    pub host_files: usize,
    /// Host files planned absent that exist under the root the plan started
    /// from: applying removes them (all planned absent are in `plan.json`).
    pub absent_host_files: usize,
    pub manifests: usize,
}

/// Checks that `out` can take a rendered plan, before any work is done.
pub fn check_output_folder(out: &Path) -> Result<(), RenderError> {
    match std::fs::read_dir(out) {
        Ok(mut entries) => match entries.next() {
            Some(_) => Err(RenderError::NotEmpty {
                path: out.to_owned(),
            }),
            None => Ok(()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(RenderError::Io {
            path: out.to_owned(),
            source,
        }),
    }
}

/// Writes `plan`, made for the system under `root`, to `out` (absent or empty).
pub fn render(plan: &Plan, out: &Path, root: &Path) -> Result<Rendered, RenderError> {
    check_output_folder(out)?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| RenderError::Io { path, source }
    };
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let staging = tempfile::Builder::new()
        .prefix(".ovaboot-render-")
        .tempdir_in(&parent)
        .map_err(io(&parent))?;

    // The same executor as first boot, so paths are checked alike; in the new,
    // empty rootfs an absent file is already absent and nothing is written.
    let report = write_files(&staging.path().join("rootfs"), &plan.files)?;
    debug_assert!(
        report.removed.is_empty(),
        "a fresh rootfs has nothing to remove"
    );

    let manifests: Vec<PlannedFile> = plan
        .manifests
        .iter()
        .map(|m| {
            let path = PathBuf::from("/").join(&m.file_name);
            let text = manifest_text(m.object.expose(), &m.file_name);
            if m.object.is_secret() {
                PlannedFile::secret(path, Secret::new(text.into_bytes()), 0o600)
            } else {
                PlannedFile::plain(path, text.into_bytes(), 0o644)
            }
        })
        .collect();
    write_files(&staging.path().join("manifests"), &manifests)?;

    let mut summary =
        serde_json::to_string_pretty(&plan.summary).expect("the summary is plain data");
    summary.push('\n');
    write_files(
        staging.path(),
        &[PlannedFile::plain(
            "/plan.json",
            summary.into_bytes(),
            0o644,
        )],
    )?;

    // Into place: rename(2) replaces an empty DIR, or creates an absent one.
    // Until the rename succeeds the staging folder (key inside) is removed on
    // every error, by TempDir's drop.
    std::fs::set_permissions(
        staging.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .map_err(io(staging.path()))?;
    std::fs::rename(staging.path(), out).map_err(io(out))?;
    tracing::debug!(from = %staging.path().display(), to = %out.display(), "renamed into place");
    let _ = staging.keep();
    let absent: Vec<&PlannedFile> = plan.files.iter().filter(|f| f.is_absent()).collect();
    // Only what is there to remove: a fresh system has none of them.
    let existing = absent
        .iter()
        .filter(|f| {
            let path = crate::root::under(root, &f.path);
            std::fs::symlink_metadata(path).is_ok()
        })
        .count();
    Ok(Rendered {
        host_files: plan.files.len() - absent.len(),
        absent_host_files: existing,
        manifests: plan.manifests.len(),
    })
}

/// A manifest file: a comment naming what it is, then the object as JSON,
/// which is YAML that every Kubernetes tool reads the same way (no YAML 1.1
/// `on`/`yes`/octal surprises).
fn manifest_text(object: &serde_json::Value, file_name: &str) -> String {
    let mut text =
        format!("# {file_name}: rendered by ovaboot; apply with `ovaboot apply --from <dir>`\n");
    text.push_str(&serde_json::to_string_pretty(object).expect("a JSON value serializes"));
    text.push('\n');
    text
}
