use std::os::unix::fs::{MetadataExt, symlink};

use super::*;
use crate::secret::Secret;

fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Every path under `dir`, relative, sorted (to prove nothing else was left).
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(base).unwrap().display().to_string());
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                walk(base, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn host_files() -> Vec<PlannedFile> {
    vec![
        PlannedFile::plain("/etc/hostname", "veba01.lab.example.com\n", 0o644),
        PlannedFile::secret(
            "/etc/systemd/system/k3s.service.d/ovaboot-proxy.conf",
            Secret::new(b"[Service]\nEnvironment=\"HTTP_PROXY=http://u:pw@proxy:3128\"\n".to_vec()),
            0o600,
        ),
        // A mode the usual umask (022) would cut down: proves the exact mode is set.
        PlannedFile::plain("/opt/ovaboot/group-writable", "x", 0o664),
    ]
}

#[test]
fn writes_files_with_exact_modes_and_creates_parents_0755() {
    let root = tempfile::tempdir().unwrap();
    let report = write_files(root.path(), &host_files()).unwrap();
    assert_eq!(report.unchanged, Vec::<PathBuf>::new());
    assert_eq!(
        report.written,
        host_files().into_iter().map(|f| f.path).collect::<Vec<_>>()
    );
    let r = root.path();
    assert_eq!(
        fs::read_to_string(r.join("etc/hostname")).unwrap(),
        "veba01.lab.example.com\n"
    );
    assert_eq!(mode_of(&r.join("etc/hostname")), 0o644);
    let dropin = r.join("etc/systemd/system/k3s.service.d/ovaboot-proxy.conf");
    assert!(fs::read_to_string(&dropin).unwrap().contains("u:pw@proxy"));
    assert_eq!(mode_of(&dropin), 0o600);
    assert_eq!(mode_of(&r.join("opt/ovaboot/group-writable")), 0o664);
    for dir in [
        "etc",
        "etc/systemd",
        "etc/systemd/system",
        "etc/systemd/system/k3s.service.d",
        "opt/ovaboot",
    ] {
        assert_eq!(mode_of(&r.join(dir)), 0o755, "{dir}");
    }
    assert_eq!(
        tree(r),
        [
            "etc",
            "etc/hostname",
            "etc/systemd",
            "etc/systemd/system",
            "etc/systemd/system/k3s.service.d",
            "etc/systemd/system/k3s.service.d/ovaboot-proxy.conf",
            "opt",
            "opt/ovaboot",
            "opt/ovaboot/group-writable",
        ],
        "no temporary files left behind"
    );
}

#[test]
fn unchanged_files_are_left_untouched_and_reported() {
    let root = tempfile::tempdir().unwrap();
    write_files(root.path(), &host_files()).unwrap();
    let hostname = root.path().join("etc/hostname");
    let before = fs::metadata(&hostname).unwrap();

    let report = write_files(root.path(), &host_files()).unwrap();
    assert_eq!(report.written, Vec::<PathBuf>::new());
    assert_eq!(report.unchanged.len(), 3);
    let after = fs::metadata(&hostname).unwrap();
    assert_eq!(
        (after.ino(), after.mtime_nsec(), after.mtime()),
        (before.ino(), before.mtime_nsec(), before.mtime())
    );

    // Same bytes, other mode: rewritten with the planned mode.
    fs::set_permissions(&hostname, fs::Permissions::from_mode(0o666)).unwrap();
    let report = write_files(root.path(), &host_files()).unwrap();
    assert_eq!(report.written, [PathBuf::from("/etc/hostname")]);
    assert_eq!(mode_of(&hostname), 0o644);
}

#[test]
fn an_existing_file_is_replaced_by_rename_not_rewritten_in_place() {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir(root.path().join("etc")).unwrap();
    let hosts = root.path().join("etc/hosts");
    fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let old_inode = fs::metadata(&hosts).unwrap().ino();
    let files = [PlannedFile::plain(
        "/etc/hosts",
        "127.0.0.1\tlocalhost\n127.0.1.1\tveba01\n",
        0o644,
    )];
    write_files(root.path(), &files).unwrap();
    assert_eq!(
        fs::read_to_string(&hosts).unwrap(),
        "127.0.0.1\tlocalhost\n127.0.1.1\tveba01\n"
    );
    assert_ne!(fs::metadata(&hosts).unwrap().ino(), old_inode);
}

#[test]
fn a_symlink_at_the_target_is_replaced_and_its_target_untouched() {
    let root = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let outside = elsewhere.path().join("hostname");
    fs::write(&outside, "old\n").unwrap();
    fs::create_dir(root.path().join("etc")).unwrap();
    symlink(&outside, root.path().join("etc/hostname")).unwrap();
    write_files(
        root.path(),
        &[PlannedFile::plain("/etc/hostname", "new\n", 0o644)],
    )
    .unwrap();
    assert_eq!(fs::read_to_string(&outside).unwrap(), "old\n");
    let target = root.path().join("etc/hostname");
    assert!(fs::symlink_metadata(&target).unwrap().is_file());
    assert_eq!(fs::read_to_string(&target).unwrap(), "new\n");
}

#[test]
fn refuses_paths_that_escape_the_root_and_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let ok = PlannedFile::plain("/etc/hostname", "x\n", 0o644);
    for bad in ["/etc/../../evil", "/../evil"] {
        let e = write_files(
            root.path(),
            &[ok.clone(), PlannedFile::plain(bad, "x", 0o644)],
        )
        .unwrap_err();
        assert!(matches!(e, FilesError::Escapes { .. }), "{e}");
        assert!(e.to_string().contains("the path contains '..'"), "{e}");
    }
    let e = write_files(
        root.path(),
        &[ok.clone(), PlannedFile::plain("etc/hosts", "x", 0o644)],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "etc/hosts: planned file paths must be absolute"
    );
    let e = write_files(root.path(), &[PlannedFile::plain("/", "x", 0o644)]).unwrap_err();
    assert!(matches!(e, FilesError::NotAbsolute { .. }));
    let e = write_files(root.path(), &[ok.clone(), ok.clone()]).unwrap_err();
    assert_eq!(e.to_string(), "/etc/hostname: planned twice");
    let e = write_files(root.path(), &[PlannedFile::plain("/etc/x", "x", 0o10644)]).unwrap_err();
    assert!(matches!(e, FilesError::BadMode { .. }));
    assert_eq!(tree(root.path()), Vec::<String>::new(), "nothing written");
}

