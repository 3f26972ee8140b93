//! Day 2 for the xDS certificates: every `reconfigure` that reaches the
//! cluster (each boot's `ovaboot-reconfigure-cluster.service` and the daily
//! `ovaboot-renew.timer`) plans them again and, when a pair or the CA is
//! renewed (or the Secrets do not hold what the host keeps), writes the files
//! and applies `contourcert` and `envoycert` alone.
//!
//! It depends on nothing the admin types: not the OVF environment, not the
//! properties, not whether a property change waits for the next boot. So it
//! runs first, and a pending change, a property refused or an unreadable
//! environment never stops a pair that is about to expire from being renewed.
//!
//! No restart follows: Contour reads its serving pair and CA from the mounted
//! files at every TLS handshake (contour v1.33.6 `cmd/contour/servecontext.go`
//! `tlsconfig`), and envoy watches the SDS files its bootstrap points at
//! (`internal/envoy/v3/bootstrap.go`, `--resources-dir`); the kubelet updates a
//! Secret volume in place within its sync period. `tests/controlplane_xds.rs`
//! proves it with the real `contour serve` and `contour cli`.

use std::fmt;
use std::path::Path;

use serde_json::Value;
use time::OffsetDateTime;

use super::record::{self, XdsRecord};
use super::{Kept, XdsError, XdsPlan};
use crate::apply::files::{FilesError, write_files};
use crate::cluster::ApplySummary;
use crate::commands::apply::ClusterRunError;
use crate::config::Config;
use crate::failure::{Failure, Transience};

/// What a renewal run did.
#[derive(Debug)]
pub enum Renewed {
    /// The Secrets hold the pairs kept on the host, and those may be kept.
    Unchanged,
    /// The pairs were written and both Secrets applied.
    Applied {
        minted: Vec<super::Minted>,
        summary: ApplySummary,
    },
}

