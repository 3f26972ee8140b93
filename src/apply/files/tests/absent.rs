//! Files planned absent: removed in the commit phase, only files and symlinks,
//! with the same path checks as writes.

use super::*;

const NETWORK: &str = "/etc/systemd/network/10-ovaboot.network";
const DROPIN: &str = "/etc/systemd/system/k3s.service.d/ovaboot-proxy.conf";
const PROXY_ENV: &str = "/etc/ovaboot/proxy.env";

/// Puts `contents` at the in-target `path` under `root`, creating parents.
fn put(root: &Path, path: &str, contents: &str) -> PathBuf {
    let real = crate::root::under(root, path);
    fs::create_dir_all(real.parent().unwrap()).unwrap();
    fs::write(&real, contents).unwrap();
    real
}

fn paths(list: &[&str]) -> Vec<PathBuf> {
    list.iter().map(PathBuf::from).collect()
}

#[test]
fn absent_files_are_removed_in_plan_order_and_their_directories_kept() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    put(r, NETWORK, "[Match]\nName=ens160\n");
    put(
        r,
        DROPIN,
        "[Service]\nEnvironmentFile=/etc/ovaboot/proxy.env\n",
    );
    put(r, PROXY_ENV, "HTTP_PROXY=\"http://u:pw@proxy:3128\"\n");
    let files = [
        PlannedFile::plain("/etc/hostname", "veba01.lab.example.com\n", 0o644),
        PlannedFile::absent(NETWORK),
        PlannedFile::absent(DROPIN),
        PlannedFile::absent(PROXY_ENV),
    ];
    let report = write_files(r, &files).unwrap();
    assert_eq!(report.written, paths(&["/etc/hostname"]));
    assert_eq!(report.removed, paths(&[NETWORK, DROPIN, PROXY_ENV]));
    assert!(report.unchanged.is_empty() && report.already_absent.is_empty());
    assert_eq!(
        tree(r),
        [
            "etc",
            "etc/hostname",
            "etc/ovaboot",
            "etc/systemd",
            "etc/systemd/network",
            "etc/systemd/system",
            "etc/systemd/system/k3s.service.d",
        ],
        "the files gone, every directory kept"
    );

    // A rerun: already absent is as planned.
    let again = write_files(r, &files).unwrap();
    assert!(again.written.is_empty() && again.removed.is_empty());
    assert_eq!(again.unchanged, paths(&["/etc/hostname"]));
    assert_eq!(again.already_absent, paths(&[NETWORK, DROPIN, PROXY_ENV]));
}

#[test]
fn an_absent_file_under_missing_directories_creates_none() {
    let root = tempfile::tempdir().unwrap();
    let report = write_files(
        root.path(),
        &[PlannedFile::absent(NETWORK), PlannedFile::absent(DROPIN)],
    )
    .unwrap();
    assert_eq!(report.already_absent, paths(&[NETWORK, DROPIN]));
    assert!(report.removed.is_empty() && report.unchanged.is_empty());
    assert_eq!(tree(root.path()), Vec::<String>::new());
}

#[test]
fn a_symlink_planned_absent_is_removed_and_what_it_points_to_kept() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let r = root.path();
    let inside_target = put(r, "/srv/proxy.env", "inside\n");
    let outside_target = outside.path().join("proxy.env");
    fs::write(&outside_target, "outside\n").unwrap();
    fs::create_dir_all(r.join("etc/ovaboot")).unwrap();
    symlink(&inside_target, r.join("etc/ovaboot/proxy.env")).unwrap();
    fs::create_dir_all(r.join("etc/systemd/network")).unwrap();
    symlink(&outside_target, crate::root::under(r, NETWORK)).unwrap();

    let report = write_files(
        r,
        &[PlannedFile::absent(PROXY_ENV), PlannedFile::absent(NETWORK)],
    )
    .unwrap();
    assert_eq!(report.removed, paths(&[PROXY_ENV, NETWORK]));
    assert!(fs::symlink_metadata(r.join("etc/ovaboot/proxy.env")).is_err());
    assert!(fs::symlink_metadata(crate::root::under(r, NETWORK)).is_err());
    assert_eq!(fs::read_to_string(&inside_target).unwrap(), "inside\n");
    assert_eq!(fs::read_to_string(&outside_target).unwrap(), "outside\n");
}

