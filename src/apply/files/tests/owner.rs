//! `keep_owner` and `dir_mode`: `/etc/shadow` keeps its group, `~/.ssh` is
//! created 0700.

use super::*;

/// Group `shadow` on Debian; any gid other than the writer's shows the point.
const OTHER_GID: u32 = 42;

#[test]
#[ignore = "needs root: chown to another group (CAP_CHOWN)"]
fn a_replaced_file_keeps_its_owner_and_group_when_planned_so() {
    let root = tempfile::tempdir().unwrap();
    let real = root.path().join("etc/shadow");
    fs::create_dir_all(real.parent().unwrap()).unwrap();
    fs::write(&real, "root:*:1:0:99999:7:::\n").unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
    let uid = fs::metadata(&real).unwrap().uid();
    if let Err(e) = std::os::unix::fs::chown(&real, None, Some(OTHER_GID)) {
        panic!("needs root: changing a file's group needs CAP_CHOWN ({e})");
    }
    let planned = PlannedFile::secret(
        "/etc/shadow",
        Secret::new(b"root:$6$x$y:2:0:99999:7:::\n".to_vec()),
        0o640,
    );
    write_files(root.path(), &[planned.clone().keeping_owner()]).unwrap();
    let meta = fs::metadata(&real).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (uid, OTHER_GID),
        "owner and group kept"
    );
    assert_eq!(mode_of(&real), 0o640);
    assert_eq!(fs::read(&real).unwrap(), b"root:$6$x$y:2:0:99999:7:::\n");

    // Without keep_owner the new file is the writer's own.
    let changed = PlannedFile::secret(
        "/etc/shadow",
        Secret::new(b"root:*:3::::::\n".to_vec()),
        0o640,
    );
    write_files(root.path(), &[changed]).unwrap();
    assert_ne!(fs::metadata(&real).unwrap().gid(), OTHER_GID);
}

#[test]
fn a_new_file_planned_to_keep_its_owner_is_simply_written() {
    let root = tempfile::tempdir().unwrap();
    let planned = PlannedFile::plain("/etc/shadow", "root:*:1::::::\n", 0o640).keeping_owner();
    let report = write_files(root.path(), &[planned]).unwrap();
    assert_eq!(report.written.len(), 1);
    assert_eq!(mode_of(&root.path().join("etc/shadow")), 0o640);
}

#[test]
fn the_files_directory_is_created_with_its_planned_mode_and_an_existing_one_left_alone() {
    let root = tempfile::tempdir().unwrap();
    let keys = PlannedFile::plain("/root/.ssh/authorized_keys", "ssh-ed25519 AAAA a\n", 0o600)
        .in_dir_with_mode(0o700);
    write_files(root.path(), std::slice::from_ref(&keys)).unwrap();
    assert_eq!(
        mode_of(&root.path().join("root")),
        0o755,
        "only the last one"
    );
    assert_eq!(mode_of(&root.path().join("root/.ssh")), 0o700);
    assert_eq!(
        mode_of(&root.path().join("root/.ssh/authorized_keys")),
        0o600
    );

    let other = tempfile::tempdir().unwrap();
    fs::create_dir_all(other.path().join("root/.ssh")).unwrap();
    fs::set_permissions(
        other.path().join("root/.ssh"),
        fs::Permissions::from_mode(0o750),
    )
    .unwrap();
    write_files(other.path(), &[keys]).unwrap();
    assert_eq!(mode_of(&other.path().join("root/.ssh")), 0o750);
}
