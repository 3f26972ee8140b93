//! The first boot: the host phase configures the appliance before networkd,
//! timesyncd and k3s start; the cluster phase waits for k3s, gives up, is
//! retried, and with a control plane applies to it and writes the
//! completion record.

use k8s_openapi::api::core::v1::Secret;

use crate::cli_support::{self, openssl, openssl_fingerprint};
use crate::controlplane_support;
use crate::vm_support::Boot;
use crate::vm_support::appliance::{
    ControlPlane, FQDN, IP, KUBECONFIG_WAIT, RECORD, SHORT, TLS_CERT, TLS_KEY,
};
use crate::{TlsPair, first};

#[test]
#[ignore = "needs QEMU and root: builds the appliance image and boots it under TCG"]
fn first_boot_configures_the_host_then_waits_for_and_applies_to_the_cluster() {
    let first = first();
    assert_host_phase(&first.boot);
    // No secret on the console or in the journal: the proxy password, the
    // key, the control plane's client key.
    first.boot.assert_no_secret(&first.secrets);
    assert_cluster_phase_waited(&first.boot);
    if let Some(cp) = &first.cp {
        assert_cluster_phase_completed(&first.boot, cp, &first.tls);
    }
}

/// (1) The host phase ran, succeeded, and finished before networkd,
/// timesyncd and k3s started (k3s, absent offline, is skipped by its
/// condition, which is checked only once its ordering allows it to start);
/// host name, network, /etc/hosts, the TLS pair and the console banner.
fn assert_host_phase(first: &Boot) {
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
fn assert_cluster_phase_completed(first: &Boot, cp: &ControlPlane, tls: &TlsPair) {
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