#[test]
fn a_directory_planned_absent_is_refused_and_nothing_is_touched() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    put(r, "/etc/hostname", "old.example.com\n");
    let network = put(r, NETWORK, "[Match]\n");
    // An admin's directory where ovaboot's file would be.
    put(r, "/etc/ovaboot/proxy.env/keep", "admin's\n");
    let before = tree(r);
    let e = write_files(
        r,
        &[
            PlannedFile::plain("/etc/hostname", "veba01.lab.example.com\n", 0o644),
            PlannedFile::absent(NETWORK),
            PlannedFile::absent(PROXY_ENV),
        ],
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            FilesError::NotRemovable {
                kind: "directory",
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string().ends_with(
            "etc/ovaboot/proxy.env: planned absent, but it is a directory; only a file or a symlink is removed"
        ),
        "{e}"
    );
    assert_eq!(tree(r), before, "nothing removed, no temp file left");
    assert_eq!(
        fs::read_to_string(r.join("etc/hostname")).unwrap(),
        "old.example.com\n"
    );
    assert_eq!(fs::read_to_string(network).unwrap(), "[Match]\n");
}

#[test]
fn a_special_file_planned_absent_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    fs::create_dir_all(r.join("etc/ovaboot")).unwrap();
    let socket = r.join("etc/ovaboot/proxy.env");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let e = write_files(r, &[PlannedFile::absent(PROXY_ENV)]).unwrap_err();
    assert!(
        matches!(
            e,
            FilesError::NotRemovable {
                kind: "special file",
                ..
            }
        ),
        "{e}"
    );
    assert!(fs::symlink_metadata(&socket).is_ok());
}

#[test]
fn a_staging_failure_after_an_absent_file_removes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let env = put(r, PROXY_ENV, "HTTP_PROXY=\"http://proxy:3128\"\n");
    // A regular file where a later write needs a directory.
    put(r, "/etc/rancher", "not a directory\n");
    let e = write_files(
        r,
        &[
            PlannedFile::absent(PROXY_ENV),
            PlannedFile::plain("/etc/rancher/k3s/config.yaml", "x: 1\n", 0o644),
        ],
    )
    .unwrap_err();
    assert!(matches!(e, FilesError::NotADirectory { .. }), "{e}");
    assert_eq!(
        fs::read_to_string(&env).unwrap(),
        "HTTP_PROXY=\"http://proxy:3128\"\n",
        "removals wait for every file to be staged"
    );
}

#[test]
fn absent_paths_are_checked_as_writes_are() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let r = root.path();
    let check = |files: &[PlannedFile]| write_files(r, files).unwrap_err();

    let e = check(&[PlannedFile::absent("/etc/../../outside.env")]);
    assert!(matches!(e, FilesError::Escapes { .. }), "{e}");
    let e = check(&[PlannedFile::absent("etc/ovaboot/proxy.env")]);
    assert!(matches!(e, FilesError::NotAbsolute { .. }), "{e}");
    let e = check(&[
        PlannedFile::plain(PROXY_ENV, "x", 0o644),
        PlannedFile::absent(PROXY_ENV),
    ]);
    assert!(matches!(e, FilesError::Duplicate { .. }), "{e}");

    // A parent symlinked out of the root: what is outside stays.
    let victim = outside.path().join("proxy.env");
    fs::write(&victim, "outside\n").unwrap();
    fs::create_dir_all(r.join("etc")).unwrap();
    symlink(outside.path(), r.join("etc/ovaboot")).unwrap();
    let e = check(&[PlannedFile::absent(PROXY_ENV)]);
    assert!(matches!(e, FilesError::Escapes { .. }), "{e}");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "outside\n");
}

#[test]
fn a_temp_file_left_for_an_absent_file_is_removed_too() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("etc/ovaboot");
    // A crash while writing a proxy password, then the proxy was removed.
    let stale = plant_stale_temp(&dir, &format!(".proxy.env.ovaboot-{}-0.tmp", dead_pid()));
    let report = write_files(root.path(), &[PlannedFile::absent(PROXY_ENV)]).unwrap();
    assert_eq!(report.already_absent, paths(&[PROXY_ENV]));
    assert!(!stale.exists());
}
