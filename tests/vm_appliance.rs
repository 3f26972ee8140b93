//! The whole appliance in QEMU: the disk image packer/build-image makes from
//! the real .deb, booted by its own bootloader with real systemd, the OVF
//! environment on a CD labelled `OVF ENV` as vSphere's ISO transport presents
//! it. Each boot runs on a copy-on-write overlay; the test reads the serial
//! console and, after the guest powered off, the overlay's file system and
//! journal (tests/vm/appliance/vm.sh does the effects).
//!
//! The guest powers itself off through a test-only unit put into a copy of
//! the image (tests/vm/appliance/ovaboot-vmtest*), never into the image.
//!
//! Slow (an image build and seven boots), so it runs only with
//! `OVABOOT_VM_TESTS=1`, as root. The .deb is `OVABOOT_APPLIANCE_DEB`, or
//! the one `cargo deb` builds (see README "VM tests"). With
//! `OVABOOT_TEST_KUBECONFIG` (tests/controlplane/up) the first boot's cluster
//! phase applies to that control plane through QEMU's user network.

mod cli_support;
mod controlplane_support;
mod vm_support;

use std::path::PathBuf;

use cli_support::{ca, environment_with, key_needles, leaf, openssl, openssl_fingerprint};
use k8s_openapi::api::core::v1::Secret;
use time::Duration;
use vm_support::{Boot, Guest, boot, guest_kubeconfig, put, test_disk, vm_tests_enabled, work_dir};

const FQDN: &str = "appliance.vmtest.example.org";
const SHORT: &str = "appliance";
/// QEMU's user network: the guest's static address, gateway and DNS.
const IP: &str = "10.0.2.15";
const GATEWAY: &str = vm_support::HOST_FROM_GUEST;
const DNS: &str = "10.0.2.3";
/// The password in the proxy URL: a secret that must show nowhere.
const PROXY_PASSWORD: &str = "VmApplianceProxyPassw0rd";
/// The test copy of the image writes this for the cluster phase (see ovaboot-cluster-vmtest.conf).
const KUBECONFIG_WAIT: &str = "waiting for k3s to write /etc/rancher/k3s/k3s.yaml";

