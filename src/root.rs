//! The system ovaboot configures or reads: `/` on the appliance, a folder
//! standing for it for `render`, a test's temporary directory. Every path the
//! agent plans is absolute, as on the running system; [`under`] is where it is
//! under a given root, and [`read_file`] the one way to read a file there
//! ([`read_local`] for a file named on the running system): never blocking,
//! capped, inside the root.

use std::path::{Path, PathBuf};

mod read;
#[cfg(test)]
pub(crate) mod test_support;

pub use read::{
    FileRead, Links, ReadFileError, not_found, open_file, open_local, read_file, read_local,
};

/// Where the absolute path `absolute` is under `root` (`/etc/hosts` under
/// `/tmp/r` is `/tmp/r/etc/hosts`; under `/` it is itself).
pub fn under(root: &Path, absolute: impl AsRef<Path>) -> PathBuf {
    let absolute = absolute.as_ref();
    root.join(absolute.strip_prefix("/").unwrap_or(absolute))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absolute_path_lands_under_the_root_and_the_running_system_is_itself() {
        assert_eq!(
            under(Path::new("/tmp/r"), "/etc/hosts"),
            Path::new("/tmp/r/etc/hosts")
        );
        assert_eq!(under(Path::new("/"), "/etc/hosts"), Path::new("/etc/hosts"));
        assert_eq!(
            under(
                Path::new("/tmp/r"),
                Path::new("/var/lib/ovaboot/state.json")
            ),
            Path::new("/tmp/r/var/lib/ovaboot/state.json")
        );
    }
}
