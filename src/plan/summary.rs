//! What a plan is, in brief: `plan.json` for `render`, the lines `render`
//! prints, and the state the console shows. Built from the plan's parts
//! (public data only: URLs with the password masked, fingerprints, paths,
//! modes; never a secret).

use serde::Serialize;

use super::PlannedFile;
use super::appliance::{HostFacts, Manifest, RuntimeSysctl};
use crate::config::Config;
use crate::contour;
use crate::routes;
use crate::settings::{Hostname, Settings};
use crate::tls::{self, TlsPlan};

/// The summary written to `plan.json` (and, later, the console banner).
#[derive(Debug, Serialize)]
pub struct PlanSummary {
    pub hostname: String,
    pub network: NetworkSummary,
    /// `null` without a proxy; URLs with only the password masked.
    pub proxy: Option<ProxySummary>,
    pub certificate: CertificateSummary,
    /// What the credentials step sets (never the password itself).
    pub credentials: CredentialsSummary,
    /// The host files written, each with its mode (every one is under
    /// `render`'s `rootfs/`).
    pub host_files: Vec<FileSummary>,
    /// Host files ovaboot owns that this plan does not want (e.g. the static
    /// network file with DHCP): applying removes them if present; `render`
    /// writes nothing for them.
    pub absent_host_files: Vec<String>,
    pub contour: ContourSummary,
    /// The xDS CA and pairs (public data: fingerprints, dates, why minted).
    pub xds: crate::xds::XdsSummary,
    /// The auth server; `null` when no route is protected.
    pub auth: Option<crate::auth::AuthSummary>,
    pub routes: Vec<RouteSummary>,
    pub manifests: Vec<String>,
    /// What applying the plan does beyond writing what is listed here.
    pub apply_steps: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct NetworkSummary {
    /// `"static"`, or `"dhcp"` (the image's networking is left alone).
    pub mode: &'static str,
    pub interface: Option<String>,
    pub address: Option<String>,
    pub gateway: Option<String>,
    pub dns: Vec<String>,
    pub domains: Vec<String>,
    pub ntp: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ProxySummary {
    /// e.g. `http://svc-veba:***@proxy.example.com:3128`.
    pub http: Option<String>,
    pub https: Option<String>,
    /// The admin's `guestinfo.no_proxy` entries (the defaults are added in the file).
    pub no_proxy: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct CertificateSummary {
    /// `"self-signed"` or `"user"`.
    pub source: tls::CertSource,
    /// The self-signed pair already installed was kept (a rerun).
    pub reused: bool,
    pub sha256: String,
    pub sans: Vec<String>,
    pub not_after: String,
    pub chain_length: usize,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct CredentialsSummary {
    /// `guestinfo.root_password` was given: root's hash is in `/etc/shadow`
    /// (false: the image's password is left alone).
    pub root_password: bool,
    /// How many keys go to root's `authorized_keys` (0: left alone).
    pub ssh_authorized_keys: usize,
    /// The user name of the endpoint login (`guestinfo.endpoint_username`).
    pub endpoint_username: String,
    /// `guestinfo.endpoint_password` was given (never the password or its hash).
    pub endpoint_password_set: bool,
}

#[derive(Debug, Serialize)]
pub struct FileSummary {
    pub path: String,
    pub mode: String,
    pub secret: bool,
}

#[derive(Debug, Serialize)]
pub struct ContourSummary {
    pub version: String,
    pub envoy_exposure: contour::EnvoyExposure,
    pub images: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct RouteSummary {
    pub url: String,
    pub service: String,
    /// `required` (the endpoint login) or `none`.
    pub auth: routes::RouteAuth,
}

/// The parts of a plan [`PlanSummary::of`] summarizes.
pub(super) struct Summarized<'a> {
    pub settings: &'a Settings,
    pub config: &'a Config,
    pub facts: &'a HostFacts,
    pub files: &'a [PlannedFile],
    pub runtime_sysctls: &'a [RuntimeSysctl],
    pub contour_objects: &'a [contour::Object],
    pub routes: &'a routes::RoutesPlan,
    pub manifests: &'a [Manifest],
    pub tls: &'a TlsPlan,
    pub xds: &'a crate::xds::XdsPlan,
    pub auth: Option<&'a crate::auth::AuthPlan>,
}

impl PlanSummary {
    pub(super) fn of(parts: &Summarized<'_>) -> PlanSummary {
        let Summarized {
            settings,
            config,
            facts,
            files,
            runtime_sysctls,
            contour_objects,
            routes,
            manifests,
            tls,
            xds,
            auth,
        } = *parts;
        let hostname = &settings.hostname;
        let (host_files, absent_host_files) = file_summaries(files);
        PlanSummary {
            hostname: hostname.fqdn().to_owned(),
            network: network_summary(settings, facts),
            proxy: settings.proxy.as_ref().map(|p| ProxySummary {
                http: p.http.as_ref().map(|u| u.redacted().to_owned()),
                https: p.https.as_ref().map(|u| u.redacted().to_owned()),
                no_proxy: p.no_proxy.clone(),
            }),
            credentials: CredentialsSummary {
                root_password: settings.credentials.root_password.is_some(),
                ssh_authorized_keys: settings.credentials.ssh_authorized_keys.len(),
                endpoint_username: settings.endpoint.username.clone(),
                endpoint_password_set: settings.endpoint.password.is_some(),
            },
            certificate: CertificateSummary::of(tls),
            host_files,
            absent_host_files,
            contour: ContourSummary {
                version: config.contour.version.clone(),
                envoy_exposure: config.contour.envoy_exposure,
                images: contour::images(contour_objects),
            },
            xds: crate::xds::XdsSummary::of(xds),
            auth: auth.map(crate::auth::AuthSummary::of),
            routes: route_summaries(hostname, routes),
            manifests: manifests.iter().map(|m| m.file_name.clone()).collect(),
            apply_steps: apply_steps(runtime_sysctls, auth.is_some()),
        }
    }
}

impl CertificateSummary {
    fn of(tls: &TlsPlan) -> Self {
        CertificateSummary {
            source: tls.source,
            reused: tls.reused,
            sha256: tls.leaf_sha256.clone(),
            sans: tls.sans.clone(),
            not_after: tls.not_after.clone(),
            chain_length: tls.chain_len,
            warnings: tls.warnings.clone(),
        }
    }
}

/// The files to write (path, mode, whether secret) and the paths to remove.
fn file_summaries(files: &[PlannedFile]) -> (Vec<FileSummary>, Vec<String>) {
    let (absent, present): (Vec<&PlannedFile>, Vec<&PlannedFile>) =
        files.iter().partition(|f| f.is_absent());
    (
        present
            .into_iter()
            .map(|f| FileSummary {
                path: f.path.display().to_string(),
                mode: format!("{:04o}", f.mode),
                secret: f.contents.is_secret(),
            })
            .collect(),
        absent
            .into_iter()
            .map(|f| f.path.display().to_string())
            .collect(),
    )
}

fn route_summaries(hostname: &Hostname, routes: &routes::RoutesPlan) -> Vec<RouteSummary> {
    routes
        .routes
        .iter()
        .map(|r| RouteSummary {
            url: format!("https://{}{}", hostname.fqdn(), r.prefix),
            service: format!("{}/{}:{}", r.namespace, r.service, r.port),
            auth: r.auth,
        })
        .collect()
}

/// What apply does with the plan, in order, for `plan.json`.
fn apply_steps(runtime_sysctls: &[RuntimeSysctl], auth: bool) -> Vec<String> {
    let mut steps = vec![
        "set the kernel host name".to_owned(),
        "write the host files (atomically, unchanged ones untouched) and remove the absent ones that exist".to_owned(),
    ];
    steps.extend(runtime_sysctls.iter().map(|s| {
        format!(
            "write {} to {} (before envoy starts)",
            s.value,
            s.proc_path.display()
        )
    }));
    steps.push(match auth {
        true => "server-side apply the manifests by stage (Namespaces, CRDs, Secrets, the rest, the auth server's ExtensionService, waited valid before any HTTPProxy names it, then the HTTPProxies), and wait for the contour and auth server Deployments, the envoy DaemonSet and every HTTPProxy to be ready",
        false => "server-side apply the manifests by stage (Namespaces, CRDs, Secrets, the rest, the HTTPProxies), and wait for the contour Deployment, the envoy DaemonSet and every HTTPProxy to be ready",
    }.to_owned());
    steps
}

fn network_summary(settings: &Settings, facts: &HostFacts) -> NetworkSummary {
    let ntp = settings.network.ntp.iter().map(|s| s.to_string()).collect();
    match &settings.network.static_network {
        Some(net) => NetworkSummary {
            mode: "static",
            interface: facts.interface.clone(),
            address: Some(format!("{}/{}", net.address, net.prefix)),
            gateway: net.gateway.map(|g| g.to_string()),
            dns: net.dns.iter().map(|d| d.to_string()).collect(),
            domains: net.domains.clone(),
            ntp,
        },
        None => NetworkSummary {
            mode: "dhcp",
            interface: None,
            address: None,
            gateway: None,
            dns: vec![],
            domains: vec![],
            ntp,
        },
    }
}
