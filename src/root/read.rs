//! The one way a file ovaboot did not write itself is read: a record under
//! `/var/lib/ovaboot`, `/etc/shadow`, `/etc/hosts`, `/etc/passwd`, the
//! installed TLS pair, the config, the Contour manifest, a kubeconfig.
//!
//! - **Never blocks**: opened `O_NONBLOCK` (a FIFO in a file's place would
//!   wait forever for a writer), then refused unless the open file is a
//!   regular file (checked after opening, on what was opened: a symlink to
//!   `/dev/zero` is a character device, never read).
//! - **Capped**: refused past its caller's limit, without reading more than
//!   one byte beyond it.
//! - **Inside the root** ([`read_file`]): the path is resolved with the root
//!   as `/` (`openat2` with `RESOLVE_IN_ROOT`): `..` stops at the root and an
//!   absolute symlink is followed inside it, as the system in the root would
//!   see it once booted. A kernel without `openat2` (before 5.6, or a seccomp
//!   filter that refuses it) gets a walk that refuses any symlink and `..`
//!   on the way instead (a symlink cannot be followed inside the root safely
//!   without it). Writes stay inside the root in [`crate::apply::files`].
//!
//! What is read comes back with the mode and owner of the very file read.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::sys::stat::Mode;
use zeroize::Zeroizing;

use super::under;

/// A file as [`read_file`] or [`read_local`] read it.
pub struct FileRead {
    /// Zeroed on drop: `/etc/shadow` and the TLS key come through here.
    pub bytes: Zeroizing<Vec<u8>>,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl std::fmt::Debug for FileRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileRead")
            .field("bytes", &self.bytes.len())
            .field("mode", &format_args!("{:o}", self.mode))
            .finish()
    }
}

/// Why a file was not read: its path (the real one, under the root) and
/// what it is or what failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadFileError {
    #[error("{}: is {kind}, not a regular file", path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{}: is larger than {limit} bytes", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

impl ReadFileError {
    /// The real path at fault.
    pub fn path(&self) -> &Path {
        match self {
            ReadFileError::NotRegular { path, .. }
            | ReadFileError::TooLarge { path, .. }
            | ReadFileError::Io { path, .. } => path,
        }
    }

    /// What failed, without the path.
    pub fn message(&self) -> String {
        match self {
            ReadFileError::NotRegular { kind, .. } => format!("is {kind}, not a regular file"),
            ReadFileError::TooLarge { limit, .. } => format!("is larger than {limit} bytes"),
            ReadFileError::Io { source, .. } => source.to_string(),
        }
    }

    /// As an [`io::Error`], for an error type that carries one: the
    /// system's own, or what this module refused (kind `InvalidData`).
    pub fn into_io_error(self) -> io::Error {
        match self {
            ReadFileError::Io { source, .. } => source,
            refused => io::Error::new(io::ErrorKind::InvalidData, refused.message()),
        }
    }

    /// The I/O error's kind, when it is one (permission denied, say).
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            ReadFileError::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

/// The error a missing file gives (`No such file or directory`), for a
/// caller that needs one where [`read_file`] and [`read_local`] say `None`.
pub fn not_found() -> io::Error {
    io::Error::from_raw_os_error(nix::libc::ENOENT)
}

/// Whether [`read_local`] follows a symlink at the path itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    Follow,
    /// The last component must not be a symlink (`O_NOFOLLOW`).
    Refuse,
}

/// The regular file at `absolute` (as on the running system) under `root`,
/// at most `limit` bytes; `None` when it does not exist. See the module doc.
pub fn read_file(
    root: &Path,
    absolute: impl AsRef<Path>,
    limit: u64,
) -> Result<Option<FileRead>, ReadFileError> {
    let shown = under(root, absolute.as_ref());
    match open_file(root, absolute)? {
        Some(file) => read_capped(file, &shown, limit).map(Some),
        None => Ok(None),
    }
}