impl fmt::Display for Renewed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Renewed::Unchanged => f.write_str("xDS certificates: unchanged"),
            Renewed::Applied { minted, summary } => {
                if minted.is_empty() {
                    write!(
                        f,
                        "xDS certificates: the Secrets given the pairs kept on the host ({summary})"
                    )
                } else {
                    let what: Vec<String> = minted
                        .iter()
                        .map(|m| format!("{} ({})", m.which.as_str(), m.why))
                        .collect();
                    write!(
                        f,
                        "xDS certificates: minted {}; Secrets applied ({summary})",
                        what.join("; ")
                    )
                }
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenewError {
    #[error(transparent)]
    Mint(#[from] XdsError),
    #[error(transparent)]
    Files(#[from] FilesError),
    #[error(transparent)]
    Cluster(#[from] ClusterRunError),
}

impl Transience for RenewError {
    fn is_transient(&self) -> bool {
        match self {
            RenewError::Cluster(e) => e.is_transient(),
            _ => false,
        }
    }
}

/// The renewal, with `apply` putting the two Secrets into the cluster.
pub fn run_with(
    root: &Path,
    config: &Config,
    now: OffsetDateTime,
    apply: impl FnOnce(&[Value]) -> Result<ApplySummary, ClusterRunError>,
) -> Result<Renewed, RenewError> {
    match due(root, config, now)? {
        None => Ok(Renewed::Unchanged),
        Some(plan) => put_in_place(root, plan, now, apply),
    }
}

/// `reconfigure`'s first step (not in a dry run, and only where the cluster
/// phase runs): [`run_with`] against the cluster `config.kube` names,
/// recorded in the state file as a reconfigure when it applies anything.
pub fn run_tracked(
    root: &Path,
    config: &Config,
    retry: crate::state::Retry,
) -> Result<Renewed, Failure> {
    let now = OffsetDateTime::now_utc();
    let Some(plan) = due(root, config, now)? else {
        return Ok(Renewed::Unchanged);
    };
    crate::state::track_retried(root, crate::state::Phase::Reconfigure, retry, |_| {
        Ok(put_in_place(root, plan, now, |objects| {
            crate::commands::apply::apply_to_cluster(objects, &config.kube)
        })?)
    })
}

/// The plan, when anything is to be done: something minted, or the Secrets
/// not recorded as holding what the host keeps.
fn due(root: &Path, config: &Config, now: OffsetDateTime) -> Result<Option<XdsPlan>, RenewError> {
    let plan = super::plan(&read_kept(root), &config.xds, now)?;
    // A record that cannot be read only means the Secrets are applied again.
    let recorded = record::load(root).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the xDS record is unreadable; applying the Secrets again");
        None
    });
    let applied = recorded.as_ref().map(|r: &XdsRecord| &r.applied) == Some(&plan.fingerprints());
    Ok((!plan.minted.is_empty() || !applied).then_some(plan))
}

/// The files, then the Secrets, then the record: a run cut short before the
/// record finds the files kept at its next start and applies them then.
fn put_in_place(
    root: &Path,
    plan: XdsPlan,
    now: OffsetDateTime,
    apply: impl FnOnce(&[Value]) -> Result<ApplySummary, ClusterRunError>,
) -> Result<Renewed, RenewError> {
    write_files(root, &plan.files())?;
    let secrets = plan.secrets();
    let objects: Vec<Value> = secrets.iter().map(|s| s.expose().value().clone()).collect();
    let summary = apply(&objects);
    // The copies hold the keys: zero them whatever happened.
    for object in objects {
        zeroize::Zeroize::zeroize(&mut crate::tls::ZeroizingJson::new(object));
    }
    let summary = summary?;
    record::store(root, &plan, now)?;
    Ok(Renewed::Applied {
        minted: plan.minted,
        summary,
    })
}

/// What an earlier run kept on the host under `root`. What cannot be read
/// (missing, not this user's to read, not text) counts as not kept: the plan
/// then mints it, and a damaged file never stops a run.
pub fn read_kept(root: &Path) -> Kept {
    let pair = |cert, key| super::read_kept_pair(root, cert, key);
    Kept {
        ca: pair(super::CA_CERT_PATH, super::CA_KEY_PATH),
        contour: pair(super::CONTOUR_CERT_PATH, super::CONTOUR_KEY_PATH),
        envoy: pair(super::ENVOY_CERT_PATH, super::ENVOY_KEY_PATH),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::ApplySummary;

    fn summary() -> ApplySummary {
        ApplySummary {
            objects: Vec::new(),
            created: 2,
            changed: 0,
            unchanged: 0,
            skipped: 0,
            elapsed: std::time::Duration::ZERO,
        }
    }

    #[test]
    fn renewal_applies_once_keeps_after_and_survives_a_cut_and_a_damaged_record() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        let config = Config::default();
        let now = OffsetDateTime::now_utc();

        // Nothing kept: minted, written, both Secrets applied, recorded.
        let mut applied = Vec::new();
        let first = run_with(root, &config, now, |objects| {
            applied = objects.to_vec();
            Ok(summary())
        })
        .unwrap();
        assert!(matches!(first, Renewed::Applied { ref minted, .. } if minted.len() == 3));
        let names: Vec<&str> = applied
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["contourcert", "envoycert"]);
        let record = record::load(root).unwrap().unwrap();
        assert_eq!(record.minted.len(), 3);

        // Again: nothing to do, the cluster not asked.
        let again = run_with(root, &config, now, |_| panic!("nothing to apply")).unwrap();
        assert!(matches!(again, Renewed::Unchanged));

        // A year and a day on, the cluster unreachable: the pairs are written,
        // the record is not; the next run keeps the pairs and applies them.
        let later = now + time::Duration::days(366);
        let unreachable = run_with(root, &config, later, |_| {
            Err(ClusterRunError::Runtime(std::io::Error::other(
                "no cluster",
            )))
        })
        .unwrap_err();
        assert!(unreachable.is_transient());
        let written = read_kept(root).contour.unwrap().cert_pem;
        assert_eq!(record::load(root).unwrap().unwrap(), record, "not recorded");
        let retried = run_with(root, &config, later, |_| Ok(summary())).unwrap();
        let Renewed::Applied { minted, .. } = retried else {
            panic!("not applied")
        };
        assert!(minted.is_empty(), "the written pairs are kept: {minted:?}");
        assert_eq!(read_kept(root).contour.unwrap().cert_pem, written);

        // A damaged record: the Secrets are applied again, nothing minted.
        std::fs::write(crate::root::under(root, record::RECORD_PATH), "{").unwrap();
        let repaired = run_with(root, &config, later, |_| Ok(summary())).unwrap();
        assert!(matches!(repaired, Renewed::Applied { ref minted, .. } if minted.is_empty()));
        assert!(matches!(
            run_with(root, &config, later, |_| panic!("nothing to apply")).unwrap(),
            Renewed::Unchanged
        ));
    }
}
