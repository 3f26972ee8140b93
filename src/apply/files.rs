//! Writes planned files atomically under a root prefix (`/` on the appliance,
//! a folder for `render`, a mounted image for tests), and removes the ones
//! planned absent.
//!
//! Two phases, so that a failure leaves every target as it was whenever it can:
//! 1. stage: check every path, create parent directories (0755), and write each
//!    changed file to a temporary file beside its target (created `O_EXCL` with
//!    its final mode, so a secret is never readable by others), fsynced; for a
//!    file planned absent, only check that what is there may be removed (a
//!    regular file or a symlink, never a directory), creating nothing;
//! 2. commit, in plan order: rename each temporary file over its target, remove
//!    each file planned absent (a symlink itself, never what it points to),
//!    then fsync the directories.
//!
//! A failure in phase 1 removes the temporary files and touches no target (so
//! nothing is removed either); a rename or removal failing in phase 2 leaves
//! each target whole, old or new. Directories created in phase 1 stay, and no
//! directory is ever removed.
//!
//! A crash or power loss between the phases leaves temporary files that no
//! `Drop` removes (one may hold a private key), so phase 1 first deletes any
//! left by earlier runs for each planned target, and only those that are
//! provably stale: another writer's live staged files are never touched, even
//! one that does not hold the run lock ([`temps`] says how).

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::plan::PlannedFile;

mod temps;

#[cfg(test)]
use temps::is_temp_name_for;
use temps::{lock_staged, remove_stale_temps, temp_name};

/// What `write_files` did, by planned (in-target) path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    pub written: Vec<PathBuf>,
    /// Already had the planned bytes and mode: not touched at all.
    pub unchanged: Vec<PathBuf>,
    /// Planned absent and removed.
    pub removed: Vec<PathBuf>,
    /// Planned absent and already absent: nothing to do.
    pub already_absent: Vec<PathBuf>,
}

/// Why files were not written. Paths are the real ones (root prefix included).
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("{}: planned file paths must be absolute", path.display())]
    NotAbsolute { path: PathBuf },
    #[error("{}: refusing to write outside the root {}: {reason}", path.display(), root.display())]
    Escapes {
        path: PathBuf,
        root: PathBuf,
        reason: &'static str,
    },
    #[error("{}: planned twice", path.display())]
    Duplicate { path: PathBuf },
    #[error("{}: mode {mode:#o} has bits beyond 0o7777", path.display())]
    BadMode { path: PathBuf, mode: u32 },
    #[error("{}: is not a directory", path.display())]
    NotADirectory { path: PathBuf },
    #[error("{}: is a directory, not replacing it with a file", path.display())]
    IsADirectory { path: PathBuf },
    #[error("{}: planned absent, but it is a {kind}; only a file or a symlink is removed", path.display())]
    NotRemovable { path: PathBuf, kind: &'static str },
    #[error("{}: {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        source: io::Error,
    },
}

fn io_err(path: &Path, action: &'static str) -> impl FnOnce(io::Error) -> FilesError + use<> {
    let path = path.to_path_buf();
    move |source| FilesError::Io {
        path,
        action,
        source,
    }
}

/// Writes `files` under `root` (created if missing) and removes those planned
/// absent; see the module doc.
pub fn write_files(root: &Path, files: &[PlannedFile]) -> Result<WriteReport, FilesError> {
    // Check every path before touching anything.
    let relative = checked_paths(root, files)?;
    fs::create_dir_all(root).map_err(io_err(root, "creating the root directory"))?;
    let real_root = fs::canonicalize(root).map_err(io_err(root, "resolving the root directory"))?;
    let mut report = WriteReport::default();
    let pending = stage_all(&real_root, files, &relative, &mut report)?;
    commit_all(pending, &mut report)?;
    Ok(report)
}

/// Each file's path relative to the root, once the paths are known to stay
/// under it, none twice, and the modes to be modes.
fn checked_paths(root: &Path, files: &[PlannedFile]) -> Result<Vec<PathBuf>, FilesError> {
    let mut seen = BTreeSet::new();
    let mut relative = Vec::with_capacity(files.len());
    for file in files {
        let rel = relative_path(root, &file.path)?;
        if !seen.insert(rel.clone()) {
            return Err(FilesError::Duplicate {
                path: file.path.clone(),
            });
        }
        if file.mode & !0o7777 != 0 {
            return Err(FilesError::BadMode {
                path: file.path.clone(),
                mode: file.mode,
            });
        }
        relative.push(rel);
    }
    Ok(relative)
}