#[test]
fn refuses_a_symlinked_parent_that_points_outside_the_root() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    symlink(outside.path(), root.path().join("etc")).unwrap();
    let e = write_files(
        root.path(),
        &[PlannedFile::plain("/etc/systemd/x.conf", "x", 0o644)],
    )
    .unwrap_err();
    assert!(matches!(e, FilesError::Escapes { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("a parent directory is a symlink that points outside it"),
        "{e}"
    );
    assert_eq!(tree(outside.path()), Vec::<String>::new());
}

#[test]
fn follows_a_symlinked_parent_that_stays_inside_the_root() {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir(root.path().join("real-etc")).unwrap();
    symlink("real-etc", root.path().join("etc")).unwrap();
    write_files(
        root.path(),
        &[PlannedFile::plain("/etc/hostname", "x\n", 0o644)],
    )
    .unwrap();
    assert_eq!(
        fs::read_to_string(root.path().join("real-etc/hostname")).unwrap(),
        "x\n"
    );
}

#[test]
fn a_failure_midway_leaves_every_target_old_and_no_temp_files() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    fs::create_dir(r.join("etc")).unwrap();
    fs::write(r.join("etc/hostname"), "old.example.com\n").unwrap();
    fs::set_permissions(r.join("etc/hostname"), fs::Permissions::from_mode(0o644)).unwrap();
    // A regular file where a directory is needed.
    fs::write(r.join("etc/systemd"), "not a directory\n").unwrap();
    let files = [
        PlannedFile::plain("/etc/hostname", "veba01.lab.example.com\n", 0o644),
        PlannedFile::plain("/etc/hosts", "127.0.0.1\tlocalhost\n", 0o644),
        PlannedFile::plain(
            "/etc/systemd/network/10-ovaboot.network",
            "[Match]\n",
            0o644,
        ),
        PlannedFile::plain("/etc/motd", "after\n", 0o644),
    ];
    let e = write_files(r, &files).unwrap_err();
    assert!(matches!(e, FilesError::NotADirectory { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}: is not a directory",
            fs::canonicalize(r).unwrap().join("etc/systemd").display()
        )
    );
    assert_eq!(
        fs::read_to_string(r.join("etc/hostname")).unwrap(),
        "old.example.com\n"
    );
    assert_eq!(
        tree(r),
        ["etc", "etc/hostname", "etc/systemd"],
        "no new file, no temp file"
    );
}

#[test]
fn a_directory_at_the_target_is_an_error() {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir_all(root.path().join("etc/hostname")).unwrap();
    let e = write_files(
        root.path(),
        &[PlannedFile::plain("/etc/hostname", "x", 0o644)],
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .ends_with("etc/hostname: is a directory, not replacing it with a file"),
        "{e}"
    );
}

#[test]
fn errors_never_show_secret_contents() {
    let root = tempfile::tempdir().unwrap();
    fs::write(root.path().join("etc"), "").unwrap();
    let files = [PlannedFile::secret(
        "/etc/key.pem",
        Secret::new(b"hunter2".to_vec()),
        0o600,
    )];
    let e = write_files(root.path(), &files).unwrap_err();
    assert!(!format!("{e} {e:?}").contains("hunter2"));
}