/// An OVF environment with the static network and a proxy with a password.
fn write_environment(name: &str, extra: &[(&str, &str)]) -> PathBuf {
    let dir = work_dir(&format!("appliance-env-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let proxy = format!("http://svc-proxy:{PROXY_PASSWORD}@proxy.vmtest.example.org:3128");
    let mut properties = vec![
        ("guestinfo.hostname", FQDN),
        ("guestinfo.ipaddress", IP),
        ("guestinfo.netmask", "24"),
        ("guestinfo.gateway", GATEWAY),
        ("guestinfo.dns", DNS),
        ("guestinfo.https_proxy", proxy.as_str()),
    ];
    properties.extend_from_slice(extra);
    let path = dir.join("ovf-env.xml");
    environment_with(&path, &properties);
    path
}

const TLS_KEY: &str = "etc/ovaboot/tls/tls.key";
const TLS_CERT: &str = "etc/ovaboot/tls/tls.crt";
const RECORD: &str = "var/lib/ovaboot/firstboot.json";

/// A control plane on the host for the first boot's cluster phase
/// (`OVABOOT_TEST_KUBECONFIG`), made ready for the guest.
struct ControlPlane {
    kubeconfig: PathBuf,
    /// What the guest gets (see `vm_support::guest_kubeconfig`).
    guest_kubeconfig: PathBuf,
    /// The client keys in it, which must show nowhere.
    client_keys: Vec<String>,
}

impl ControlPlane {
    fn for_guest() -> Option<ControlPlane> {
        let Some(kubeconfig) = std::env::var_os("OVABOOT_TEST_KUBECONFIG").map(PathBuf::from)
        else {
            eprintln!(
                "first boot: skipping the half where the cluster phase applies and completes \
                 (and the second boot of that disk): set OVABOOT_TEST_KUBECONFIG (tests/controlplane/up); \
                 the second boot runs on a disk with a completion record the test writes"
            );
            return None;
        };
        // The default routes point at these Services; the apps that come with
        // the appliance make them (Contour calls a route to a missing one invalid).
        controlplane_support::block_on(async {
            let c = controlplane_support::client(&kubeconfig).await;
            controlplane_support::apply_objects(
                &c,
                &[
                    controlplane_support::namespace("ovaboot"),
                    controlplane_support::service("ovaboot", "status", 80),
                    controlplane_support::service("ovaboot", "bootstrap-log", 80),
                ],
            )
            .await;
        });
        let guest = work_dir("appliance-kubeconfig").join("k3s.yaml");
        let client_keys = guest_kubeconfig(&kubeconfig, &guest);
        Some(ControlPlane {
            kubeconfig,
            guest_kubeconfig: guest,
            client_keys,
        })
    }
}

/// What the host phase of a first boot left, checked: the certificate, its
/// key and fingerprint.
struct HostPhase {
    cert: String,
    key: String,
    fingerprint: String,
}

/// (1) The host phase ran, succeeded, and finished before networkd,
/// timesyncd and k3s started (k3s, absent offline, is skipped by its
/// condition, which is checked only once its ordering allows it to start);
/// host name, network, /etc/hosts, the TLS pair and the console banner.
fn assert_host_phase(first: &Boot) -> HostPhase {
    let host = "ovaboot-host.service";
    first.assert_unit_succeeded(host);
    let host_done = first.monotonic(host, "ActiveEnterTimestampMonotonic");
    assert!(host_done > 0);
    for unit in ["systemd-networkd.service", "systemd-timesyncd.service"] {
        let started = first.monotonic(unit, "InactiveExitTimestampMonotonic");
        assert!(
            started > host_done,
            "{unit} started at {started}, before {host} finished at {host_done}"
        );
    }
    let k3s_checked = first.monotonic("k3s.service", "ConditionTimestampMonotonic");
    assert!(
        k3s_checked > host_done,
        "k3s considered at {k3s_checked}, before {host} finished at {host_done}"
    );
    assert_eq!(first.unit("k3s.service", "ConditionResult"), "no");

    // Kernel and static host name, the static address on the NIC, /etc/hosts.
    assert_eq!(first.fact("kernel-hostname"), [FQDN]);
    assert_eq!(first.file("etc/hostname").unwrap().trim(), FQDN);
    let addrs = first.fact("addr");
    assert!(
        addrs
            .iter()
            .any(|a| a.contains(&format!("inet {IP}/24")) && !a.contains(" lo ")),
        "{addrs:?}"
    );
    let hosts = first.file("etc/hosts").unwrap();
    assert!(hosts.contains("127.0.0.1\tlocalhost"), "{hosts}");
    assert!(
        hosts
            .lines()
            .any(|l| l.starts_with(IP) && l.contains(FQDN) && l.contains(SHORT)),
        "{hosts}"
    );

    // The TLS pair: the key 0600 root, the certificate for the FQDN, the
    // short name and the address; its key is the pair's.
    let key_stat = &first.stat[TLS_KEY];
    assert!(key_stat.starts_with("600 0 0 "), "{TLS_KEY}: {key_stat}");
    let cert_stat = &first.stat[TLS_CERT];
    assert!(cert_stat.starts_with("644 0 0 "), "{TLS_CERT}: {cert_stat}");
    let cert = first.file(TLS_CERT).unwrap();
    let key = first.file(TLS_KEY).unwrap();
    cli_support::assert_key_matches_cert(key.as_bytes(), cert.as_bytes());
    let sans = openssl(
        &["x509", "-noout", "-ext", "subjectAltName"],
        cert.as_bytes(),
    );
    for san in [
        format!("DNS:{FQDN}"),
        format!("DNS:{SHORT}"),
        format!("IP Address:{IP}"),
    ] {
        assert!(sans.contains(&san), "{san} not in {sans}");
    }

    // The console tells the admin where to go and what certificate to expect.
    let fingerprint = openssl_fingerprint(cert.as_bytes());
    let banner = first.console_lines(&format!("https://{FQDN}/"));
    assert!(
        banner.iter().any(|l| l.contains(&fingerprint)),
        "no console line with the URL and fingerprint {fingerprint}; console:\n{}",
        first.console
    );

    // The console banner agetty shows: URL, fingerprint, the host phase done.
    let issue = first.file("etc/issue.d/ovaboot.issue").unwrap();
    assert!(
        issue.contains(&format!("https://{FQDN}/")) && issue.contains(&fingerprint),
        "{issue}"
    );
    // ... and what the guest's own agetty makes of it above a login prompt.
    let shown = first.fact("issue");
    assert!(
        shown
            .iter()
            .any(|l| l.contains(&format!("ovaboot: https://{FQDN}/")))
            && shown.iter().any(|l| l.contains(&fingerprint)),
        "agetty --show-issue in the guest: {shown:?}"
    );
    HostPhase {
        cert,
        key,
        fingerprint,
    }
}

/// (2) No Kubernetes at first: the cluster phase says what it waits for,
/// gives up (exit 1) and is retried.
fn assert_cluster_phase_waited(first: &Boot) {
    let cluster = "ovaboot-cluster.service";
    assert!(
        first.monotonic(cluster, "NRestarts") >= 1,
        "{cluster} was not retried; console:\n{}",
        first.console
    );
    assert!(
        !first.console_lines(KUBECONFIG_WAIT).is_empty(),
        "the console does not say what the cluster phase waits for; console:\n{}",
        first.console
    );
    assert!(
        first
            .console_lines("ovaboot: error: no Kubernetes client configuration")
            .iter()
            .any(
                |l| l.contains("/etc/rancher/k3s/k3s.yaml did not appear in time")
                    && !l.contains("Permission denied")
            ),
        "the console does not say why the cluster phase gave up; console:\n{}",
        first.console
    );
}

/// (2) Once the kubeconfig was there, the cluster phase applied to the
/// control plane and wrote the completion record: the unit succeeded, the
/// record names the FQDN and the certificate, the TLS Secret holds the
/// guest's pair and Contour calls the root HTTPProxy valid.
fn assert_cluster_phase_completed(first: &Boot, cp: &ControlPlane, tls: &HostPhase) {
    let cluster = "ovaboot-cluster.service";
    assert_eq!(
        first.unit(cluster, "ActiveState"),
        "active",
        "{}",
        first.console
    );
    first.assert_unit_succeeded(cluster);
    assert_eq!(first.fact("kubeconfig-written").len(), 1);
    let record = first
        .file(RECORD)
        .unwrap_or_else(|| panic!("no {RECORD}; console:\n{}", first.console));
    let record: serde_json::Value = serde_json::from_str(&record).unwrap();
    assert_eq!(record["hostname"], FQDN, "{record}");
    assert_eq!(record["certificate_sha256"], tls.fingerprint, "{record}");
    assert_eq!(
        record["ovaboot_version"],
        env!("CARGO_PKG_VERSION"),
        "{record}"
    );
    controlplane_support::block_on(async {
        let c = controlplane_support::client(&cp.kubeconfig).await;
        let secret = kube::Api::<Secret>::namespaced(c.clone(), "ovaboot")
            .get("ovaboot-tls")
            .await
            .unwrap();
        assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
        let data = secret.data.unwrap_or_default();
        assert!(
            data.get("tls.crt").map(|b| b.0.as_slice()) == Some(tls.cert.as_bytes()),
            "the TLS Secret does not hold the guest's certificate"
        );
        assert!(
            data.get("tls.key").map(|b| b.0.as_slice()) == Some(tls.key.as_bytes()),
            "the TLS Secret does not hold the guest's key"
        );
        let proxy = controlplane_support::httpproxy(&c, "ovaboot", "ovaboot").await;
        assert_eq!(proxy["spec"]["virtualhost"]["fqdn"], FQDN, "{proxy:#?}");
        assert_eq!(
            controlplane_support::current_status(&proxy),
            Some("valid"),
            "{proxy:#?}"
        );
    });
}

/// Writes the completion record the cluster phase would have written into
/// the first boot's disk, from the disk's own certificate: offline, the
/// cluster phase cannot finish.
fn complete_offline(first: &Boot, tls: &HostPhase) {
    assert!(!first.file_exists(RECORD));
    let record = first.dir.join("firstboot.json");
    let fingerprint_record = serde_json::json!({
        "ovaboot_version": env!("CARGO_PKG_VERSION"),
        "completed_at": "2026-11-30T12:00:00Z",
        "hostname": FQDN,
        "certificate_sha256": tls.fingerprint,
    });
    std::fs::write(&record, fingerprint_record.to_string()).unwrap();
    put(&first.disk_after(), &format!("/{RECORD}"), &record);
}

#[test]
fn first_boot_configures_the_appliance_and_a_second_boot_changes_nothing() {
    if !vm_tests_enabled("first_boot_configures_the_appliance_and_a_second_boot_changes_nothing") {
        return;
    }
    let env = write_environment("first", &[]);
    let cp = ControlPlane::for_guest();
    let first = boot(
        "first",
        test_disk(),
        Guest {
            ovf_env: Some(&env),
            kubeconfig: cp.as_ref().map(|cp| cp.guest_kubeconfig.as_path()),
            clock: None,
        },
    );
    let tls = assert_host_phase(&first);

    // No secret on the console or in the journal: the proxy password, the
    // key, the control plane's client key.
    let mut secrets = key_needles(&tls.key);
    secrets.push(PROXY_PASSWORD.to_owned());
    for key in cp.iter().flat_map(|cp| &cp.client_keys) {
        secrets.extend(key_needles(key));
    }
    first.assert_no_secret(&secrets);

    assert_cluster_phase_waited(&first);
    match &cp {
        Some(cp) => assert_cluster_phase_completed(&first, cp, &tls),
        None => complete_offline(&first, &tls),
    }

    // (3) Second boot of the first boot's disk.
    let second = boot(
        "second",
        &first.disk_after(),
        Guest {
            ovf_env: Some(&env),
            kubeconfig: None,
            clock: None,
        },
    );
    for unit in ["ovaboot-host.service", "ovaboot-cluster.service"] {
        // Its condition was checked, and was false: the completion record is there.
        second.assert_unit_skipped(unit);
    }
    // Every file the first boot wrote is as it was: same content, mode, mtime.
    for (path, line) in &first.stat {
        if path.starts_with("var/lib/ovaboot") && cp.is_none() {
            // The record the test wrote after the first boot has no digest of
            // the properties: day 2's first run applies them all again
            // (changing no other file) and records itself in the state file.
            continue;
        }
        assert_eq!(
            second.stat.get(path),
            Some(line),
            "{path} changed on the second boot"
        );
    }
    assert_eq!(second.fact("kernel-hostname"), [FQDN]);
    second.assert_no_secret(&secrets);

    // (4) Day 2 on that boot: the reconfigure units ran; with no digest yet
    // every property was applied again, which changed no file (above), and
    // the cluster part, the certificate unchanged, recorded the digest.
    let reconfigure = "ovaboot-reconfigure.service";
    let reconfigure_cluster = "ovaboot-reconfigure-cluster.service";
    second.assert_unit_succeeded(reconfigure);
    second.assert_unit_succeeded(reconfigure_cluster);
    assert!(second.stat.contains_key("var/lib/ovaboot/properties.json"));
    // The daily renewal timer is waiting; its service does not run at boot.
    assert_eq!(second.unit("ovaboot-renew.timer", "ActiveState"), "active");
    second.assert_unit_never_started("ovaboot-renew.service");

    // (5) The admin renews the certificate (their own, for the same FQDN) and
    // reboots: the host part installs it before networkd starts; the Secret
    // waits for k3s (absent offline: retried), so the digest stays as it was.
    let (new_cert, key_pem, renewed_env) = with_admin_certificate("renewed", FQDN);
    let third = boot(
        "renewed",
        &second.dir.join("after.raw"),
        Guest {
            ovf_env: Some(&renewed_env),
            kubeconfig: None,
            clock: None,
        },
    );
    third.assert_unit_succeeded(reconfigure);
    let done = third.monotonic(reconfigure, "ActiveEnterTimestampMonotonic");
    let networkd = third.monotonic("systemd-networkd.service", "InactiveExitTimestampMonotonic");
    assert!(
        networkd > done,
        "networkd started before the host part finished"
    );
    assert_eq!(
        openssl_fingerprint(third.file(TLS_CERT).unwrap().as_bytes()),
        openssl_fingerprint(new_cert.as_bytes()),
        "the renewed certificate is installed"
    );
    assert_eq!(third.file(TLS_KEY).unwrap(), key_pem);
    assert!(
        third.stat[TLS_KEY].starts_with("600 0 0 "),
        "{}",
        third.stat[TLS_KEY]
    );
    assert!(
        third.monotonic(reconfigure_cluster, "NRestarts") >= 1,
        "the Secret's part was not retried; console:\n{}",
        third.console
    );
    assert_eq!(
        third.stat.get("var/lib/ovaboot/properties.json"),
        second.stat.get("var/lib/ovaboot/properties.json"),
        "the digest is recorded only once the Secret has the pair"
    );
    assert_eq!(third.fact("kernel-hostname"), [FQDN]);
    let mut secrets = key_needles(&key_pem);
    secrets.push(PROXY_PASSWORD.to_owned());
    third.assert_no_secret(&secrets);

    // (6) The second boot's disk powered on 10 days before its self-signed
    // certificate expires (the guest's clock moved on, as 815 days of
    // uptime would): the host part renews it with the same names, nothing
    // else changes, and the console shows the new fingerprint.
    assert_self_signed_renewed(&second, &tls);

    // (7) With the control plane: the second boot's disk powered on two
    // years and a day later, past the lifetime of every certificate the
    // appliance owns but the xDS CA's: everything is renewed, the cluster
    // gets the new pairs, and `status` exits 0.
    if let Some(cp) = &cp {
        assert_everything_renewed_years_later(&second, cp, &tls);
    }
}

/// (7): a boot of `second`'s disk with the clock 826 days on (the
/// self-signed certificate lives 825, the xDS pairs 365): the day-2 units
/// renew the serving certificate and both xDS pairs under the same CA, and
/// apply them to the control plane (whose certificates, made by
/// tests/controlplane/up, are valid long enough for that clock).
fn assert_everything_renewed_years_later(second: &Boot, cp: &ControlPlane, tls: &HostPhase) {
    const XDS: &str = "etc/ovaboot/tls/xds";
    let clock = (time::OffsetDateTime::now_utc() + Duration::days(826))
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .unwrap();
    let env = write_environment("first", &[]);
    // The kubeconfig opens the guest's way to the control plane (the disk
    // has the first boot's copy of it already).
    let later = boot(
        "years-later",
        &second.disk_after(),
        Guest {
            ovf_env: Some(&env),
            kubeconfig: Some(&cp.guest_kubeconfig),
            clock: Some(&clock),
        },
    );
    for unit in [
        "ovaboot-reconfigure.service",
        "ovaboot-reconfigure-cluster.service",
    ] {
        later.assert_unit_succeeded(unit);
        assert_eq!(
            later.unit(unit, "ActiveState"),
            "active",
            "{unit}: {}",
            later.console
        );
        assert_eq!(
            later.monotonic(unit, "NRestarts"),
            0,
            "{unit}: {}",
            later.console
        );
    }
    assert_eq!(
        later.fact("status-exit"),
        ["0"],
        "ovaboot status in the guest: {:?}",
        later.fact("status")
    );
    let status = later.fact("status").join("\n");
    assert!(
        !status.contains("EXPIRED") && !status.contains("WARNING"),
        "{status}"
    );
    // Renewed: the serving pair and both xDS pairs; the CA kept.
    let cert = later.file(TLS_CERT).unwrap();
    assert_ne!(openssl_fingerprint(cert.as_bytes()), tls.fingerprint);
    for name in ["contour.crt", "envoy.crt"] {
        let path = format!("{XDS}/{name}");
        assert_ne!(later.file(&path), second.file(&path), "{path} not renewed");
    }
    let ca = format!("{XDS}/ca.crt");
    assert_eq!(later.file(&ca), second.file(&ca), "the CA is kept");
    for key in ["ca.key", "contour.key", "envoy.key"] {
        let stat = &later.stat[&format!("{XDS}/{key}")];
        assert!(stat.starts_with("600 0 0 "), "{key}: {stat}");
    }
    // The cluster holds what the disk holds.
    controlplane_support::block_on(async {
        let c = controlplane_support::client(&cp.kubeconfig).await;
        let secrets = kube::Api::<Secret>::namespaced(c.clone(), "projectcontour");
        for (secret, file) in [("contourcert", "contour.crt"), ("envoycert", "envoy.crt")] {
            let data = secrets.get(secret).await.unwrap().data.unwrap_or_default();
            let held = |key: &str| {
                data.get(key)
                    .map(|b| String::from_utf8(b.0.clone()).unwrap())
            };
            assert_eq!(
                held("tls.crt"),
                later.file(&format!("{XDS}/{file}")),
                "{secret}"
            );
            assert_eq!(held("ca.crt"), later.file(&ca), "{secret}");
        }
        let serving = kube::Api::<Secret>::namespaced(c.clone(), "ovaboot")
            .get("ovaboot-tls")
            .await
            .unwrap()
            .data
            .unwrap_or_default();
        assert_eq!(
            serving.get("tls.crt").map(|b| b.0.as_slice()),
            Some(cert.as_bytes()),
            "the TLS Secret holds the renewed certificate"
        );
    });
    let mut secrets = key_needles(&later.file(TLS_KEY).unwrap());
    secrets.extend(key_needles(&later.file(&format!("{XDS}/ca.key")).unwrap()));
    secrets.push(PROXY_PASSWORD.to_owned());
    later.assert_no_secret(&secrets);
}

/// (6) [`first_boot_configures_the_appliance_and_a_second_boot_changes_nothing`]'s
/// renewal: a boot of `second`'s disk with the clock 10 days before its
/// certificate's notAfter.
fn assert_self_signed_renewed(second: &Boot, tls: &HostPhase) {
    let old_cert = second.file(TLS_CERT).unwrap();
    assert_eq!(openssl_fingerprint(old_cert.as_bytes()), tls.fingerprint);
    let der = &cli_support::pem_blocks_der(&old_cert)[0];
    let (_, parsed) = x509_parser::parse_x509_certificate(der).unwrap();
    let not_after = parsed.validity().not_after.to_datetime();
    let clock = (not_after - Duration::days(10))
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .unwrap();
    let env = write_environment("first", &[]);
    let renewed = boot(
        "expiring",
        &second.disk_after(),
        Guest {
            ovf_env: Some(&env),
            kubeconfig: None,
            clock: Some(&clock),
        },
    );
    let reconfigure = "ovaboot-reconfigure.service";
    renewed.assert_unit_succeeded(reconfigure);
    let cert = renewed.file(TLS_CERT).unwrap();
    let key = renewed.file(TLS_KEY).unwrap();
    let fingerprint = openssl_fingerprint(cert.as_bytes());
    assert_ne!(fingerprint, tls.fingerprint, "a new certificate");
    cli_support::assert_key_matches_cert(key.as_bytes(), cert.as_bytes());
    let sans = |pem: &str| {
        openssl(
            &["x509", "-noout", "-ext", "subjectAltName"],
            pem.as_bytes(),
        )
    };
    assert_eq!(sans(&cert), sans(&old_cert), "the same names");
    let stat = &renewed.stat[TLS_KEY];
    assert!(stat.starts_with("600 0 0 "), "{TLS_KEY}: {stat}");
    // Nothing else ovaboot wrote changed but its records of the run.
    for (path, line) in &second.stat {
        // The xDS pairs (365 days) are renewed too, by the same boot.
        if [TLS_CERT, TLS_KEY].contains(&path.as_str())
            || path.starts_with("etc/ovaboot/tls/xds/")
            || path == "var/lib/ovaboot/xds.json"
            || path == "var/lib/ovaboot/state.json"
            || path == "etc/issue.d/ovaboot.issue"
        {
            continue;
        }
        assert_eq!(renewed.stat.get(path), Some(line), "{path} changed");
    }
    let shown = renewed.fact("issue");
    assert!(
        shown.iter().any(|l| l.contains(&fingerprint)),
        "agetty --show-issue in the guest: {shown:?}"
    );
    // The Secret's part waits for k3s (absent offline: retried).
    assert!(
        renewed.monotonic("ovaboot-reconfigure-cluster.service", "NRestarts") >= 1,
        "{}",
        renewed.console
    );
    let mut secrets = key_needles(&key);
    secrets.push(PROXY_PASSWORD.to_owned());
    renewed.assert_no_secret(&secrets);
}

#[test]
fn a_certificate_for_another_host_stops_first_boot_before_anything_is_applied() {
    if !vm_tests_enabled(
        "a_certificate_for_another_host_stops_first_boot_before_anything_is_applied",
    ) {
        return;
    }
    let (_, key_pem, env) = with_admin_certificate("bad-cert", "other-host.vmtest.example.org");
    let vm = boot(
        "bad-cert",
        test_disk(),
        Guest {
            ovf_env: Some(&env),
            kubeconfig: None,
            clock: None,
        },
    );
    let host = "ovaboot-host.service";
    // Exit 2 (bad input) and no restart.
    assert_eq!(vm.unit(host, "ActiveState"), "failed", "{}", vm.console);
    assert_eq!(vm.unit(host, "ExecMainStatus"), "2");
    assert_eq!(vm.unit(host, "NRestarts"), "0");
    // The console names the property and what to do about it.
    let lines = vm.console_lines("guestinfo.tls_cert");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("ovaboot: error:") && l.contains(FQDN)),
        "no error line naming guestinfo.tls_cert and {FQDN}; console:\n{}",
        vm.console
    );
    // So does the banner above the login prompt, as the guest's agetty shows it.
    let shown = vm.fact("issue");
    assert!(
        shown
            .iter()
            .any(|l| l.contains("FAILED: ") && l.contains("guestinfo.tls_cert"))
            && shown
                .iter()
                .any(|l| l.contains("correct the vApp property and reboot")),
        "agetty --show-issue in the guest: {shown:?}"
    );
    // Nothing past validation: no host name, no network, no TLS files.
    assert_eq!(vm.fact("kernel-hostname"), ["appliance"]);
    assert_eq!(vm.file("etc/hostname").unwrap().trim(), "appliance");
    assert!(!vm.file_exists("etc/ovaboot/tls"), "{:?}", vm.stat);
    assert!(!vm.file_exists("etc/systemd/network/10-ovaboot.network"));
    // k3s did not start: its requirement failed.
    assert_eq!(vm.unit("k3s.service", "ActiveState"), "inactive");
    vm.assert_unit_never_started("k3s.service");
    assert!(
        vm.journal.contains("Dependency failed for") && vm.journal.contains("k3s"),
        "the journal does not say k3s's dependency failed"
    );
    let mut secrets = key_needles(&key_pem);
    secrets.push(PROXY_PASSWORD.to_owned());
    vm.assert_no_secret(&secrets);
}

