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
            "/etc/ovaboot/proxy.env",
            Secret::new(b"HTTP_PROXY=\"http://u:pw@proxy:3128\"\n".to_vec()),
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
    let env_file = r.join("etc/ovaboot/proxy.env");
    assert!(
        fs::read_to_string(&env_file)
            .unwrap()
            .contains("u:pw@proxy")
    );
    assert_eq!(mode_of(&env_file), 0o600);
    assert_eq!(mode_of(&r.join("opt/ovaboot/group-writable")), 0o664);
    for dir in ["etc", "etc/ovaboot", "opt/ovaboot"] {
        assert_eq!(mode_of(&r.join(dir)), 0o755, "{dir}");
    }
    assert_eq!(
        tree(r),
        [
            "etc",
            "etc/hostname",
            "etc/ovaboot",
            "etc/ovaboot/proxy.env",
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

/// What a crash between staging and renaming leaves: a temporary file named
/// as `stage` names them, mode 0600, holding (here) an older private key.
fn plant_stale_temp(dir: &Path, name: &str) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let stale = dir.join(name);
    fs::write(&stale, "-----BEGIN PRIVATE KEY-----\nold\n").unwrap();
    fs::set_permissions(&stale, fs::Permissions::from_mode(0o600)).unwrap();
    stale
}

/// The pid of a process that has ended: what a crashed writer's pid is.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// A temp name for `tls.key` as the writer `pid` names it.
fn key_temp(pid: u32, attempt: u32) -> String {
    format!(".tls.key.ovaboot-{pid}-{attempt}.tmp")
}

fn tls_key() -> PlannedFile {
    PlannedFile::secret(
        "/etc/ovaboot/tls/tls.key",
        Secret::new(b"-----BEGIN PRIVATE KEY-----\nnew\n".to_vec()),
        0o600,
    )
}

#[test]
fn a_temp_file_left_by_a_crash_is_removed_on_the_next_write() {
    let root = tempfile::tempdir().unwrap();
    let tls = root.path().join("etc/ovaboot/tls");
    let stale = plant_stale_temp(&tls, &key_temp(dead_pid(), 0));
    // The same pid as this run (pids repeat across boots) and a later attempt.
    let own_pid = plant_stale_temp(
        &tls,
        &format!(".tls.key.ovaboot-{}-7.tmp", std::process::id()),
    );

    let report = write_files(root.path(), &[tls_key()]).unwrap();
    assert_eq!(report.written, [PathBuf::from("/etc/ovaboot/tls/tls.key")]);
    assert!(!stale.exists() && !own_pid.exists());
    assert_eq!(
        fs::read_to_string(tls.join("tls.key")).unwrap(),
        "-----BEGIN PRIVATE KEY-----\nnew\n"
    );
    assert_eq!(mode_of(&tls.join("tls.key")), 0o600);
    assert_eq!(
        tree(root.path()),
        [
            "etc",
            "etc/ovaboot",
            "etc/ovaboot/tls",
            "etc/ovaboot/tls/tls.key"
        ]
    );
}

#[test]
fn a_temp_file_left_by_a_crash_is_removed_even_when_the_target_is_unchanged() {
    let root = tempfile::tempdir().unwrap();
    write_files(root.path(), &[tls_key()]).unwrap();
    let tls = root.path().join("etc/ovaboot/tls");
    let stale = plant_stale_temp(&tls, &key_temp(dead_pid(), 0));
    let report = write_files(root.path(), &[tls_key()]).unwrap();
    assert_eq!(
        report.unchanged,
        [PathBuf::from("/etc/ovaboot/tls/tls.key")]
    );
    assert!(!stale.exists());
}

#[test]
fn only_regular_files_named_exactly_like_our_temps_for_that_target_are_removed() {
    let root = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let tls = root.path().join("etc/ovaboot/tls");
    let keep = [
        ".tls.key.ovaboot-1234-0.tmp.bak",
        ".tls.key.ovaboot-1234.tmp",
        ".tls.key.ovaboot-x-0.tmp",
        ".tls.key.ovaboot--0.tmp",
        ".tls.key.ovaboot-1-2-3.tmp",
        "tls.key.ovaboot-1234-0.tmp",
        ".tls.key.other-1234-0.tmp",
        ".tls.ke.ovaboot-1234-0.tmp",
        // Another target's temp: not planned in this run, not ours to judge.
        ".tls.crt.ovaboot-1234-0.tmp",
    ];
    for name in keep {
        plant_stale_temp(&tls, name);
    }
    // A symlink with a matching name: neither it nor what it points at goes.
    let outside = elsewhere.path().join("precious");
    fs::write(&outside, "keep me\n").unwrap();
    symlink(&outside, tls.join(".tls.key.ovaboot-1-0.tmp")).unwrap();
    // A directory with a matching name stays too.
    fs::create_dir(tls.join(".tls.key.ovaboot-2-0.tmp")).unwrap();

    write_files(root.path(), &[tls_key()]).unwrap();
    for name in keep {
        assert!(tls.join(name).is_file(), "{name} was removed");
    }
    assert!(
        fs::symlink_metadata(tls.join(".tls.key.ovaboot-1-0.tmp"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read_to_string(&outside).unwrap(), "keep me\n");
    assert!(tls.join(".tls.key.ovaboot-2-0.tmp").is_dir());
    assert_eq!(
        fs::read_to_string(tls.join("tls.key")).unwrap(),
        "-----BEGIN PRIVATE KEY-----\nnew\n"
    );
}

#[test]
fn a_temp_file_another_writer_is_staging_is_never_removed() {
    let root = tempfile::tempdir().unwrap();
    let tls = root.path().join("etc/ovaboot/tls");
    // A live writer of this version: its staged file is open and locked,
    // whatever pid it names (this process's own here, as a second writer in
    // this process, or a writer whose pid this process cannot see).
    let staging = [key_temp(std::process::id(), 3), key_temp(dead_pid(), 0)];
    let held: Vec<File> = staging
        .iter()
        .map(|name| {
            let path = plant_stale_temp(&tls, name);
            let file = File::open(&path).unwrap();
            file.try_lock().unwrap();
            file
        })
        .collect();
    // A live writer that does not lock its temps (another version of
    // ovaboot): its pid is a live process (init, here).
    let unlocked_but_live = plant_stale_temp(&tls, &key_temp(1, 0));

    let report = write_files(root.path(), &[tls_key()]).unwrap();
    assert_eq!(report.written, [PathBuf::from("/etc/ovaboot/tls/tls.key")]);
    for name in &staging {
        assert_eq!(
            fs::read_to_string(tls.join(name)).unwrap(),
            "-----BEGIN PRIVATE KEY-----\nold\n",
            "{name}: a live writer's staged file"
        );
    }
    assert!(unlocked_but_live.exists());

    // Once the writers are gone (their locks released with them), the next
    // write removes what they left, but for a pid that is still alive.
    drop(held);
    // Another test thread spawning a process at the moment of the drop
    // shares the open files (and their locks) until that child execs: the
    // lock is then still held, rightly keeping the file. Write again until
    // that moment has passed, within a deadline.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        write_files(root.path(), &[tls_key()]).unwrap();
        let gone = staging.iter().all(|name| !tls.join(name).exists());
        if gone || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::yield_now();
    }
    for name in &staging {
        assert!(!tls.join(name).exists(), "{name} stale now");
    }
    assert!(unlocked_but_live.exists());
}

#[test]
fn a_staged_file_is_locked_until_it_is_renamed() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("etc");
    fs::create_dir_all(&dir).unwrap();
    let file = PlannedFile::plain("/etc/hostname", "a\n", 0o644);
    let mut staged = stage(
        &dir,
        &dir.join("hostname"),
        &file,
        file.contents.expose().unwrap(),
    )
    .unwrap();
    let temp = staged.temp.clone().unwrap();
    let other = File::open(&temp).unwrap();
    assert!(
        matches!(other.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        "another writer sees it live"
    );
    staged.commit().unwrap();
    drop(staged);
    other.try_lock().expect("released once committed");
}

#[test]
fn temp_names_are_recognised_for_their_own_target_only() {
    let name = OsStr::new("tls.key");
    for (pid, attempt) in [(1, 0), (4_194_304, 99), (u32::MAX, u32::MAX)] {
        let temp = temp_name(name, pid, attempt);
        assert!(is_temp_name_for(&temp, name), "{temp:?}");
        assert!(!is_temp_name_for(&temp, OsStr::new("tls")));
        assert!(!is_temp_name_for(&temp, OsStr::new("key")));
    }
    // A target whose own name looks like a temp name is still told apart.
    let odd = OsStr::new("x.ovaboot-1-0.tmp");
    let temp = temp_name(odd, 5, 0);
    assert!(is_temp_name_for(&temp, odd));
    assert!(!is_temp_name_for(&temp, OsStr::new("x")));
}

mod absent;
mod owner;
mod preview;
