use std::os::unix::fs::symlink;

use super::*;

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

/// Runs only where a new UTS namespace can be made (root, or CAP_SYS_ADMIN):
/// `unshare` in a thread of our own changes only that thread's namespace, so
/// the machine's host name is never touched.
#[test]
fn sets_the_kernel_hostname_in_a_private_uts_namespace() {
    let before = nix::unistd::gethostname().unwrap();
    let outcome = std::thread::spawn(|| {
        // Only once this succeeded may sethostname run.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUTS)?;
        let hostname: Hostname = "veba01.lab.example.com".parse().unwrap();
        set_kernel_hostname(&hostname).unwrap();
        Ok::<_, nix::Error>(nix::unistd::gethostname().unwrap())
    })
    .join()
    .unwrap();
    match outcome {
        Ok(name) => {
            assert_eq!(name, "veba01.lab.example.com");
            assert_eq!(
                nix::unistd::gethostname().unwrap(),
                before,
                "host untouched"
            );
        }
        Err(e) => eprintln!("skipped: cannot make a UTS namespace here ({e})"),
    }
}

/// The host step end to end on a real folder: plan, write, plan again from
/// what was written, and find nothing to do.
#[test]
fn planned_host_files_apply_then_reapply_as_unchanged() {
    use crate::apply::files::write_files;
    use crate::config::HostConfig;
    use crate::ovf::{Properties, PropertyValue};
    use crate::plan::host::{HostInputs, plan_host};
    use crate::settings::network::NetworkSettings;
    use crate::settings::proxy::ProxySettings;
    use std::os::unix::fs::PermissionsExt;

    let props: Properties = [
        ("guestinfo.ipaddress", "192.168.10.20"),
        ("guestinfo.netmask", "24"),
        ("guestinfo.gateway", "192.168.10.1"),
        ("guestinfo.ntp", "pool.ntp.org"),
        ("guestinfo.https_proxy", "http://svc:pw%25x@proxy:3128"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), PropertyValue::Plain(v.to_string())))
    .collect();
    let network = NetworkSettings::from_properties(&props).unwrap();
    let proxy = ProxySettings::from_properties(&props).unwrap();
    let hostname: Hostname = "veba01.lab.example.com".parse().unwrap();
    let root = tempfile::tempdir().unwrap();
    fs::create_dir(root.path().join("etc")).unwrap();
    fs::write(
        root.path().join("etc/hosts"),
        include_str!("../../../tests/fixtures/host/hosts/debian-installer-default.hosts"),
    )
    .unwrap();

    let run = || {
        let existing = fs::read_to_string(root.path().join("etc/hosts")).unwrap();
        let inputs = HostInputs {
            hostname: &hostname,
            network: &network,
            proxy: proxy.as_ref(),
            existing_hosts: &existing,
            interface: Some("ens160"),
        };
        let files = plan_host(&inputs, &HostConfig::default()).unwrap();
        write_files(root.path(), &files).unwrap()
    };
    let first = run();
    assert_eq!(first.written.len(), 6, "{first:?}");
    let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o7777;
    let env_file = root.path().join("etc/ovaboot/proxy.env");
    assert_eq!(mode(&env_file), 0o600);
    assert!(
        fs::read_to_string(&env_file)
            .unwrap()
            .contains("\nHTTPS_PROXY=\"http://svc:pw%25x@proxy:3128\"\n")
    );
    let dropin = root
        .path()
        .join("etc/systemd/system/k3s.service.d/ovaboot-proxy.conf");
    assert_eq!(mode(&dropin), 0o644);
    let dropin = fs::read_to_string(&dropin).unwrap();
    assert!(dropin.ends_with("\nEnvironmentFile=/etc/ovaboot/proxy.env\n"));
    assert!(!dropin.contains("pw%25x"), "{dropin}");
    let second = run();
    assert_eq!(second.written, Vec::<PathBuf>::new());
    assert_eq!(second.unchanged, first.written);
}

fn write(root: &Path, path: &str, bytes: &[u8]) {
    let path = root.join(path.trim_start_matches('/'));
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
