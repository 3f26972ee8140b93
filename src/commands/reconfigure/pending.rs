//! A property changed on the running VM (a guestinfo value set while it
//! runs) whose host files only the next boot's host part writes: networkd,
//! timesyncd and k3s read them when they start, so rewriting them under the
//! running services would leave the services on the old settings while the
//! disk says otherwise.
//!
//! The cluster part alone (the daily renewal timer) therefore never records
//! such a change as applied. It does not let the change hold back what is
//! due, though: a self-signed certificate near expiry (or not valid yet) is
//! renewed with the names the appliance answers at now, its Secret given the
//! new pair, and the digest records the new pair beside the properties as
//! last applied; the change stays pending, reported on the console, in the
//! state file and in the exit status ([`crate::failure::EXIT_PENDING_REBOOT`]).

use std::fmt;
use std::path::Path;

use super::{Comparison, ReconfigureError, Renewal, is_tls_file, secret_object};
use crate::apply::files::preview;
use crate::config::Config;
use crate::facts::read_host_facts;
use crate::plan::PlannedFile;
use crate::plan::appliance::{ManifestObject, Plan, TLS_CERT_PATH, TLS_KEY_PATH};
use crate::secret::Secret;
use crate::state::digest::{AppliedCertificate, AppliedDigest};

/// Which properties changed and which of their host files are not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingChange {
    pub changed: String,
    pub files: String,
}

impl fmt::Display for PendingChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} changed since the host part last ran ({} not written): reboot to apply the change",
            self.changed, self.files
        )
    }
}

impl From<PendingChange> for ReconfigureError {
    fn from(pending: PendingChange) -> ReconfigureError {
        ReconfigureError::HostPartPending {
            changed: pending.changed,
            files: pending.files,
        }
    }
}

/// The change `comparison` found whose host files `plan` has and the root
/// does not (the cluster part alone runs): `None` when they are in place
/// (at boot, the host part has just written them).
pub(super) fn pending_host_part(
    root: &Path,
    comparison: &Comparison,
    plan: &Plan,
) -> Result<Option<PendingChange>, ReconfigureError> {
    let host_files: Vec<PlannedFile> = plan
        .files
        .iter()
        // The cluster units run with ProtectHome=tmpfs: root's authorized_keys
        // is out of their sight and would always look unwritten.
        .filter(|f| !is_tls_file(f) && !f.path.ends_with(".ssh/authorized_keys"))
        .cloned()
        .collect();
    let unwritten = preview(root, &host_files)?;
    if unwritten.is_empty() {
        return Ok(None);
    }
    Ok(Some(PendingChange {
        changed: match &comparison.changed {
            Some(keys) => keys.join(", "),
            None => "the properties (no digest recorded)".to_owned(),
        },
        files: unwritten
            .iter()
            .map(|(path, _)| path.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    }))
}

/// Turns `plan` into the renewal alone of the installed self-signed
/// certificate, with its names (its TLS files and Secret; the other host
/// files are not written by the cluster part anyway). `false` when there is
/// nothing due to renew, or the installed pair is not ovaboot's own.
pub(super) fn renew_only(
    plan: &mut Plan,
    renewal: Option<&Renewal>,
    config: &Config,
    root: &Path,
    now: time::OffsetDateTime,
) -> Result<bool, ReconfigureError> {
    // Only a renewal the dates call for: an unrecorded one (an older digest)
    // is a check, not a need.
    if !matches!(
        renewal,
        Some(Renewal::Due { .. } | Renewal::NotYetValid { .. })
    ) {
        return Ok(false);
    }
    let facts = read_host_facts(root)?;
    let Some(installed) = &facts.installed_tls else {
        return Ok(false);
    };
    let renewed = crate::tls::renewal(installed, &plan.hostname, &config.tls, now)
        .map_err(crate::plan::appliance::PlanError::from)?;
    let Some(tls) = renewed else {
        return Ok(false);
    };
    for file in plan.files.iter_mut() {
        if file.path == Path::new(TLS_KEY_PATH) {
            *file = PlannedFile::secret(
                TLS_KEY_PATH,
                Secret::new(tls.key_pem.expose().as_bytes().to_vec()),
                0o600,
            );
        } else if file.path == Path::new(TLS_CERT_PATH) {
            *file = PlannedFile::plain(TLS_CERT_PATH, tls.chain_pem.clone().into_bytes(), 0o644);
        }
    }
    let (name, namespace) = {
        let meta = &secret_object(plan).expect("the plan has its TLS Secret")["metadata"];
        (
            meta["name"].as_str().unwrap_or_default().to_owned(),
            meta["namespace"].as_str().unwrap_or_default().to_owned(),
        )
    };
    if let Some(manifest) = plan.manifests.iter_mut().find(|m| m.object.is_secret()) {
        manifest.object =
            ManifestObject::Secret(crate::tls::kubernetes_secret(&tls, &name, &namespace));
    }
    plan.tls = tls;
    Ok(true)
}

/// Records the renewed pair of `plan` beside the properties as last applied:
/// the pending change stays a change for the next boot.
pub(super) fn store_renewal(
    root: &Path,
    comparison: &Comparison,
    plan: &Plan,
    now: time::OffsetDateTime,
) -> Result<(), ReconfigureError> {
    let (Some(key), Some(last)) = (&comparison.key, &comparison.digest) else {
        unreachable!("a renewal is due only against a recorded digest");
    };
    let mut digest = AppliedDigest::new(
        last.properties.clone(),
        key.tls_pair(&plan.tls.chain_pem, &plan.tls.key_pem),
        now,
    );
    digest.certificate = Some(AppliedCertificate::of(&plan.tls));
    digest.store(root)?;
    Ok(())
}
