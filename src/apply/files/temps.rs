//! The temporary files [`super::write_files`] stages beside their targets,
//! and the cleanup of those an interrupted run left.
//!
//! A staged file is named `.{name}.ovaboot-{pid}-{attempt}.tmp` and held
//! open with an exclusive `flock(2)` from its creation until it is renamed
//! into place (or removed). A leftover is deleted only when it is provably
//! stale, both of:
//! - its writer is gone: the pid in its name is no live process, or is this
//!   process (pids repeat across boots; this process's own live temps are
//!   locked). A live pid keeps the file: it may be another ovaboot, of a
//!   version that does not lock its temps, mid-write. A pid reused by an
//!   unrelated process only delays the cleanup to a later run.
//! - nobody holds its lock: no live writer has it open. The lock is taken
//!   before the file is removed and the name is checked to still be that
//!   file, so a writer that renames it meanwhile loses nothing.
//!
//! The run lock ([`crate::run_lock`]) keeps two runs of this version apart;
//! this keeps the cleanup safe without it (a second ovaboot of another
//! version, a library caller, a crash).

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use super::{FilesError, fsync_dir, io_err};

/// The temporary file for target `name`: `.{name}.ovaboot-{pid}-{attempt}.tmp`.
pub(super) fn temp_name(name: &OsStr, pid: u32, attempt: u32) -> OsString {
    let mut temp = OsString::from(".");
    temp.push(name);
    temp.push(format!(".ovaboot-{pid}-{attempt}.tmp"));
    temp
}

/// The writer's pid, if `candidate` is exactly what [`temp_name`] makes for
/// `name`. Unambiguous: the tail after `name` is fixed in form.
fn temp_pid_for(candidate: &OsStr, name: &OsStr) -> Option<u32> {
    let tail = candidate
        .as_bytes()
        .strip_prefix(b".")?
        .strip_prefix(name.as_bytes())?
        .strip_prefix(b".ovaboot-")?
        .strip_suffix(b".tmp")?;
    let is_number = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    let dash = tail.iter().position(|&b| b == b'-')?;
    let (pid, attempt) = (&tail[..dash], &tail[dash + 1..]);
    if !is_number(pid) || !is_number(attempt) {
        return None;
    }
    // Digits only: a pid too large for a u32 is no pid at all.
    std::str::from_utf8(pid).ok()?.parse().ok().or(Some(0))
}

/// Whether `candidate` is exactly what [`temp_name`] makes for `name`, with
/// some pid and attempt.
#[cfg(test)]
pub(super) fn is_temp_name_for(candidate: &OsStr, name: &OsStr) -> bool {
    temp_pid_for(candidate, name).is_some()
}

/// Marks a just-created temporary file as live: its writer holds an
/// exclusive lock on it until it is renamed into place or removed. Best
/// effort: a filesystem without `flock` leaves only the pid check.
pub(super) fn lock_staged(temp: &Path, handle: &File) {
    if let Err(e) = handle.try_lock() {
        tracing::debug!(path = %temp.display(), error = %e, "the staged file is not locked");
    }
}

/// Deletes the temporary files for target `name` in `dir` that are provably
/// stale (see the module doc). Only regular files (the entry's own type: a
/// symlink is never followed, nor removed), only names exactly of our pattern.
pub(super) fn remove_stale_temps(dir: &Path, name: &OsStr) -> Result<(), FilesError> {
    let mut removed = false;
    for entry in fs::read_dir(dir).map_err(io_err(dir, "listing the directory"))? {
        let entry = entry.map_err(io_err(dir, "listing the directory"))?;
        let Some(pid) = temp_pid_for(&entry.file_name(), name) else {
            continue;
        };
        let path = entry.path();
        // DirEntry::file_type does not follow symlinks.
        if !entry
            .file_type()
            .map_err(io_err(&path, "inspecting"))?
            .is_file()
        {
            continue;
        }
        if writer_may_be_alive(pid) {
            tracing::debug!(path = %path.display(), pid, "a temporary file of a live process: kept");
            continue;
        }
        if remove_if_unlocked(&path)? {
            tracing::warn!(path = %path.display(), "removed a temporary file left by an interrupted run");
            removed = true;
        }
    }
    if removed {
        // Make the removal last: the file may have held a secret.
        fsync_dir(dir)?;
    }
    Ok(())
}

/// Whether process `pid` may still be writing: it exists and is not this
/// process (whose live temps are locked). `kill(pid, 0)` sends nothing; EPERM
/// means a process exists that we may not signal.
fn writer_may_be_alive(pid: u32) -> bool {
    use nix::errno::Errno;
    use nix::sys::signal::kill;
    use nix::unistd::Pid;
    if pid == std::process::id() {
        return false;
    }
    // 0 and what does not fit a pid_t are no process (and kill() must never
    // be given 0 or a negative number: they name process groups).
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if raw <= 0 {
        return false;
    }
    !matches!(kill(Pid::from_raw(raw), None), Err(Errno::ESRCH))
}

/// Removes `path` if no one holds its lock, holding it meanwhile; `false`
/// when a live writer has it, or it is gone.
fn remove_if_unlocked(path: &Path) -> Result<bool, FilesError> {
    let file = match OpenOptions::new()
        .read(true)
        // Never follow a symlink swapped in, never block on a FIFO.
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(io_err(
                path,
                "opening a temporary file left by an interrupted run",
            )(e));
        }
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            tracing::debug!(path = %path.display(), "a temporary file being written: kept");
            return Ok(false);
        }
        Err(TryLockError::Error(e)) => {
            tracing::debug!(path = %path.display(), error = %e, "cannot lock a temporary file: judged by its pid alone");
        }
    }
    // Still the file locked: a writer may have renamed it away meanwhile.
    let opened = file.metadata().map_err(io_err(path, "inspecting"))?;
    match fs::symlink_metadata(path) {
        Ok(now) if now.dev() == opened.dev() && now.ino() == opened.ino() && now.is_file() => {}
        Ok(_) => return Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err(path, "inspecting")(e)),
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err(
            path,
            "removing a temporary file left by an interrupted run",
        )(e)),
    }
}
