//! The second boot's disk powered on two years and a day later (the clock
//! 826 days on: the self-signed certificate lives 825, the xDS pairs 365),
//! against the control plane: the day-2 units renew the serving certificate
//! and both xDS pairs under the same CA, apply them to the cluster (whose
//! certificates, made by tests/controlplane/up, are valid long enough for
//! that clock), and `status` in the guest exits 0.

use k8s_openapi::api::core::v1::Secret;
use time::Duration;

use crate::cli_support::{key_needles, openssl_fingerprint};
use crate::controlplane_support;
use crate::vm_support::appliance::{TLS_CERT, TLS_KEY, environment_secrets};
use crate::vm_support::{Guest, boot};
use crate::{first, second};

const XDS: &str = "etc/ovaboot/tls/xds";

#[test]
#[ignore = "needs QEMU, root and a control plane (OVABOOT_TEST_KUBECONFIG): boots the appliance image under TCG"]
fn years_later_everything_the_appliance_owns_is_renewed() {
    let first = first();
    let cp = first.cp.as_ref().expect(
        "needs a control plane: set OVABOOT_TEST_KUBECONFIG (tests/controlplane/up), \
         the renewed pairs are applied to it",
    );
    let second = second();
    let clock = (time::OffsetDateTime::now_utc() + Duration::days(826))
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .unwrap();
    // The kubeconfig opens the guest's way to the control plane (the disk
    // has the first boot's copy of it already).
    let later = boot(
        "years-later",
        &second.disk_after(),
        Guest {
            ovf_env: Some(&first.env),
            kubeconfig: Some(&cp.guest_kubeconfig),
            clock: Some(&clock),
            ..Guest::default()
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
    assert_ne!(openssl_fingerprint(cert.as_bytes()), first.tls.fingerprint);
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
    secrets.extend(environment_secrets());
    later.assert_no_secret(&secrets);
}
