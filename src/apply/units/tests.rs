use super::*;

const DROPIN: &str = "/etc/systemd/system/k3s.service.d/ovaboot-proxy.conf";

fn flag(root: &Path) -> PathBuf {
    crate::root::under(root, RELOAD_FLAG)
}

#[test]
fn only_unit_files_written_or_removed_count_as_changed() {
    let report = WriteReport {
        written: vec!["/etc/hostname".into(), DROPIN.into()],
        unchanged: vec!["/etc/systemd/system/containerd.service.d/ovaboot-proxy.conf".into()],
        removed: vec!["/etc/systemd/system/other.service.d/ovaboot-proxy.conf".into()],
        already_absent: vec!["/etc/systemd/system/gone.service.d/ovaboot-proxy.conf".into()],
    };
    assert_eq!(
        changed_units(&report),
        [
            Path::new(DROPIN),
            Path::new("/etc/systemd/system/other.service.d/ovaboot-proxy.conf")
        ]
    );
    // networkd's and timesyncd's files are not units: no reload for them.
    let report = WriteReport {
        written: vec![
            "/etc/systemd/network/10-ovaboot.network".into(),
            "/etc/systemd/timesyncd.conf.d/ovaboot.conf".into(),
        ],
        ..WriteReport::default()
    };
    assert!(changed_units(&report).is_empty());
}

#[test]
fn the_flag_appears_when_a_unit_changed_and_lists_it() {
    let root = tempfile::tempdir().unwrap();
    let nothing = WriteReport {
        written: vec!["/etc/hostname".into()],
        unchanged: vec![DROPIN.into()],
        ..WriteReport::default()
    };
    assert!(!request_reload(root.path(), &nothing).unwrap());
    assert!(
        !root.path().join("run").exists(),
        "nothing under /run when no unit changed"
    );

    let removed = WriteReport {
        removed: vec![DROPIN.into()],
        ..WriteReport::default()
    };
    assert!(request_reload(root.path(), &removed).unwrap());
    assert_eq!(
        std::fs::read_to_string(flag(root.path())).unwrap(),
        format!("{DROPIN}\n")
    );

    // A later run of the same boot that changes nothing leaves the flag for
    // the unit to act on.
    assert!(!request_reload(root.path(), &nothing).unwrap());
    assert!(flag(root.path()).is_file());
}
