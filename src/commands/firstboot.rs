//! `ovaboot firstboot`: make the system match the plan, then record that it
//! did, so later boots do nothing.
//!
//! Two phases, because they belong at two points of the boot: the **host**
//! phase (files, host name, kernel settings) must run before networkd and k3s
//! start (k3s names its node after the host name it finds), the **cluster**
//! phase after k3s. Each phase plans afresh from the OVF environment and is
//! idempotent: unchanged files are not touched, the installed self-signed
//! certificate is kept, server-side apply of the same objects is a no-op. So a
//! power cut anywhere is repaired by running again. Only when the cluster phase
//! has finished is the completion record written.

use std::path::{Path, PathBuf};

mod phases;

pub use phases::{Progress, Request, run_phases};

use crate::apply::files::{FilesError, WriteReport, write_files};
use crate::apply::host::{HostApplyError, set_kernel_hostname};
use crate::apply::units::write_files_flagging_reload;
use crate::cluster::{ApplySummary, KubeConfig};
use crate::commands::apply::{ClusterRunError, apply_to_cluster};
use crate::failure::Transience;
use crate::plan::PlannedFile;
use crate::plan::appliance::{Plan, TLS_CERT_PATH, TLS_KEY_PATH};
use crate::state::completion::{self, Completion, CompletionError};

/// Which part of a run: of first boot (`firstboot --phase`), or of day 2
/// (`reconfigure --phase`: [`crate::commands::reconfigure::Phase`] is this type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The host part, before networkd and k3s: at first boot the host files, the
    /// kernel host name and settings; at day 2 the changed properties' host files.
    Host,
    /// The cluster part, after k3s: at first boot Contour, the TLS Secret and the
    /// routes, then the completion record; at day 2 the xDS certificates renewed
    /// when due, the TLS Secret if its pair changed, then the properties' digest.
    Cluster,
    /// Both, in order.
    All,
}

impl Phase {
    pub fn runs_host(self) -> bool {
        matches!(self, Phase::Host | Phase::All)
    }

