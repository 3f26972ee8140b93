//! One run at a time on one system: `firstboot` (each phase), `reconfigure`
//! (each part) and the renewal timer's run take the run lock before they read
//! a record, and hold it until they exit.
//!
//! Two runs at once would each plan from what the other is rewriting: each
//! makes its own self-signed pair, and the records (state file, banner, digest)
//! end up describing one run while the files on disk are the other's. Nothing
//! in the boot's ordering rules it out: the daily timer fires whenever it
//! fires, and an admin may run a command by hand while a unit runs.
//!
//! The lock is `flock(2)` on `/run/ovaboot/lock` under the root:
//! - **flock**: the kernel drops it when the holder exits, however it exits
//!   (a crash, SIGKILL, a power cut), so a lock is never left stale and the
//!   file is never removed (removing a locked file would let a third run lock a
//!   new inode while the second still waits on the old).
//! - **/run**: a tmpfs, empty at every boot, writable by every ovaboot unit
//!   (`ReadWritePaths=` includes it), and not part of what the appliance keeps.
//! - **under the root**: runs on one system must exclude each other, runs on
//!   two systems must not (a `--root` run on a mounted image, or tests, beside
//!   the running system's own units). The lock's path names the system, so any
//!   path that reaches the same root reaches the same lock.
//!
//! A second run waits for the lock up to `[lock] wait_secs`, then exits 1 with
//! one line naming the holder: the holder writes its pid, its command line and
//! since when into the lock file once it has the lock, and empties it when done.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::failure::Transience;
use crate::root::under;

/// The lock file, under the root.
pub const LOCK_PATH: &str = "/run/ovaboot/lock";

/// How long to sleep between tries: from the first to the last, doubling.
const FIRST_POLL: Duration = Duration::from_millis(20);
const LAST_POLL: Duration = Duration::from_millis(500);

/// `[lock]` in the agent's config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LockConfig {
    /// How long a run waits for another to finish before it gives up (exit 1).
    /// 90 s by default: longer than a host phase or a renewal takes (seconds),
    /// shorter than the day-2 host unit's start timeout (2 min), so the unit
    /// fails with the holder named rather than being killed without a word.
    /// A run that gives up is run again: by its unit's `Restart=`, or by the
    /// next day's timer.
    pub wait_secs: u64,
}

impl Default for LockConfig {
    fn default() -> Self {
        LockConfig { wait_secs: 90 }
    }
}

impl LockConfig {
    pub fn wait(&self) -> Duration {
        Duration::from_secs(self.wait_secs)
    }
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another ovaboot run is working on this system ({holder}); waited {waited} s for it (lock.wait_secs = {limit}); lock file {}",
        path.display()
    )]
    Busy {
        path: PathBuf,
        holder: String,
        waited: u64,
        limit: u64,
    },
    #[error("{}: cannot take the run lock: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Transience for LockError {
    /// The other run ends by itself: running again later succeeds. A lock
    /// file that cannot be opened at all does not pass by itself.
    fn is_transient(&self) -> bool {
        matches!(self, LockError::Busy { .. })
    }
}

/// The lock, held until dropped (or the process ends).
#[derive(Debug)]
pub struct RunLock {
    file: File,
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Nobody holds it any more: say so (the kernel releases the lock
        // itself when the file is closed).
        let _ = self.file.set_len(0);
    }
}

/// Takes the run lock of the system under `root` for `command` (the command
/// line, for the holder line others show), waiting up to `wait` for another
/// run to release it.
pub fn acquire(root: &Path, command: &str, wait: Duration) -> Result<RunLock, LockError> {
    let path = under(root, LOCK_PATH);
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        // A FIFO or device planted at the path must not block the open.
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(&path)
        .map_err(io)?;
    if !file.metadata().map_err(io)?.is_file() {
        return Err(io(std::io::Error::other("not a regular file")));
    }
    let started = Instant::now();
    let mut poll = FIRST_POLL;
    let mut told = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let holder = holder(&mut file);
        if started.elapsed() >= wait {
            return Err(LockError::Busy {
                path,
                holder,
                waited: started.elapsed().as_secs(),
                limit: wait.as_secs(),
            });
        }
        if !told {
            tracing::warn!(
                "waiting for the run lock: another ovaboot run is working on this system ({holder}); up to lock.wait_secs = {}",
                wait.as_secs()
            );
            told = true;
        }
        std::thread::sleep(poll.min(wait.saturating_sub(started.elapsed())));
        poll = (poll * 2).min(LAST_POLL);
    }
    if told {
        tracing::info!(
            waited_ms = started.elapsed().as_millis() as u64,
            "run lock taken"
        );
    }
    let since = crate::state::rfc3339(time::OffsetDateTime::now_utc());
    let line = format!(
        "pid {}, `{}`, since {since}\n",
        std::process::id(),
        one_line(command)
    );
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    file.write_all(line.as_bytes()).map_err(io)?;
    Ok(RunLock { file })
}

/// What the holder wrote, on one line (it may not have written yet).
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let read = file
        .rewind()
        .and_then(|()| Read::by_ref(file).take(1024).read_to_string(&mut text));
    match read {
        Ok(_) if !text.trim().is_empty() => one_line(text.trim()),
        _ => "holder not known yet".to_owned(),
    }
}

/// Control characters (a newline in a path) would break the one line.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// [`acquire`] for this process's command, waiting as long as the config
/// `source` says. A config that does not load gets the default wait: the run
/// then records that failure itself, under the lock.
pub fn acquire_for_run(
    root: &Path,
    source: &crate::inputs::ConfigSource,
) -> Result<RunLock, LockError> {
    let wait = source
        .load()
        .map(|config| config.lock.wait())
        .unwrap_or_else(|_| LockConfig::default().wait());
    acquire(root, &this_command(), wait)
}

/// The command line of this process, for [`acquire`].
pub fn this_command() -> String {
    let args: Vec<String> = std::env::args().collect();
    args.join(" ").chars().take(300).collect()
}

#[cfg(test)]
mod tests;
