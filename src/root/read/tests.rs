use super::*;
use std::os::unix::fs::{PermissionsExt, symlink};

fn write(root: &Path, relative: &str, bytes: &[u8], mode: u32) -> PathBuf {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn fifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o600)).unwrap();
}

#[test]
fn a_regular_file_is_read_with_its_mode_and_an_absent_one_is_none() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "etc/shadow", b"root:*:1::::::\n", 0o640);
    let read = read_file(root.path(), "/etc/shadow", 1024)
        .unwrap()
        .unwrap();
    assert_eq!(&read.bytes[..], b"root:*:1::::::\n");
    assert_eq!(read.mode, 0o640);
    assert!(
        read_file(root.path(), "/etc/hosts", 1024)
            .unwrap()
            .is_none()
    );
    assert!(
        read_file(&root.path().join("nothing"), "/etc/hosts", 1024)
            .unwrap()
            .is_none()
    );
}

/// A FIFO in a record's place used to block the run forever.
#[test]
fn a_fifo_is_refused_without_waiting_for_a_writer() {
    let root = tempfile::tempdir().unwrap();
    fifo(&root.path().join("var/lib/ovaboot/state.json"));
    let err = read_file(root.path(), "/var/lib/ovaboot/state.json", 1024).unwrap_err();
    assert!(
        matches!(err, ReadFileError::NotRegular { kind: "a FIFO", .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}: is a FIFO, not a regular file",
            root.path().join("var/lib/ovaboot/state.json").display()
        )
    );
    let local = root.path().join("ovaboot.toml");
    fifo(&local);
    let err = read_local(&local, 1024, Links::Follow).unwrap_err();
    assert!(matches!(err, ReadFileError::NotRegular { .. }), "{err}");
}

/// A symlink to /dev/zero used to be read until memory ran out.
#[test]
fn a_device_is_refused_and_a_large_file_is_refused_past_its_cap() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("dev")).unwrap();
    // Inside the root, as the root's own /dev/zero would be (a bind of the real one).
    let zero = root.path().join("etc/hosts");
    std::fs::create_dir_all(zero.parent().unwrap()).unwrap();
    symlink("/dev/zero", &zero).unwrap();
    let outside = read_local(&zero, 1024, Links::Follow).unwrap_err();
    assert!(
        matches!(
            outside,
            ReadFileError::NotRegular {
                kind: "a character device",
                ..
            }
        ),
        "{outside}"
    );
    write(root.path(), "etc/passwd", &[b'x'; 4097], 0o644);
    let err = read_file(root.path(), "/etc/passwd", 4096).unwrap_err();
    assert!(
        matches!(err, ReadFileError::TooLarge { limit: 4096, .. }),
        "{err}"
    );
    assert_eq!(
        read_file(root.path(), "/etc/passwd", 4097)
            .unwrap()
            .unwrap()
            .bytes
            .len(),
        4097
    );
}

/// Under --root, an absolute symlink is the root's own path, and `..`
/// stops at the root: an outside file is never read.
#[test]
fn a_symlink_or_dotdot_pointing_outside_the_root_stays_inside_it() {
    let outside = tempfile::tempdir().unwrap();
    let secret = write(
        outside.path(),
        "shadow",
        b"admin:$6$outside:1::::::\n",
        0o600,
    );
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    symlink(&secret, root.path().join("etc/shadow")).unwrap();
    assert!(
        read_file(root.path(), "/etc/shadow", 1024)
            .unwrap()
            .is_none(),
        "the outside file was read"
    );
    // The same path inside the root is what the link names there.
    write(
        root.path(),
        secret.strip_prefix("/").unwrap().to_str().unwrap(),
        b"root:inside:1::::::\n",
        0o640,
    );
    let read = read_file(root.path(), "/etc/shadow", 1024)
        .unwrap()
        .unwrap();
    assert_eq!(&read.bytes[..], b"root:inside:1::::::\n");
    assert_eq!(read.mode, 0o640);
    // A relative link climbing out, and `..` in the path itself.
    let depth = root.path().components().count();
    symlink(
        format!("{}{}", "../".repeat(depth + 2), secret.display()),
        root.path().join("etc/hosts"),
    )
    .unwrap();
    let read = read_file(root.path(), "/etc/hosts", 1024).unwrap().unwrap();
    assert_eq!(&read.bytes[..], b"root:inside:1::::::\n");
    let climbing = format!("/etc/{}{}", "../".repeat(depth + 2), secret.display());
    let read = read_file(root.path(), climbing, 1024).unwrap().unwrap();
    assert_eq!(&read.bytes[..], b"root:inside:1::::::\n");
}

/// Without openat2: no symlink and no `..` is followed at all.
#[test]
fn the_walk_without_openat2_refuses_symlinks_and_dotdot() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "etc/real", b"ok", 0o644);
    symlink("real", root.path().join("etc/link")).unwrap();
    symlink("etc", root.path().join("linked-dir")).unwrap();
    let dir = nix::fcntl::open(
        root.path(),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        Mode::empty(),
    )
    .unwrap();
    let mut ok = File::from(walk_refusing_links(&dir, Path::new("etc/real")).unwrap());
    let mut text = String::new();
    ok.read_to_string(&mut text).unwrap();
    assert_eq!(text, "ok");
    assert_eq!(
        walk_refusing_links(&dir, Path::new("etc/link")).unwrap_err(),
        Errno::ELOOP
    );
    assert!(walk_refusing_links(&dir, Path::new("linked-dir/real")).is_err());
    assert_eq!(
        walk_refusing_links(&dir, Path::new("etc/../etc/real")).unwrap_err(),
        Errno::EXDEV
    );
}

#[test]
fn a_local_file_may_refuse_a_symlink_and_debug_shows_no_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let target = write(dir.path(), "target.xml", b"SECRETBYTES", 0o600);
    let link = dir.path().join("link.xml");
    symlink(&target, &link).unwrap();
    assert!(read_local(&link, 64, Links::Refuse).is_err());
    let read = read_local(&link, 64, Links::Follow).unwrap().unwrap();
    assert!(!format!("{read:?}").contains("SECRET"));
    assert!(
        read_local(&dir.path().join("none"), 64, Links::Follow)
            .unwrap()
            .is_none()
    );
}