/// The regular file at `absolute` under `root`, opened for reading (see the
/// module doc), for a caller that reads it its own way; `None` when absent.
pub fn open_file(root: &Path, absolute: impl AsRef<Path>) -> Result<Option<File>, ReadFileError> {
    let absolute = absolute.as_ref();
    let shown = under(root, absolute);
    let io = |source| ReadFileError::Io {
        path: shown.clone(),
        source,
    };
    let dir = match nix::fcntl::open(
        root,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(dir) => dir,
        Err(Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(io(e.into())),
    };
    let relative = absolute.strip_prefix("/").unwrap_or(absolute);
    let opened = match open_in_root(&dir, relative) {
        Err(Errno::ENOSYS | Errno::EPERM) if is_slash(root) => open_plain(absolute, Links::Follow),
        Err(Errno::ENOSYS | Errno::EPERM) => walk_refusing_links(&dir, relative),
        other => other,
    };
    match opened {
        Ok(fd) => regular(File::from(fd), &shown).map(Some),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(io(e.into())),
    }
}

/// The regular file at `path` on the running system (the config, the
/// Contour manifest, a kubeconfig, a file named on the command line), at
/// most `limit` bytes; `None` when it does not exist. Relative paths are
/// from the working directory.
pub fn read_local(
    path: &Path,
    limit: u64,
    links: Links,
) -> Result<Option<FileRead>, ReadFileError> {
    match open_local(path, links)? {
        Some(file) => read_capped(file, path, limit).map(Some),
        None => Ok(None),
    }
}

/// [`read_local`]'s open alone: the regular file at `path`, opened without
/// blocking; `None` when it does not exist.
pub fn open_local(path: &Path, links: Links) -> Result<Option<File>, ReadFileError> {
    match open_plain(path, links) {
        Ok(fd) => regular(File::from(fd), path).map(Some),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(ReadFileError::Io {
            path: path.to_owned(),
            source: e.into(),
        }),
    }
}

/// How every file here is opened: read-only, never waiting for a FIFO's
/// writer or a device, never becoming the controlling terminal.
fn flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC
}

fn open_in_root(dir: &OwnedFd, relative: &Path) -> Result<OwnedFd, Errno> {
    let how = OpenHow::new()
        .flags(flags())
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    openat2(dir, relative, how)
}

fn open_plain(path: &Path, links: Links) -> Result<OwnedFd, Errno> {
    let flags = match links {
        Links::Follow => flags(),
        Links::Refuse => flags() | OFlag::O_NOFOLLOW,
    };
    nix::fcntl::open(path, flags, Mode::empty())
}

/// Without `openat2`: component by component from the root, each opened
/// `O_NOFOLLOW` (a symlink fails with `ELOOP`), `..` refused.
fn walk_refusing_links(root: &OwnedFd, relative: &Path) -> Result<OwnedFd, Errno> {
    let names: Vec<&std::ffi::OsStr> = relative
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(Ok(name)),
            Component::ParentDir => Some(Err(Errno::EXDEV)),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect::<Result<_, _>>()?;
    let Some((last, dirs)) = names.split_last() else {
        return Err(Errno::ENOENT);
    };
    let mut dir = root.try_clone().map_err(|_| Errno::EMFILE)?;
    for name in dirs {
        dir = openat(
            &dir,
            *name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
    }
    openat(&dir, *last, flags() | OFlag::O_NOFOLLOW, Mode::empty())
}

fn is_slash(root: &Path) -> bool {
    std::fs::canonicalize(root).is_ok_and(|real| real == Path::new("/"))
}

/// `file` if it is a regular file (what was opened, not what a path names now).
fn regular(file: File, path: &Path) -> Result<File, ReadFileError> {
    let kind = file
        .metadata()
        .map_err(|source| ReadFileError::Io {
            path: path.to_owned(),
            source,
        })?
        .file_type();
    let kind = if kind.is_file() {
        return Ok(file);
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a special file"
    };
    Err(ReadFileError::NotRegular {
        path: path.to_owned(),
        kind,
    })
}

/// At most `limit` bytes of `file`, its mode and owner; refused past it,
/// reading one byte more at most.
fn read_capped(file: File, path: &Path, limit: u64) -> Result<FileRead, ReadFileError> {
    let io = |source| ReadFileError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = file.metadata().map_err(io)?;
    let too_large = || ReadFileError::TooLarge {
        path: path.to_owned(),
        limit,
    };
    // The size said up front (a file under /proc or /sys says 0 or 4096).
    if meta.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(FileRead {
        bytes,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
    })
}

#[cfg(test)]
mod tests;