/// Phase 1: every changed file staged beside its target, every removal
/// checked; what is already as planned goes straight to `report`.
fn stage_all(
    real_root: &Path,
    files: &[PlannedFile],
    relative: &[PathBuf],
    report: &mut WriteReport,
) -> Result<Vec<Pending>, FilesError> {
    let mut pending: Vec<Pending> = Vec::new();
    for (file, rel) in files.iter().zip(relative) {
        let (parent, name) = match (rel.parent(), rel.file_name()) {
            (Some(parent), Some(name)) => (parent, name),
            _ => {
                return Err(FilesError::NotAbsolute {
                    path: file.path.clone(),
                });
            }
        };
        let Some(contents) = file.contents.expose() else {
            if let Some(removal) = check_removal(real_root, parent, name, file)? {
                pending.push(Pending::Remove(removal));
            } else {
                tracing::debug!(path = %real_root.join(rel).display(), "already absent");
                report.already_absent.push(file.path.clone());
            }
            continue;
        };
        let dir = walk_dir(
            real_root,
            parent,
            Walk::Create(file.dir_mode.unwrap_or(0o755)),
        )?
        .expect("Walk::Create returns the directory or an error");
        let target = dir.join(name);
        // Before the unchanged check: a leftover may outlive an equal target.
        remove_stale_temps(&dir, name)?;
        if is_unchanged(&target, contents, file.mode)? {
            tracing::debug!(path = %target.display(), "unchanged");
            report.unchanged.push(file.path.clone());
            continue;
        }
        pending.push(Pending::Write(stage(&dir, &target, file, contents)?));
    }
    Ok(pending)
}

/// Phase 2, in plan order: each rename or removal is atomic on its own; then
/// the directories are fsync'd.
fn commit_all(pending: Vec<Pending>, report: &mut WriteReport) -> Result<(), FilesError> {
    let mut dirs = BTreeSet::new();
    for pending in pending {
        match pending {
            Pending::Write(mut staged) => {
                staged.commit()?;
                dirs.insert(staged.dir.clone());
                // The real path: under --root, or render's staging folder.
                tracing::info!(path = %staged.target.display(), mode = format_args!("{:o}", staged.mode), "wrote");
                report.written.push(staged.planned.clone());
            }
            Pending::Remove(removal) => match fs::remove_file(&removal.target) {
                Ok(()) => {
                    dirs.insert(removal.dir);
                    tracing::info!(path = %removal.target.display(), "removed");
                    report.removed.push(removal.planned);
                }
                // Gone meanwhile: as planned.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    report.already_absent.push(removal.planned);
                }
                Err(e) => return Err(io_err(&removal.target, "removing")(e)),
            },
        }
    }
    for dir in dirs {
        fsync_dir(&dir)?;
    }
    Ok(())
}

/// What [`write_files`] would do to one planned file (see [`preview`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    /// Other bytes or another mode.
    Changed,
    Removed,
}

/// What [`write_files`] would do with `files` under `root`, reading only:
/// each file that would be added, changed or removed (unchanged ones left
/// out), in plan order. Paths are checked as for writing.
pub fn preview(root: &Path, files: &[PlannedFile]) -> Result<Vec<(PathBuf, Change)>, FilesError> {
    let real_root = match fs::canonicalize(root) {
        Ok(real) => real,
        Err(e) if e.kind() == io::ErrorKind::NotFound => PathBuf::from(root),
        Err(e) => return Err(io_err(root, "resolving the root directory")(e)),
    };
    let mut changes = Vec::new();
    for file in files {
        let rel = relative_path(root, &file.path)?;
        let dir = match rel.parent() {
            Some(parent) if real_root.exists() => walk_dir(&real_root, parent, Walk::Existing)?,
            _ => None,
        };
        let target = dir.map(|d| d.join(rel.file_name().unwrap_or_default()));
        let exists = target
            .as_deref()
            .is_some_and(|t| fs::symlink_metadata(t).is_ok());
        let change = match (file.contents.expose(), &target) {
            (None, _) if exists => Some(Change::Removed),
            (None, _) => None,
            (Some(_), _) if !exists => Some(Change::Added),
            (Some(contents), Some(target)) => {
                (!is_unchanged(target, contents, file.mode)?).then_some(Change::Changed)
            }
            (Some(_), None) => Some(Change::Added),
        };
        if let Some(change) = change {
            changes.push((file.path.clone(), change));
        }
    }
    Ok(changes)
}

