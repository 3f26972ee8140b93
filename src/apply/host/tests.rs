use std::fs;
use std::path::{Path, PathBuf};

use super::*;

/// Needs a new UTS namespace (root, or CAP_SYS_ADMIN): `unshare` in a thread
/// of our own changes only that thread's namespace, so the machine's host
/// name is never touched.
#[test]
#[ignore = "needs root: sethostname in a private UTS namespace (unshare)"]
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
    let name = outcome.unwrap_or_else(|e| {
        panic!("needs root (CAP_SYS_ADMIN) to make a UTS namespace: unshare failed: {e}")
    });
    assert_eq!(name, "veba01.lab.example.com");
    assert_eq!(
        nix::unistd::gethostname().unwrap(),
        before,
        "host untouched"
    );
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
