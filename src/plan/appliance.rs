//! The whole first-boot plan: every step's plan put together, pure. `render`
//! writes it to a folder; the apply side makes the system match it. Both use
//! this one function, so what is shown is what is done.

use std::net::IpAddr;

use serde_json::Value;
use time::OffsetDateTime;

use super::PlannedFile;
use super::credentials::{self, CredentialsError, DEFAULT_ROOT_HOME, ShadowFacts};
use super::host::{HostInputs, HostPlanError, plan_host};
use super::summary::Summarized;
pub use super::summary::{
    CertificateSummary, ContourSummary, CredentialsSummary, FileSummary, NetworkSummary,
    PlanSummary, ProxySummary, RouteSummary,
};
use crate::config::{Config, HostConfig};
use crate::contour::{self, ContourError, describe};
use crate::routes::{self, RoutesError};
use crate::secret::Secret;
use crate::settings::{Hostname, Settings};
use crate::tls::{self, TlsError, TlsPlan, ZeroizingJson};

/// Where the host step puts the certificate chain and key.
pub const TLS_CERT_PATH: &str = "/etc/ovaboot/tls/tls.crt";
pub const TLS_KEY_PATH: &str = "/etc/ovaboot/tls/tls.key";

/// Facts read from the target system that the pure plan needs.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    /// The target's current `/etc/hosts` (empty if it has none).
    pub existing_hosts: String,
    /// The first Ethernet interface, if any.
    pub interface: Option<String>,
    /// The certificate and key already at [`TLS_CERT_PATH`] / [`TLS_KEY_PATH`]
    /// (both present): a rerun keeps them while they still fit.
    pub installed_tls: Option<tls::InstalledPair>,
    /// The target's `/etc/shadow` (read only to set root's password).
    pub shadow: ShadowFacts,
    /// root's home from the target's `/etc/passwd`; `None`: `/root`.
    pub root_home: Option<std::path::PathBuf>,
    /// The xDS CA and pairs a previous run kept (see [`crate::xds`]).
    pub xds: crate::xds::Kept,
    /// The auth server's CA and pair and the login line a previous run kept.
    pub auth: crate::auth::Kept,
}

/// A kernel setting the running system needs at once, e.g.
/// `/proc/sys/net/ipv4/ip_unprivileged_port_start` = `80`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeSysctl {
    pub proc_path: std::path::PathBuf,
    pub value: String,
}

/// One Kubernetes object of the plan, in apply order.
pub struct Manifest {
    /// `NN-kind-name.yaml`, the name `render` gives it.
    pub file_name: String,
    pub object: ManifestObject,
}

/// A manifest's object; the TLS Secret stays wrapped so it cannot be logged.
pub enum ManifestObject {
    Plain(Value),
    /// The appliance's TLS Secret.
    Secret(Secret<ZeroizingJson>),
    /// `contourcert` or `envoycert` ([`crate::xds`]).
    XdsSecret(Secret<ZeroizingJson>),
    /// The auth server's CA or serving pair ([`crate::auth`]).
    AuthTlsSecret(Secret<ZeroizingJson>),
    /// The endpoint login's htpasswd line ([`crate::auth`]).
    LoginSecret(Secret<ZeroizingJson>),
}

impl ManifestObject {
    /// The object itself (for writing it out or sending it to the API server).
    pub fn expose(&self) -> &Value {
        match self {
            ManifestObject::Plain(v) => v,
            ManifestObject::Secret(s)
            | ManifestObject::XdsSecret(s)
            | ManifestObject::AuthTlsSecret(s)
            | ManifestObject::LoginSecret(s) => s.expose().value(),
        }
    }

    /// The endpoint login's Secret (applied alone when the login changed).
    pub fn is_login_secret(&self) -> bool {
        matches!(self, ManifestObject::LoginSecret(_))
    }

    /// Holds a key (the TLS Secret or an xDS one).
    pub fn is_secret(&self) -> bool {
        !matches!(self, ManifestObject::Plain(_))
    }

    /// The appliance's TLS Secret (the one object a property change applies).
    pub fn is_tls_secret(&self) -> bool {
        matches!(self, ManifestObject::Secret(_))
    }
}

impl std::fmt::Debug for Manifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Kind and name only: the Secret's data must never reach a log.
        write!(
            f,
            "Manifest({}, {})",
            self.file_name,
            describe(self.object.expose())
        )
    }
}

/// Everything first boot will do.
#[derive(Debug)]
pub struct Plan {
    pub hostname: Hostname,
    /// Host files, in write order.
    pub files: Vec<PlannedFile>,
    /// Kernel settings to write under /proc/sys now (their drop-ins are in `files`).
    pub runtime_sysctls: Vec<RuntimeSysctl>,
    /// Kubernetes objects, in apply order.
    pub manifests: Vec<Manifest>,
    pub tls: TlsPlan,
    /// The xDS CA and pairs, in `files` and as two Secrets in `manifests`.
    pub xds: crate::xds::XdsPlan,
    /// The auth server, when a route is protected.
    pub auth: Option<crate::auth::AuthPlan>,
    /// What `plan.json` says.
    pub summary: PlanSummary,
}