    pub fn runs_cluster(self) -> bool {
        matches!(self, Phase::Cluster | Phase::All)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FirstbootError {
    #[error(transparent)]
    Files(#[from] FilesError),
    #[error(transparent)]
    Host(#[from] HostApplyError),
    #[error("cannot write {value} to {}: {source}", path.display())]
    Sysctl {
        path: PathBuf,
        value: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Completion(#[from] CompletionError),
    #[error(transparent)]
    Cluster(#[from] ClusterRunError),
}

impl Transience for FirstbootError {
    /// Only the cluster not being there or not ready yet.
    fn is_transient(&self) -> bool {
        match self {
            FirstbootError::Cluster(e) => e.is_transient(),
            _ => false,
        }
    }
}

/// What one run did.
#[derive(Debug, Default)]
pub struct Report {
    /// The host phase's files.
    pub host: Option<WriteReport>,
    /// The cluster phase's objects.
    pub cluster: Option<ApplySummary>,
    /// Written when the cluster phase finished.
    pub completion: Option<Completion>,
}

/// Runs `phase` of `plan` on the system under `root`.
pub fn run(
    plan: &Plan,
    phase: Phase,
    root: &Path,
    kube: &KubeConfig,
) -> Result<Report, FirstbootError> {
    let mut report = Report::default();
    if phase.runs_host() {
        report.host = Some(apply_host(plan, root)?);
    }
    if phase.runs_cluster() {
        // The Secret must hold the pair on disk. The plan reuses the host
        // phase's pair, but if it could not (the clock stepped back, a
        // guestinfo override changed in between), the new pair is written
        // here first, so disk and cluster never disagree.
        let tls_files: Vec<PlannedFile> = plan
            .files
            .iter()
            .filter(|f| {
                f.path == Path::new(TLS_KEY_PATH)
                    || f.path == Path::new(TLS_CERT_PATH)
                    || crate::xds::is_xds_file(&f.path)
                    || crate::auth::is_auth_file(&f.path)
            })
            .cloned()
            .collect();
        write_files(root, &tls_files)?;
        let objects: Vec<serde_json::Value> = plan
            .manifests
            .iter()
            .map(|m| m.object.expose().clone())
            .collect();
        report.cluster = Some(apply_to_cluster(&objects, kube)?);
        // The Secrets hold the xDS pairs on disk: later runs renew from here.
        crate::xds::record::store(root, &plan.xds, time::OffsetDateTime::now_utc())?;
        report.completion = Some(record_completion(
            plan,
            root,
            time::OffsetDateTime::now_utc(),
        )?);
    }
    Ok(report)
}

/// The host phase: every host file under `root` (and the flag asking systemd
/// to reload when a unit drop-in changed, [`crate::apply::units`]); and when `root` is the
/// running system (`/`), the kernel host name and the kernel settings the
/// drop-ins only set at the next boot.
pub fn apply_host(plan: &Plan, root: &Path) -> Result<WriteReport, FirstbootError> {
    let (report, _) = write_files_flagging_reload(root, &plan.files)?;
    tracing::info!(
        written = report.written.len(),
        unchanged = report.unchanged.len(),
        "host files in place"
    );
    // What the admin needs from the VM console to connect and trust the
    // appliance (the fingerprint is public; the key never shows).
    tracing::info!(
        "appliance URL https://{}/ ; TLS certificate SHA-256 fingerprint {}",
        plan.hostname.fqdn(),
        plan.tls.leaf_sha256
    );
    if root == Path::new("/") {
        set_kernel_hostname(&plan.hostname)?;
        for sysctl in &plan.runtime_sysctls {
            std::fs::write(&sysctl.proc_path, &sysctl.value).map_err(|source| {
                FirstbootError::Sysctl {
                    path: sysctl.proc_path.clone(),
                    value: sysctl.value.clone(),
                    source,
                }
            })?;
            tracing::info!(path = %sysctl.proc_path.display(), value = %sysctl.value, "kernel setting applied");
        }
    } else {
        tracing::info!(root = %root.display(), "not the running system: kernel host name and settings left alone");
    }
    Ok(report)
}

/// Writes the completion record (atomically) under `root`.
pub fn record_completion(
    plan: &Plan,
    root: &Path,
    now: time::OffsetDateTime,
) -> Result<Completion, FirstbootError> {
    let made = Completion::new(plan.hostname.fqdn(), &plan.tls.leaf_sha256, now);
    completion::store(root, &made)?;
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::plan::appliance::{HostFacts, build};

    fn sample_plan() -> Plan {
        let env = crate::ovf::read_environment(&[Box::new(crate::ovf::transport::SampleTransport)])
            .unwrap();
        let settings = crate::settings::Settings::from_properties(&env.properties).unwrap();
        let mut config = Config::default();
        let manifest = std::env::var_os("OVABOOT_CONTOUR_MANIFEST")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/contour/contour-v1.33.6.yaml")
            });
        config.contour.manifest = Some(manifest);
        let facts = HostFacts {
            interface: Some("eth0".into()),
            ..HostFacts::default()
        };
        build(&settings, &config, &facts, time::OffsetDateTime::now_utc()).unwrap()
    }

    #[test]
    fn the_host_phase_off_the_running_system_writes_files_only() {
        let root = tempfile::tempdir().unwrap();
        let plan = sample_plan();
        let before = nix::unistd::gethostname().unwrap();
        let report = apply_host(&plan, root.path()).unwrap();
        assert_eq!(
            report.written.len(),
            plan.files.iter().filter(|f| !f.is_absent()).count()
        );
        assert_eq!(
            nix::unistd::gethostname().unwrap(),
            before,
            "kernel host name untouched"
        );
        let again = apply_host(&plan, root.path()).unwrap();
        assert!(again.written.is_empty());
    }
}
