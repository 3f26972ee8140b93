//! The system ovaboot configures or reads: `/` on the appliance, a folder
//! standing for it for `render`, a test's temporary directory. Every path the
//! agent plans is absolute, as on the running system; [`under`] is where it is
//! under a given root.

use std::path::{Path, PathBuf};

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
