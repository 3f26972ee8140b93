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
