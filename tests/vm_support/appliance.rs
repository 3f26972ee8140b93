//! What the appliance boots share: the OVF environment the test writes for
//! them (a static network on QEMU's user network and a proxy with a
//! password), the admin's own certificate, the files ovaboot writes, and the
//! test control plane made ready for a guest.

use std::path::PathBuf;

use time::Duration;

use super::{guest_kubeconfig, work_dir};
use crate::cli_support::{ca, environment_with, leaf};
use crate::controlplane_support;

pub const FQDN: &str = "appliance.vmtest.example.org";
pub const SHORT: &str = "appliance";
/// QEMU's user network: the guest's static address, gateway and DNS.
pub const IP: &str = "10.0.2.15";
pub const GATEWAY: &str = super::HOST_FROM_GUEST;
pub const DNS: &str = "10.0.2.3";
/// The password in the proxy URL: a secret that must show nowhere.
pub const PROXY_PASSWORD: &str = "VmApplianceProxyPassw0rd";
/// The endpoints' login password (`guestinfo.endpoint_password`): the
/// default routes require it.
pub const ENDPOINT_PASSWORD: &str = "VmApplianceEndpointPassw0rd";

/// The passwords every boot's environment carries, which must show nowhere.
pub fn environment_secrets() -> Vec<String> {
    vec![PROXY_PASSWORD.to_owned(), ENDPOINT_PASSWORD.to_owned()]
}
/// The test copy of the image writes this for the cluster phase (see ovaboot-cluster-vmtest.conf).
pub const KUBECONFIG_WAIT: &str = "waiting for k3s to write /etc/rancher/k3s/k3s.yaml";

pub const TLS_KEY: &str = "etc/ovaboot/tls/tls.key";
pub const TLS_CERT: &str = "etc/ovaboot/tls/tls.crt";
/// The completion record.
pub const RECORD: &str = "var/lib/ovaboot/firstboot.json";
/// The properties' digest day 2 compares with.
pub const DIGEST: &str = "var/lib/ovaboot/properties.json";
pub const STATE: &str = "var/lib/ovaboot/state.json";

/// The static network, the proxy with a password and the endpoints'
/// password, then `extra`.
pub fn base_properties(proxy: &str) -> Vec<(&'static str, String)> {
    vec![
        ("guestinfo.hostname", FQDN.to_owned()),
        ("guestinfo.ipaddress", IP.to_owned()),
        ("guestinfo.netmask", "24".to_owned()),
        ("guestinfo.gateway", GATEWAY.to_owned()),
        ("guestinfo.dns", DNS.to_owned()),
        ("guestinfo.https_proxy", proxy.to_owned()),
        ("guestinfo.endpoint_password", ENDPOINT_PASSWORD.to_owned()),
    ]
}

/// The proxy URL, with [`PROXY_PASSWORD`] in it.
pub fn proxy_url() -> String {
    format!("http://svc-proxy:{PROXY_PASSWORD}@proxy.vmtest.example.org:3128")
}

/// An OVF environment named `name`: the static network, the proxy with a
/// password, then `extra`.
pub fn write_environment(name: &str, extra: &[(&str, &str)]) -> PathBuf {
    let dir = work_dir(&format!("appliance-env-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let proxy = proxy_url();
    let base = base_properties(&proxy);
    let mut properties: Vec<(&str, &str)> = base.iter().map(|(k, v)| (*k, v.as_str())).collect();
    properties.extend_from_slice(extra);
    let path = dir.join("ovf-env.xml");
    environment_with(&path, &properties);
    path
}

/// An OVF environment named `name` with the admin's own certificate for
/// `host` (issued by a lab CA, valid since yesterday for 90 days) and its
/// key, then `extra`: (leaf PEM, key PEM, environment file).
pub fn with_admin_certificate(
    name: &str,
    host: &str,
    extra: &[(&str, &str)],
) -> (String, String, PathBuf) {
    let issuer = ca("VM Test Lab CA", None);
    let key = rcgen::KeyPair::generate().unwrap();
    let (cert, _) = leaf(&issuer, host, &key, -Duration::days(1), Duration::days(90));
    let chain = format!("{cert}{}", issuer.pem);
    let key_pem = key.serialize_pem();
    let mut properties = vec![
        ("guestinfo.tls_cert", chain.as_str()),
        ("guestinfo.tls_key", key_pem.as_str()),
    ];
    properties.extend_from_slice(extra);
    let env = write_environment(name, &properties);
    (cert, key_pem, env)
}

/// A control plane on the host for a boot's cluster phase
/// (`OVABOOT_TEST_KUBECONFIG`), made ready for the guest.
pub struct ControlPlane {
    pub kubeconfig: PathBuf,
    /// What the guest gets (see [`guest_kubeconfig`]).
    pub guest_kubeconfig: PathBuf,
    /// The client keys in it, which must show nowhere.
    pub client_keys: Vec<String>,
}

impl ControlPlane {
    /// The control plane `OVABOOT_TEST_KUBECONFIG` names, if set (`why_none`
    /// says on stderr what its absence leaves out).
    pub fn for_guest(why_none: &str) -> Option<ControlPlane> {
        let Some(kubeconfig) = std::env::var_os("OVABOOT_TEST_KUBECONFIG").map(PathBuf::from)
        else {
            eprintln!("{why_none}");
            return None;
        };
        Some(ControlPlane::at(kubeconfig))
    }

    /// The control plane of `kubeconfig`, with the Services the default
    /// routes point at (the apps that come with the appliance make them;
    /// Contour calls a route to a missing one invalid).
    pub fn at(kubeconfig: PathBuf) -> ControlPlane {
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
        ControlPlane {
            kubeconfig,
            guest_kubeconfig: guest,
            client_keys,
        }
    }
}