#[test]
fn without_an_ovf_environment_nothing_is_applied() {
    if !vm_tests_enabled("without_an_ovf_environment_nothing_is_applied") {
        return;
    }
    let vm = boot("no-env", test_disk(), Guest::default());
    // The environment may still appear (a CD attached late): the phase retries
    // it up to [host] retry_timeout_secs (5 s in the test config), then exits 1
    // with one error line; the unit is not restarted (k3s's start has failed).
    assert!(
        vm.journal
            .contains("ovaboot-host.service: Main process exited, code=exited, status=1/FAILURE"),
        "the host unit did not exit 1; console:\n{}",
        vm.console
    );
    let host = "ovaboot-host.service";
    assert_eq!(vm.unit(host, "NRestarts"), "0", "{}", vm.console);
    // ovaboot's own lines (the banner printed by the test unit, below, quotes the error too).
    let lines: Vec<_> = vm
        .console_lines("no OVF environment found")
        .into_iter()
        .filter(|l| !l.contains("@@vmtest"))
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("trying again in"))
            && lines
                .iter()
                .filter(|l| l.contains("ovaboot: error:"))
                .count()
                == 1
            && lines
                .iter()
                .all(|l| l.contains("ovaboot: error:") || l.contains("trying again in")),
        "no retries and one clear console line; console:\n{}",
        vm.console
    );
    let state = vm.file("var/lib/ovaboot/state.json").unwrap();
    assert!(state.contains("\"outcome\": \"failed\""), "{state}");
    let banner = vm.file("etc/issue.d/ovaboot.issue").unwrap();
    assert!(banner.contains("STOPPED: "), "{banner}");
    let shown = vm.fact("issue");
    assert!(
        shown.iter().any(|l| l.contains("STOPPED: ")),
        "agetty --show-issue in the guest: {shown:?}"
    );
    assert_eq!(vm.fact("kernel-hostname"), ["appliance"]);
    assert_eq!(vm.file("etc/hostname").unwrap().trim(), "appliance");
    assert!(!vm.file_exists("etc/ovaboot/tls"));
    assert!(!vm.file_exists("etc/systemd/network/10-ovaboot.network"));
    vm.assert_unit_never_started("k3s.service");
}

/// An OVF environment named `name` with the admin's own certificate for
/// `host` (issued by a lab CA, valid since yesterday for 90 days) and its
/// key: (leaf PEM, key PEM, environment file).
fn with_admin_certificate(name: &str, host: &str) -> (String, String, PathBuf) {
    let issuer = ca("VM Test Lab CA", None);
    let key = rcgen::KeyPair::generate().unwrap();
    let (cert, _) = leaf(&issuer, host, &key, -Duration::days(1), Duration::days(90));
    let chain = format!("{cert}{}", issuer.pem);
    let key_pem = key.serialize_pem();
    let env = write_environment(
        name,
        &[
            ("guestinfo.tls_cert", &chain),
            ("guestinfo.tls_key", &key_pem),
        ],
    );
    (cert, key_pem, env)
}
