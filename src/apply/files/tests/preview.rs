//! `preview`: what `write_files` would do, read without writing.

use super::*;

#[test]
fn preview_names_added_changed_and_removed_files_and_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let etc = root.path().join("etc");
    fs::create_dir_all(&etc).unwrap();
    fs::write(etc.join("same"), "x\n").unwrap();
    fs::set_permissions(etc.join("same"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(etc.join("other-bytes"), "old\n").unwrap();
    fs::set_permissions(etc.join("other-bytes"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(etc.join("other-mode"), "x\n").unwrap();
    fs::set_permissions(etc.join("other-mode"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(etc.join("unwanted"), "x\n").unwrap();
    let files = [
        PlannedFile::plain("/etc/same", "x\n", 0o644),
        PlannedFile::plain("/etc/other-bytes", "new\n", 0o644),
        PlannedFile::plain("/etc/other-mode", "x\n", 0o600),
        PlannedFile::plain("/etc/new/file", "x\n", 0o644),
        PlannedFile::absent("/etc/unwanted"),
        PlannedFile::absent("/etc/never-there"),
    ];
    let changes = preview(root.path(), &files).unwrap();
    assert_eq!(
        changes,
        [
            (PathBuf::from("/etc/other-bytes"), Change::Changed),
            (PathBuf::from("/etc/other-mode"), Change::Changed),
            (PathBuf::from("/etc/new/file"), Change::Added),
            (PathBuf::from("/etc/unwanted"), Change::Removed),
        ]
    );
    assert!(!etc.join("new").exists(), "no directory made");
    assert_eq!(
        fs::read_to_string(etc.join("other-bytes")).unwrap(),
        "old\n"
    );
    // What write_files then does agrees.
    let report = write_files(root.path(), &files).unwrap();
    assert_eq!(report.written.len(), 3);
    assert_eq!(report.removed, [PathBuf::from("/etc/unwanted")]);
    assert!(preview(root.path(), &files).unwrap().is_empty());
}

#[test]
fn preview_of_a_missing_root_adds_everything() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("not-yet");
    let files = [
        PlannedFile::plain("/etc/hostname", "h\n", 0o644),
        PlannedFile::absent("/etc/gone"),
    ];
    assert_eq!(
        preview(&missing, &files).unwrap(),
        [(PathBuf::from("/etc/hostname"), Change::Added)]
    );
    assert!(!missing.exists());
}
