use super::*;
use std::os::unix::fs::PermissionsExt;

fn root() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn a_second_run_on_the_same_root_is_told_who_holds_it() {
    let root = root();
    let held = acquire(
        root.path(),
        "ovaboot firstboot --phase host",
        Duration::ZERO,
    )
    .unwrap();
    let err = acquire(root.path(), "ovaboot reconfigure", Duration::ZERO).unwrap_err();
    assert!(err.is_transient(), "exit 1: the holder ends by itself");
    let line = err.to_string();
    assert!(
        line.starts_with(&format!(
            "another ovaboot run is working on this system (pid {}, `ovaboot firstboot --phase host`, since 20",
            std::process::id()
        )) && line.contains("(lock.wait_secs = 0)")
            && line.ends_with(&format!("lock file {}", root.path().join("run/ovaboot/lock").display())),
        "{line}"
    );
    assert!(!line.contains('\n'));
    drop(held);
}

#[test]
fn the_lock_is_released_on_drop_and_the_holder_line_cleared() {
    let root = root();
    let path = root.path().join("run/ovaboot/lock");
    let held = acquire(root.path(), "first", Duration::ZERO).unwrap();
    assert!(std::fs::read_to_string(&path).unwrap().contains("`first`"));
    drop(held);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    let again = acquire(root.path(), "second", Duration::ZERO).unwrap();
    assert!(std::fs::read_to_string(&path).unwrap().contains("`second`"));
    drop(again);
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o644
    );
}

#[test]
fn a_waiting_run_takes_the_lock_once_the_holder_lets_go() {
    let root = root();
    let held = acquire(root.path(), "first", Duration::ZERO).unwrap();
    let dir = root.path().to_owned();
    let waiter = std::thread::spawn(move || acquire(&dir, "second", Duration::from_secs(60)));
    drop(held);
    let taken = waiter.join().unwrap().expect("taken within the wait");
    drop(taken);
}

#[test]
fn runs_on_two_roots_do_not_wait_for_each_other() {
    let (a, b) = (root(), root());
    let _a = acquire(a.path(), "a", Duration::ZERO).unwrap();
    let _b = acquire(b.path(), "b", Duration::ZERO).unwrap();
}

#[test]
fn a_fifo_at_the_lock_path_is_refused_without_blocking() {
    let root = root();
    let path = root.path().join("run/ovaboot/lock");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let err = acquire(root.path(), "x", Duration::from_secs(60)).unwrap_err();
    assert!(!err.is_transient());
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[test]
fn the_command_line_is_kept_to_one_line() {
    let root = root();
    let _held = acquire(root.path(), "ovaboot --root /tmp/a\nb", Duration::ZERO).unwrap();
    let err = acquire(root.path(), "x", Duration::ZERO).unwrap_err();
    assert!(
        err.to_string().contains("`ovaboot --root /tmp/a b`"),
        "{err}"
    );
}
