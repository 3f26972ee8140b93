use super::*;

const DROPIN: &str = "/etc/systemd/system/k3s.service.d/ovaboot-proxy.conf";

fn flag(root: &Path) -> PathBuf {
    crate::root::under(root, RELOAD_FLAG)
}

fn dropin() -> PlannedFile {
    PlannedFile::plain(
        DROPIN,
        "[Service]\nEnvironmentFile=/etc/ovaboot/proxy.env\n",
        0o644,
    )
}

fn hostname() -> PlannedFile {
    PlannedFile::plain("/etc/hostname", "veba01.lab.example.com\n", 0o644)
}

#[test]
fn only_unit_files_added_changed_or_removed_count_as_changed() {
    let changes = vec![
        (PathBuf::from("/etc/hostname"), Change::Changed),
        (PathBuf::from(DROPIN), Change::Added),
        (
            PathBuf::from("/etc/systemd/system/other.service.d/ovaboot-proxy.conf"),
            Change::Removed,
        ),
        // networkd's and timesyncd's files are not units: no reload for them.
        (
            PathBuf::from("/etc/systemd/network/10-ovaboot.network"),
            Change::Changed,
        ),
        (
            PathBuf::from("/etc/systemd/timesyncd.conf.d/ovaboot.conf"),
            Change::Added,
        ),
    ];
    assert_eq!(
        changed_units(&changes),
        [
            Path::new(DROPIN),
            Path::new("/etc/systemd/system/other.service.d/ovaboot-proxy.conf")
        ]
    );
}

#[test]
fn the_flag_appears_when_a_unit_changes_and_lists_it() {
    let root = tempfile::tempdir().unwrap();
    let (_, flagged) = write_files_flagging_reload(root.path(), &[hostname()]).unwrap();
    assert!(!flagged);
    assert!(
        !root.path().join("run").exists(),
        "nothing under /run when no unit changes"
    );

    let (report, flagged) =
        write_files_flagging_reload(root.path(), &[hostname(), dropin()]).unwrap();
    assert!(flagged);
    assert_eq!(report.written, [PathBuf::from(DROPIN)]);
    assert_eq!(
        std::fs::read_to_string(flag(root.path())).unwrap(),
        format!("{DROPIN}\n")
    );

    // A later run of the same boot that changes nothing leaves the flag for
    // the unit to act on.
    let (_, flagged) = write_files_flagging_reload(root.path(), &[hostname(), dropin()]).unwrap();
    assert!(!flagged);
    assert!(flag(root.path()).is_file());

    // A drop-in taken away is a change too.
    std::fs::remove_file(flag(root.path())).unwrap();
    let (report, flagged) =
        write_files_flagging_reload(root.path(), &[PlannedFile::absent(DROPIN)]).unwrap();
    assert!(flagged);
    assert_eq!(report.removed, [PathBuf::from(DROPIN)]);
}

#[test]
fn the_flag_is_not_lost_when_a_write_fails_after_the_unit_file_changed() {
    let root = tempfile::tempdir().unwrap();
    // The flag cannot be written (a directory in its place): the run fails.
    std::fs::create_dir_all(flag(root.path())).unwrap();
    let err = write_files_flagging_reload(root.path(), &[dropin(), hostname()]).unwrap_err();
    assert!(matches!(err, FilesError::IsADirectory { .. }), "{err}");
    // Nothing is in place that the retry would not see as a change.
    assert!(!root.path().join(&DROPIN[1..]).exists());
    // The cause is gone; the retry (the unit's Restart=) reloads all the same.
    std::fs::remove_dir(flag(root.path())).unwrap();
    let (report, flagged) =
        write_files_flagging_reload(root.path(), &[dropin(), hostname()]).unwrap();
    assert_eq!(report.written.len(), 2);
    assert!(flagged && flag(root.path()).is_file());
}