/// A change waiting for the commit phase.
enum Pending {
    Write(Staged),
    Remove(Removal),
}

/// A file planned absent that exists and may be removed.
struct Removal {
    target: PathBuf,
    dir: PathBuf,
    planned: PathBuf,
}

/// For a file planned absent: `Some` if there is something to remove at
/// `parent/name` (a regular file or a symlink), `None` if it is already absent
/// (its directory too); an error for a directory or other special file. The
/// parent is checked as for a write (no symlink out of the root) but never
/// created. Stale temporary files for the name are removed: one may hold the
/// secret the absent file used to hold.
fn check_removal(
    real_root: &Path,
    parent: &Path,
    name: &OsStr,
    file: &PlannedFile,
) -> Result<Option<Removal>, FilesError> {
    let Some(dir) = walk_dir(real_root, parent, Walk::Existing)? else {
        return Ok(None);
    };
    remove_stale_temps(&dir, name)?;
    let target = dir.join(name);
    let meta = match fs::symlink_metadata(&target) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&target, "inspecting")(e)),
    };
    let kind = meta.file_type();
    if kind.is_file() || kind.is_symlink() {
        return Ok(Some(Removal {
            target,
            dir,
            planned: file.path.clone(),
        }));
    }
    Err(FilesError::NotRemovable {
        path: target,
        kind: if kind.is_dir() {
            "directory"
        } else {
            "special file"
        },
    })
}

/// `path` without its leading `/`, refused if relative or if it climbs (`..`).
fn relative_path(root: &Path, path: &Path) -> Result<PathBuf, FilesError> {
    if !path.is_absolute() {
        return Err(FilesError::NotAbsolute {
            path: path.to_path_buf(),
        });
    }
    let mut rel = PathBuf::new();
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => rel.push(part),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(FilesError::Escapes {
                    path: path.to_path_buf(),
                    root: root.to_path_buf(),
                    reason: "the path contains '..'",
                });
            }
        }
    }
    if rel.as_os_str().is_empty() {
        return Err(FilesError::NotAbsolute {
            path: path.to_path_buf(),
        });
    }
    Ok(rel)
}

/// Whether [`walk_dir`] creates missing directories.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// The last component gets this mode; the ones above it 0755.
    Create(u32),
    /// Stop at the first missing one (`Ok(None)`).
    Existing,
}

/// Walks (and, with [`Walk::Create`], creates) `rel` under `real_root`; a
/// symlinked component is followed only if it resolves inside the root.
/// Returns the real directory, or `None` if it is missing and not created.
fn walk_dir(real_root: &Path, rel: &Path, walk: Walk) -> Result<Option<PathBuf>, FilesError> {
    let mut current = real_root.to_path_buf();
    let count = rel.components().count();
    for (index, part) in rel.components().enumerate() {
        let next = current.join(part);
        match fs::symlink_metadata(&next) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let resolved =
                    fs::canonicalize(&next).map_err(io_err(&next, "resolving the symlink"))?;
                if !resolved.starts_with(real_root) {
                    return Err(FilesError::Escapes {
                        path: next,
                        root: real_root.to_path_buf(),
                        reason: "a parent directory is a symlink that points outside it",
                    });
                }
                if !resolved.is_dir() {
                    return Err(FilesError::NotADirectory { path: next });
                }
                current = resolved;
            }
            Ok(meta) if meta.is_dir() => current = next,
            Ok(_) => return Err(FilesError::NotADirectory { path: next }),
            Err(e) if e.kind() == io::ErrorKind::NotFound && walk == Walk::Existing => {
                return Ok(None);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mode = match walk {
                    Walk::Create(last) if index + 1 == count => last,
                    _ => 0o755,
                };
                match DirBuilder::new().mode(mode).create(&next) {
                    Ok(()) => {
                        // Exactly this mode whatever the umask.
                        fs::set_permissions(&next, fs::Permissions::from_mode(mode))
                            .map_err(io_err(&next, "setting the directory's mode"))?;
                        fsync_dir(&current)?;
                        current = next;
                    }
                    // Created meanwhile by someone else: look at it again.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        return walk_dir(real_root, rel, walk);
                    }
                    Err(e) => return Err(io_err(&next, "creating the directory")(e)),
                }
            }
            Err(e) => return Err(io_err(&next, "inspecting")(e)),
        }
    }
    Ok(Some(current))
}