/// Why no plan could be made; each names the property or config key at fault.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Host(#[from] HostPlanError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error(transparent)]
    Contour(#[from] ContourError),
    #[error(transparent)]
    Routes(#[from] RoutesError),
    #[error(transparent)]
    Xds(#[from] crate::xds::XdsError),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
}

/// Every check [`build`] makes of the OVF properties (host files, network,
/// proxy, TLS material), in the same order, without generating a key,
/// reading the Contour manifest or writing anything: what `props` runs, so it
/// refuses what `render` and `firstboot` refuse, with the same line.
pub fn check(
    settings: &Settings,
    config: &Config,
    facts: &HostFacts,
    now: OffsetDateTime,
) -> Result<(), PlanError> {
    host_files(settings, &config.host, facts)?;
    credentials::check(&settings.credentials, &config.credentials)?;
    crate::auth::check(
        &settings.endpoint,
        routes::protected(&config.routes()).as_deref(),
        &config.credentials,
    )?;
    tls::check(&settings.hostname, settings.tls.as_ref(), &config.tls, now)?;
    Ok(())
}

/// Makes the whole plan from the settings, the config and the host's facts.
/// Pure but for the certificate's randomness and reading the pinned manifest.
pub fn build(
    settings: &Settings,
    config: &Config,
    facts: &HostFacts,
    now: OffsetDateTime,
) -> Result<Plan, PlanError> {
    let hostname = &settings.hostname;
    let static_ip: Option<IpAddr> = settings.network.static_network.as_ref().map(|n| n.address);

    let mut files = host_files(settings, &config.host, facts)?;
    files.extend(credentials::plan(
        &settings.credentials,
        &config.credentials,
        &facts.shadow,
        facts
            .root_home
            .as_deref()
            .unwrap_or(std::path::Path::new(DEFAULT_ROOT_HOME)),
        now.unix_timestamp().div_euclid(86_400),
    )?);
    log_proxy(settings);
    let tls = tls::plan(
        hostname,
        static_ip,
        settings.tls.as_ref(),
        facts.installed_tls.as_ref(),
        &config.tls,
        now,
    )?;
    files.extend(tls_files(&tls));
    let xds = crate::xds::plan(&facts.xds, &config.xds, now)?;
    files.extend(xds.files());

    let contour_objects = contour::plan(&config.contour)?;
    let (sysctl_file, runtime_sysctls) = port_sysctl(&contour_objects)?;
    files.push(sysctl_file);

    let auth = match routes::protected(&config.routes()) {
        Some(protected) => Some(crate::auth::plan(
            &settings.endpoint,
            &protected,
            &facts.auth,
            &crate::auth::Inputs {
                config: &config.auth,
                pki: &config.xds,
                credentials: &config.credentials,
            },
            now,
        )?),
        None => {
            // No login to keep: a line an earlier config left is taken back.
            files.push(PlannedFile::absent(crate::auth::HTPASSWD_PATH));
            None
        }
    };
    if let Some(auth) = &auth {
        files.extend(auth.files());
    }
    let routes = routes::plan(
        hostname,
        &config.routes(),
        auth.as_ref().map(|a| a.authorization()).as_ref(),
    )?;
    let secret = tls::kubernetes_secret(&tls, &routes.secret.name, &routes.secret.namespace);
    let manifests = manifests(
        &contour_objects,
        &routes,
        secret,
        xds.secrets(),
        auth.as_ref().map(crate::auth::AuthPlan::objects),
    );
    let summary = PlanSummary::of(&Summarized {
        settings,
        config,
        facts,
        files: &files,
        runtime_sysctls: &runtime_sysctls,
        contour_objects: &contour_objects,
        routes: &routes,
        manifests: &manifests,
        tls: &tls,
        xds: &xds,
        auth: auth.as_ref(),
    });
    Ok(Plan {
        hostname: hostname.clone(),
        files,
        runtime_sysctls,
        manifests,
        tls,
        xds,
        auth,
        summary,
    })
}

/// The proxy in the log, credentials masked.
fn log_proxy(settings: &Settings) {
    if let Some(proxy) = &settings.proxy {
        let shown = |url: Option<&crate::settings::proxy::ProxyUrl>| {
            url.map_or("-", |u| u.redacted()).to_owned()
        };
        tracing::info!(
            http = %shown(proxy.http.as_ref()),
            https = %shown(proxy.https.as_ref()),
            "proxy planned"
        );
    }
}

/// The TLS pair's files. The key is renamed into place before the certificate:
/// after a power cut between the two, the pair on disk does not match, which the
/// TLS rules refuse, rather than an old key silently serving a new certificate.
fn tls_files(tls: &TlsPlan) -> [PlannedFile; 2] {
    [
        PlannedFile::secret(
            TLS_KEY_PATH,
            Secret::new(tls.key_pem.expose().as_bytes().to_vec()),
            0o600,
        ),
        PlannedFile::plain(TLS_CERT_PATH, tls.chain_pem.clone().into_bytes(), 0o644),
    ]
}

/// The sysctl drop-in letting envoy bind 80/443 on the host network, and the
/// value this boot needs written now (the drop-in is read at boot); with
/// host-port, envoy binds nothing below 1024 itself, so the drop-in a
/// host-network run may have installed is taken back.
fn port_sysctl(
    contour_objects: &[contour::Object],
) -> Result<(PlannedFile, Vec<RuntimeSysctl>), ContourError> {
    Ok(match contour::privileged_port_sysctl(contour_objects)? {
        Some(sysctl) => (
            PlannedFile::plain(sysctl.path, sysctl.contents.into_bytes(), sysctl.mode),
            vec![RuntimeSysctl {
                proc_path: sysctl.proc_path,
                value: sysctl.value.to_string(),
            }],
        ),
        None => (
            PlannedFile::absent(contour::sysctl::DROP_IN_PATH),
            Vec::new(),
        ),
    })
}

/// Every object in apply order: Contour (with the xDS Secrets before the
/// first workload, whose pods mount them), the routes' namespaces, the auth
/// server (when a route is protected), the TLS Secret, the routes; numbered
/// as wide as the last one, so file-name order is plan order. (The executor
/// applies by stage: the auth server's ExtensionService is applied after the
/// Secrets and waited valid before any HTTPProxy.)
fn manifests(
    contour_objects: &[contour::Object],
    routes: &routes::RoutesPlan,
    secret: Secret<ZeroizingJson>,
    xds_secrets: [Secret<ZeroizingJson>; 2],
    auth: Option<crate::auth::AuthObjects>,
) -> Vec<Manifest> {
    let mut objects: Vec<ManifestObject> = contour_objects
        .iter()
        .cloned()
        .map(ManifestObject::Plain)
        .collect();
    let first_workload = objects
        .iter()
        .position(|o| {
            matches!(
                o.expose()["kind"].as_str(),
                Some("Deployment" | "DaemonSet")
            )
        })
        .unwrap_or(objects.len());
    objects.splice(
        first_workload..first_workload,
        xds_secrets.into_iter().map(ManifestObject::XdsSecret),
    );
    // A namespace the Contour release creates itself (projectcontour, when
    // the Secret or a route lives there) is applied once, with the release:
    // the same object twice in one plan is refused by apply.
    let in_release = |ns: &contour::Object| {
        contour_objects
            .iter()
            .any(|o| o["kind"] == "Namespace" && o["metadata"]["name"] == ns["metadata"]["name"])
    };
    objects.extend(
        routes
            .namespaces
            .iter()
            .filter(|ns| !in_release(ns))
            .cloned()
            .map(ManifestObject::Plain),
    );
    if let Some(auth) = auth {
        let planned = |ns: &contour::Object| {
            in_release(ns)
                || routes
                    .namespaces
                    .iter()
                    .any(|o| o["metadata"]["name"] == ns["metadata"]["name"])
        };
        objects.extend(
            auth.plain
                .into_iter()
                .filter(|o| o["kind"] != "Namespace" || !planned(o))
                .map(ManifestObject::Plain),
        );
        objects.push(ManifestObject::AuthTlsSecret(auth.ca_secret));
        objects.push(ManifestObject::AuthTlsSecret(auth.tls_secret));
        objects.push(ManifestObject::LoginSecret(auth.login_secret));
    }
    objects.push(ManifestObject::Secret(secret));
    objects.extend(routes.objects.iter().cloned().map(ManifestObject::Plain));
    let width = objects.len().saturating_sub(1).to_string().len().max(2);
    objects
        .into_iter()
        .enumerate()
        .map(|(index, object)| Manifest {
            file_name: manifest_file_name(index, width, object.expose()),
            object,
        })
        .collect()
}

fn host_files(
    settings: &Settings,
    config: &HostConfig,
    facts: &HostFacts,
) -> Result<Vec<PlannedFile>, HostPlanError> {
    plan_host(
        &HostInputs {
            hostname: &settings.hostname,
            network: &settings.network,
            proxy: settings.proxy.as_ref(),
            existing_hosts: &facts.existing_hosts,
            interface: facts.interface.as_deref(),
        },
        config,
    )
}

/// `NN-kind-name.yaml`, e.g. `20-daemonset-envoy.yaml` (the number zero-padded
/// to `width`); names are DNS names, so only the kind needs lowercasing.
fn manifest_file_name(index: usize, width: usize, object: &Value) -> String {
    let kind = object["kind"]
        .as_str()
        .unwrap_or("object")
        .to_ascii_lowercase();
    let name = object["metadata"]["name"].as_str().unwrap_or("unnamed");
    format!("{index:0width$}-{kind}-{name}.yaml")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contour::EnvoyExposure;
    use crate::contour::sysctl::DROP_IN_PATH;

    fn sample_plan(exposure: EnvoyExposure) -> Plan {
        sample_plan_with(exposure, |_| {})
    }

    fn sample_plan_with(exposure: EnvoyExposure, adjust: impl FnOnce(&mut Config)) -> Plan {
        let env = crate::ovf::read_environment(&[Box::new(crate::ovf::transport::SampleTransport)])
            .unwrap();
        let settings = Settings::from_properties(&env.properties).unwrap();
        let mut config = Config::default();
        config.contour.manifest = Some(
            std::env::var_os("OVABOOT_CONTOUR_MANIFEST")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| {
                    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("../shared/contour/contour-v1.33.6.yaml")
                }),
        );
        config.contour.envoy_exposure = exposure;
        adjust(&mut config);
        let facts = HostFacts {
            interface: Some("eth0".into()),
            ..HostFacts::default()
        };
        build(&settings, &config, &facts, OffsetDateTime::now_utc()).unwrap()
    }

    fn sysctl_file(plan: &Plan) -> &PlannedFile {
        plan.files
            .iter()
            .find(|f| f.path == std::path::Path::new(DROP_IN_PATH))
            .expect("the sysctl drop-in is always planned, present or absent")
    }

    #[test]
    fn host_network_installs_the_port_sysctl_now_and_at_boot() {
        let plan = sample_plan(EnvoyExposure::HostNetwork);
        assert!(!sysctl_file(&plan).is_absent());
        assert_eq!(plan.runtime_sysctls.len(), 1);
        assert_eq!(plan.runtime_sysctls[0].value, "80");
    }

    #[test]
    fn host_port_takes_the_port_sysctl_back() {
        let plan = sample_plan(EnvoyExposure::HostPort);
        assert!(sysctl_file(&plan).is_absent());
        assert!(plan.runtime_sysctls.is_empty());
    }

    #[test]
    fn the_key_is_written_before_the_certificate() {
        let plan = sample_plan(EnvoyExposure::HostNetwork);
        let at = |p: &str| {
            plan.files
                .iter()
                .position(|f| f.path == std::path::Path::new(p))
        };
        assert!(at(TLS_KEY_PATH).unwrap() < at(TLS_CERT_PATH).unwrap());
        assert!(
            !format!("{plan:?}").contains("PRIVATE KEY"),
            "the key stays redacted in Debug"
        );
    }

    #[test]
    fn the_xds_secrets_come_before_the_pods_that_mount_them_and_no_certgen_job_runs() {
        let plan = sample_plan(EnvoyExposure::HostNetwork);
        let at = |kind: &str, name: &str| {
            plan.manifests.iter().position(|m| {
                let o = m.object.expose();
                o["kind"] == kind && o["metadata"]["name"] == name
            })
        };
        let contourcert = at("Secret", "contourcert").unwrap();
        let envoycert = at("Secret", "envoycert").unwrap();
        assert!(contourcert < at("Deployment", "contour").unwrap());
        assert!(envoycert < at("DaemonSet", "envoy").unwrap());
        assert!(at("Namespace", "projectcontour").unwrap() < contourcert);
        assert!(
            plan.manifests
                .iter()
                .all(|m| m.object.expose()["kind"] != "Job")
        );
        assert!(plan.manifests[contourcert].object.is_secret());
        assert!(!plan.manifests[contourcert].object.is_tls_secret());
        assert!(plan.summary.manifests[contourcert].ends_with("-secret-contourcert.yaml"));
        assert!(!format!("{:?}", plan.manifests).contains("PRIVATE KEY"));
    }

    #[test]
    fn a_secret_in_the_release_namespace_does_not_plan_that_namespace_twice() {
        let plan = sample_plan_with(EnvoyExposure::HostNetwork, |config| {
            config.tls_secret.namespace = Some("projectcontour".to_owned());
        });
        let mut seen = std::collections::BTreeSet::new();
        for manifest in &plan.manifests {
            let object = manifest.object.expose();
            let id = format!(
                "{} {}/{}",
                object["kind"],
                object["metadata"]["namespace"].as_str().unwrap_or(""),
                object["metadata"]["name"]
            );
            assert!(seen.insert(id.clone()), "{id} planned twice");
        }
        assert!(
            seen.contains("\"Namespace\" /\"projectcontour\""),
            "{seen:?}"
        );
    }
}
