use std::os::unix::fs::symlink;

use super::*;
use crate::root::test_support::returns;

/// A fake /sys/class/net laid out as the kernel does: entries are symlinks
/// into devices/, physical ones have a `device` link.
fn sysfs(interfaces: &[(&str, &str, bool, &str)]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let class = root.path().join("class/net");
    fs::create_dir_all(&class).unwrap();
    for (name, kind, with_device, bus) in interfaces {
        let dir = root.path().join("devices").join(bus).join("net").join(name);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("type"), format!("{kind}\n")).unwrap();
        if *with_device {
            let device = root.path().join("devices").join(bus);
            symlink(&device, dir.join("device")).unwrap();
        }
        if name.starts_with("wl") {
            fs::create_dir(dir.join("wireless")).unwrap();
        }
        symlink(&dir, class.join(name)).unwrap();
    }
    root
}

#[test]
fn picks_the_first_physical_ethernet_interface_by_name() {
    let root = sysfs(&[
        ("lo", "772", false, "virtual"),
        ("docker0", "1", false, "virtual"),
        ("cni0", "1", true, "virtual"),
        ("ifb0", "1", false, "virtual"),
        ("wlp2s0", "1", true, "pci0000:00/0000:02:00.0"),
        ("eth1", "1", true, "pci0000:00/0000:0b:00.0"),
        ("ens160", "1", true, "pci0000:00/0000:03:00.0"),
    ]);
    let found = first_ethernet_interface(&root.path().join("class/net")).unwrap();
    assert_eq!(found.as_deref(), Some("ens160"));
}

#[test]
fn none_when_only_virtual_or_non_ethernet() {
    let root = sysfs(&[
        ("lo", "772", false, "virtual"),
        ("ifb0", "1", false, "virtual"),
    ]);
    assert_eq!(
        first_ethernet_interface(&root.path().join("class/net")).unwrap(),
        None
    );
    let missing = first_ethernet_interface(Path::new("/nonexistent/class/net")).unwrap_err();
    assert!(
        missing.to_string().starts_with("/nonexistent/class/net: "),
        "{missing}"
    );
}

fn write(root: &Path, path: &str, bytes: &[u8]) {
    let path = under(root, path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn host_facts_read_the_installed_pair_and_the_hosts_file() {
    let root = tempfile::tempdir().unwrap();
    let facts = read_host_facts(root.path()).unwrap();
    assert_eq!(facts.existing_hosts, "");
    assert!(facts.installed_tls.is_none(), "nothing installed yet");

    write(root.path(), "/etc/hosts", b"127.0.0.1 localhost\n");
    write(root.path(), TLS_CERT_PATH, b"-----BEGIN CERTIFICATE-----\n");
    write(
        root.path(),
        TLS_KEY_PATH,
        b"-----BEGIN PRIVATE KEY-----\nS3CR3T\n",
    );
    let facts = read_host_facts(root.path()).unwrap();
    assert_eq!(facts.existing_hosts, "127.0.0.1 localhost\n");
    let pair = facts.installed_tls.expect("both files are there");
    assert!(pair.key_pem.expose().contains("S3CR3T"));
    assert!(
        !format!("{pair:?}").contains("S3CR3T"),
        "the key stays redacted"
    );
}

#[test]
fn a_damaged_installed_pair_is_planned_as_absent_not_an_error() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), TLS_CERT_PATH, b"-----BEGIN CERTIFICATE-----\n");
    write(root.path(), TLS_KEY_PATH, b"\xff\xfe not text");
    let facts = read_host_facts(root.path()).unwrap();
    assert!(facts.installed_tls.is_none());
}

#[test]
fn half_a_pair_is_no_pair() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), TLS_KEY_PATH, b"-----BEGIN PRIVATE KEY-----\n");
    assert!(
        read_host_facts(root.path())
            .unwrap()
            .installed_tls
            .is_none()
    );
}

/// Under --root, a symlinked /etc/shadow or /etc/hosts pointing outside used
/// to be followed: other accounts' lines from the outside file were copied
/// into the root's shadow, with the outside file's mode.
#[test]
fn symlinks_out_of_the_root_are_not_followed_for_shadow_hosts_or_passwd() {
    let outside = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = outside.path().join(name);
        fs::write(&path, text).unwrap();
        path
    };
    let shadow = file("shadow", "root:*:1::::::\nintruder:$6$outside:1::::::\n");
    let hosts = file("hosts", "10.9.9.9 outside.example\n");
    let passwd = file("passwd", "root:x:0:0::/outside-home:/bin/sh\n");
    let root = tempfile::tempdir().unwrap();
    fs::create_dir_all(root.path().join("etc")).unwrap();
    symlink(&shadow, root.path().join("etc/shadow")).unwrap();
    symlink(&hosts, root.path().join("etc/hosts")).unwrap();
    symlink(&passwd, root.path().join("etc/passwd")).unwrap();
    assert!(matches!(read_shadow(root.path()), ShadowFacts::Missing));
    let facts = read_host_facts(root.path()).unwrap();
    assert_eq!(facts.existing_hosts, "");
    assert_eq!(facts.root_home, None);
}

#[test]
fn a_fifo_or_device_in_a_host_files_place_never_blocks_the_read() {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir_all(root.path().join("etc")).unwrap();
    nix::unistd::mkfifo(
        &root.path().join("etc/shadow"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let path = root.path().to_owned();
    match returns("reading a FIFO /etc/shadow", move || read_shadow(&path)) {
        ShadowFacts::Unreadable(reason) => assert!(reason.contains("is a FIFO"), "{reason}"),
        other => panic!("{other:?}"),
    }
    nix::unistd::mkfifo(
        &root.path().join("etc/hosts"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let path = root.path().to_owned();
    let err = returns("reading a FIFO /etc/hosts", move || read_host_facts(&path)).unwrap_err();
    assert!(
        err.to_string().contains("is a FIFO, not a regular file"),
        "{err}"
    );
}