/// The target is a regular file with exactly the planned mode and bytes.
fn is_unchanged(target: &Path, contents: &[u8], mode: u32) -> Result<bool, FilesError> {
    let meta = match fs::symlink_metadata(target) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err(target, "inspecting")(e)),
    };
    if meta.is_dir() {
        return Err(FilesError::IsADirectory {
            path: target.to_path_buf(),
        });
    }
    // A symlink or other special file is replaced by a regular file.
    if !meta.is_file()
        || meta.permissions().mode() & 0o7777 != mode
        || meta.len() != contents.len() as u64
    {
        return Ok(false);
    }
    let current = fs::read(target).map_err(io_err(target, "reading"))?;
    Ok(current == contents)
}

/// A temporary file written and fsynced, waiting to be renamed over its target.
/// Dropped uncommitted, it removes itself.
struct Staged {
    /// Open and locked until committed or dropped: the lock tells another
    /// writer's stale-temp cleanup that this file is live.
    _handle: File,
    temp: Option<PathBuf>,
    target: PathBuf,
    dir: PathBuf,
    planned: PathBuf,
    mode: u32,
}

impl Staged {
    fn commit(&mut self) -> Result<(), FilesError> {
        if let Some(temp) = &self.temp {
            fs::rename(temp, &self.target).map_err(io_err(&self.target, "renaming into place"))?;
            self.temp = None;
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = fs::remove_file(temp);
        }
    }
}

fn stage(
    dir: &Path,
    target: &Path,
    file: &PlannedFile,
    contents: &[u8],
) -> Result<Staged, FilesError> {
    let name = target.file_name().unwrap_or_default();
    let mut attempt = 0u32;
    let (temp, handle) = loop {
        let temp = dir.join(temp_name(name, std::process::id(), attempt));
        // O_EXCL (create_new) also refuses a symlink planted at the temp name.
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(file.mode)
            .open(&temp)
        {
            Ok(handle) => {
                lock_staged(&temp, &handle);
                break (temp, handle);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(io_err(target, "creating a temporary file")(e)),
        }
    };
    let mut staged = Staged {
        _handle: handle,
        temp: Some(temp),
        target: target.to_path_buf(),
        dir: dir.to_path_buf(),
        planned: file.path.clone(),
        mode: file.mode,
    };
    let handle = &mut staged._handle;
    if file.keep_owner {
        keep_owner(target, handle)?;
    }
    // The umask may have taken bits off; set the exact mode while still empty
    // (and after a chown, which clears set-id bits).
    handle
        .set_permissions(fs::Permissions::from_mode(file.mode))
        .map_err(io_err(target, "setting the mode"))?;
    handle
        .write_all(contents)
        .map_err(io_err(target, "writing"))?;
    handle.sync_all().map_err(io_err(target, "syncing"))?;
    Ok(staged)
}

/// Gives the temporary file the owner and group of the target it replaces,
/// if there is one (a new file stays the writer's own).
fn keep_owner(target: &Path, handle: &File) -> Result<(), FilesError> {
    use std::os::unix::fs::MetadataExt;
    match fs::symlink_metadata(target) {
        Ok(meta) if meta.is_file() => {
            std::os::unix::fs::fchown(handle, Some(meta.uid()), Some(meta.gid()))
                .map_err(io_err(target, "keeping the owner"))
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(target, "inspecting")(e)),
    }
}

fn fsync_dir(dir: &Path) -> Result<(), FilesError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir, "syncing the directory"))
}

#[cfg(test)]
mod tests;
