//! `ovaboot reconfigure`: day 2. After first boot, the admin changes a vApp
//! property and reboots; this applies what changed, with the same plan and
//! apply code as `firstboot`.
//!
//! A run whose cluster part runs (not a dry run) first renews the xDS
//! certificates that are due and applies their two Secrets when they changed
//! ([`crate::xds::renew`]), whatever the properties. Then it reads the OVF
//! environment and compares the properties' digest ([`crate::state::digest`])
//! with the one recorded. Unchanged: nothing is planned or written, unless the
//! self-signed certificate is due for renewal ([`renewal`]), which plans as a
//! change would. Changed: the whole plan is made again, the properties that
//! cannot change after first boot are checked (a refusal applies nothing at
//! all), the host files are written (unchanged ones untouched), and when the
//! TLS pair is not the one the Secret was last given, the `kubernetes.io/tls`
//! Secret alone is applied (Contour and the routes do not depend on
//! properties). Only when the cluster part is done is the new digest
//! recorded, so a run cut short (k3s not up) is run again at the next boot or
//! retry.
//!
//! Two phases, like first boot's: **host** before networkd, timesyncd and k3s
//! (which read the files at their start), **cluster** once k3s's API answers.
//! The cluster phase alone writes no host file but the TLS pair and the xDS
//! CA and pairs, so it may run while the services are up (the daily renewal
//! timer): a property change whose host files the host phase has not written
//! is left to the next boot.

mod invocation;
mod pending;
mod renewal;
mod report;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::apply::files::{Change, FilesError, preview, write_files};
use crate::cluster::ApplySummary;
use crate::commands::apply::ClusterRunError;
use crate::config::Config;
use crate::facts::{FactsError, read_host_facts};
use crate::failure::{Failure, Transience};
use crate::ovf::Properties;
use crate::plan::PlannedFile;
use crate::plan::appliance::{Plan, PlanError, TLS_CERT_PATH, TLS_KEY_PATH, build};
use crate::settings::{Settings, SettingsError, keys};
use crate::state;
use crate::state::completion::{self, Completion, CompletionError};
use crate::state::digest::{AppliedCertificate, AppliedDigest, DigestError, DigestKey, changed};

pub use crate::commands::firstboot::Phase;
pub use invocation::{Invocation, run_invocation};
pub use pending::PendingChange;
pub use renewal::Renewal;
pub use report::{Applied, Outcome, Preview};

/// Why a reconfigure did not go through. [`ReconfigureError::property`] names
/// the OVF property at fault when there is one (for the state file).
#[derive(Debug, thiserror::Error)]
pub enum ReconfigureError {
    #[error(
        "first boot has not completed on this system ({} is missing): there is nothing to reconfigure; run `ovaboot firstboot`",
        path.display()
    )]
    NotCompleted { path: PathBuf },
    /// A property that cannot change after first boot did: nothing was applied.
    #[error(
        "{key}: cannot change from {old} to {new} after first boot: {why}; nothing was applied"
    )]
    Refused {
        key: &'static str,
        old: String,
        new: String,
        why: &'static str,
    },
    /// The cluster phase alone found properties changed whose host files are
    /// not written: only the host phase, at boot, writes them.
    #[error(
        "{changed} changed since the host part last ran ({files} not written): host files are written at boot, before the services that read them start; reboot to apply the change; nothing was applied"
    )]
    HostPartPending { changed: String, files: String },
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Facts(#[from] FactsError),
    #[error(transparent)]
    Files(#[from] FilesError),
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error(transparent)]
    Completion(#[from] CompletionError),
    #[error(transparent)]
    Cluster(#[from] ClusterRunError),
}

impl Transience for ReconfigureError {
    /// Only the cluster not being there or not ready yet is worth a retry.
    fn is_transient(&self) -> bool {
        match self {
            ReconfigureError::Cluster(e) => e.is_transient(),
            _ => false,
        }
    }
}

impl ReconfigureError {
    /// The OVF property at fault, if the error is about one.
    pub fn property(&self) -> Option<&str> {
        match self {
            ReconfigureError::Refused { key, .. } => Some(key),
            ReconfigureError::Settings(e) => Some(e.key()),
            _ => None,
        }
    }
}

/// Why the host name cannot change (the refusal's last part).
pub const HOSTNAME_REFUSAL: &str = "k3s registered its node under the first name, and a node cannot be renamed (k3s would register a second node and the first one's workloads would stay on a node that never comes back); set the property back, or deploy a new appliance";

/// The properties against what was last applied.
pub struct Comparison {
    pub completion: Completion,
    key: Option<DigestKey>,
    digest: Option<AppliedDigest>,
    /// The properties that changed; `None` when there is no usable digest (an
    /// appliance first booted before digests were recorded): every property
    /// then counts as changed.
    pub changed: Option<Vec<String>>,
    /// Why the certificate is planned again though no property changed.
    pub renewal: Option<Renewal>,
}

impl Comparison {
    /// Nothing to do: the same properties, and no certificate due for renewal.
    pub fn unchanged(&self) -> bool {
        self.properties_unchanged() && self.renewal.is_none()
    }

    /// The properties are those last applied (known from a record).
    pub fn properties_unchanged(&self) -> bool {
        self.changed.as_ref().is_some_and(Vec::is_empty)
    }

    /// When the digest was last recorded, if it was.
    pub fn digest_stored_at(&self) -> Option<&str> {
        self.digest.as_ref().map(|r| r.recorded_at.as_str())
    }
}

/// Reads the records under `root` and compares `properties` with them, and
/// the recorded certificate's expiry with now. Writes nothing.
pub fn compare(root: &Path, properties: &Properties) -> Result<Comparison, ReconfigureError> {
    let completion = require_completion(root)?;
    let key = DigestKey::load(root)?;
    let digest = match &key {
        Some(_) => AppliedDigest::load(root)?,
        None => None,
    };
    let changed = match (&key, &digest) {
        (Some(key), Some(digest)) => Some(changed(&digest.properties, &key.properties(properties))),
        _ => None,
    };
    // Without a digest everything is applied again anyway.
    let renewal = match (&changed, &digest) {
        (Some(_), Some(digest)) => renewal::due(digest, time::OffsetDateTime::now_utc()),
        _ => None,
    };
    Ok(Comparison {
        completion,
        key,
        digest,
        changed,
        renewal,
    })
}

/// The completion record under `root`: reconfigure only follows a first boot
/// that completed (checked before the OVF environment is even read).
pub fn require_completion(root: &Path) -> Result<Completion, ReconfigureError> {
    completion::load(root)?.ok_or_else(|| ReconfigureError::NotCompleted {
        path: completion::path(root),
    })
}

/// Refuses a change of what cannot change after first boot. Today that is
/// the host name alone: everything else the properties set (address, DNS,
/// NTP, proxy, credentials, certificate) is read again by its consumer at its
/// next start, and k3s on its SQLite datastore takes a new node address.
pub fn refuse_what_cannot_change(
    completion: &Completion,
    settings: &Settings,
) -> Result<(), ReconfigureError> {
    let new = settings.hostname.fqdn();
    if !completion.hostname.eq_ignore_ascii_case(new) {
        return Err(ReconfigureError::Refused {
            key: keys::HOSTNAME,
            old: completion.hostname.clone(),
            new: new.to_owned(),
            why: HOSTNAME_REFUSAL,
        });
    }
    Ok(())
}

/// The plan for `properties` on the system under `root`, the same as
/// `render` and `firstboot` make, once nothing refused.
pub fn plan(
    comparison: &Comparison,
    properties: &Properties,
    config: &Config,
    root: &Path,
    now: time::OffsetDateTime,
) -> Result<Plan, ReconfigureError> {
    let settings = Settings::from_properties(properties)?;
    refuse_what_cannot_change(&comparison.completion, &settings)?;
    let facts = read_host_facts(root)?;
    Ok(build(&settings, config, &facts, now)?)
}

/// The TLS Secret of `plan` (the one object reconfigure applies).
pub fn secret_object(plan: &Plan) -> Option<&Value> {
    plan.manifests
        .iter()
        .find(|m| m.object.is_tls_secret())
        .map(|m| m.object.expose())
}

/// Whether the Secret must be given `plan`'s pair: it differs from the one
/// recorded. Without a digest, the completion record's fingerprint of the
/// first boot's leaf is all there is to compare.
pub fn secret_needed(comparison: &Comparison, plan: &Plan) -> bool {
    match (&comparison.key, &comparison.digest) {
        (Some(key), Some(digest)) => {
            key.tls_pair(&plan.tls.chain_pem, &plan.tls.key_pem) != digest.tls
        }
        _ => plan.tls.leaf_sha256 != comparison.completion.certificate_sha256,
    }
}

/// The endpoint login's Secret of `plan`, when there is an auth server.
pub fn login_secret_object(plan: &Plan) -> Option<&Value> {
    plan.manifests
        .iter()
        .find(|m| m.object.is_login_secret())
        .map(|m| m.object.expose())
}

/// Whether the login Secret must be applied: the plan has one, and the
/// endpoint login changed since it was last applied. With a digest, the
/// digest says it. Without one, the line kept on the host does: a line that
/// still verifies is the one last applied (only the cluster part writes it,
/// so at boot the host part has not replaced it before the cluster part
/// plans; see [`files_of`]).
pub fn login_secret_needed(comparison: &Comparison, plan: &Plan) -> bool {
    use crate::settings::endpoint::{KEY_ENDPOINT_PASSWORD, KEY_ENDPOINT_USERNAME};
    let Some(auth) = &plan.auth else {
        return false;
    };
    match &comparison.changed {
        Some(keys) => keys
            .iter()
            .any(|k| k == KEY_ENDPOINT_USERNAME || k == KEY_ENDPOINT_PASSWORD),
        None => auth.line_source != crate::auth::LineSource::Kept,
    }
}

/// Records the digest of `properties` and of `plan`'s TLS pair under `root`
/// (making the digest key on first use). First boot calls it on completion.
pub fn store_digest(
    root: &Path,
    properties: &Properties,
    plan: &Plan,
    now: time::OffsetDateTime,
) -> Result<(), ReconfigureError> {
    let key = DigestKey::load_or_create(root)?;
    let mut digest = AppliedDigest::new(
        key.properties(properties),
        key.tls_pair(&plan.tls.chain_pem, &plan.tls.key_pem),
        now,
    );
    digest.certificate = Some(AppliedCertificate::of(&plan.tls));
    digest.store(root)?;
    Ok(())
}

/// What a run is asked to do.
pub struct Request<'a> {
    pub properties: &'a Properties,
    pub config: &'a Config,
    pub root: &'a Path,
    pub phase: Phase,
    pub dry_run: bool,
}

/// `reconfigure` with the Secret applied to the cluster `config.kube` names.
pub fn run(request: &Request<'_>) -> Result<Outcome, ReconfigureError> {
    run_compared(request, compare(request.root, request.properties)?)
}

/// `ovaboot reconfigure`: [`run`], recorded where the admin looks (state
/// file, console banner, guestinfo) only when it does something. An ordinary
/// boot (nothing changed) leaves first boot's "done" showing, and a dry run
/// changes nothing at all; a change, a renewal or a refusal is recorded, its
/// failures as `retry` says who runs it again.
pub fn run_tracked(request: &Request<'_>, retry: state::Retry) -> Result<Outcome, Failure> {
    // Compared once: digests of password-typed values are slow by design.
    let comparison = compare(request.root, request.properties)?;
    if request.dry_run || comparison.unchanged() {
        return Ok(run_compared(request, comparison)?);
    }
    state::track_retried(request.root, state::Phase::Reconfigure, retry, |state| {
        let root = request.root;
        // From the moment the pair is on disk, the state describes it, even
        // if the Secret cannot be given it yet.
        let mut written = |tls: &crate::tls::TlsPlan, pending: Option<&PendingChange>| {
            let url = state.url.clone().unwrap_or_default();
            state.appliance(&url, &tls.leaf_sha256, tls.source.into());
            state.pending = pending.map(ToString::to_string);
            state::publish(root, state);
        };
        let outcome = run_compared_with(request, comparison, &mut written, |objects| {
            crate::commands::apply::apply_to_cluster(objects, &request.config.kube)
        })?;
        Ok(outcome)
    })
}

/// [`run`] with the comparison the caller already made (digests of
/// password-typed values are deliberately slow to compute).
pub fn run_compared(
    request: &Request<'_>,
    comparison: Comparison,
) -> Result<Outcome, ReconfigureError> {
    run_compared_with(request, comparison, &mut |_, _| {}, |objects| {
        crate::commands::apply::apply_to_cluster(objects, &request.config.kube)
    })
}

/// [`run`], with `apply` putting objects into the cluster (tests pass a client
/// of their own).
pub fn run_with(
    request: &Request<'_>,
    apply: impl FnMut(&[Value]) -> Result<ApplySummary, ClusterRunError>,
) -> Result<Outcome, ReconfigureError> {
    run_compared_with(
        request,
        compare(request.root, request.properties)?,
        &mut |_, _| {},
        apply,
    )
}

/// What a run tells as soon as the pair is on disk: the pair, and the
/// property change left to the next boot, if any.
type Written<'a> = dyn FnMut(&crate::tls::TlsPlan, Option<&PendingChange>) + 'a;

/// The run itself; `written` is told once the pair is on disk.
fn run_compared_with(
    request: &Request<'_>,
    comparison: Comparison,
    written: &mut Written<'_>,
    mut apply: impl FnMut(&[Value]) -> Result<ApplySummary, ClusterRunError>,
) -> Result<Outcome, ReconfigureError> {
    let Request {
        properties,
        config,
        root,
        phase,
        dry_run,
    } = *request;
    if comparison.unchanged() {
        return Ok(Outcome::Unchanged {
            digest_stored_at: comparison.digest_stored_at().map(str::to_owned),
        });
    }
    let now = time::OffsetDateTime::now_utc();
    let mut plan = plan(&comparison, properties, config, root, now)?;
    // The cluster part alone with a change whose host files are not written:
    // a renewal that is due goes ahead, the change waits (pending.rs).
    let mut pending = None;
    if !phase.runs_host() && !comparison.properties_unchanged() {
        pending = pending::pending_host_part(root, &comparison, &plan)?;
    }
    if let Some(change) = &pending
        && !pending::renew_only(&mut plan, comparison.renewal.as_ref(), config, root, now)?
    {
        return Err(change.clone().into());
    }
    let secret = secret_needed(&comparison, &plan);
    // A login change waiting for the host part waits whole.
    let login = pending.is_none() && login_secret_needed(&comparison, &plan);
    if dry_run {
        return Ok(Outcome::DryRun(Preview {
            changed: comparison.changed.clone(),
            renewal: comparison.renewal.clone(),
            files: preview(root, &files_of(&plan, phase))?,
            certificate_before: installed_fingerprint(root),
            certificate_after: plan.tls.leaf_sha256.clone(),
            secret: (phase.runs_cluster() && secret).then(|| secret_name(&plan)),
            login_secret: (phase.runs_cluster() && login)
                .then(|| object_name(login_secret_object(&plan))),
            pending,
        }));
    }
    let mut applied = Applied {
        changed: comparison.changed.clone(),
        renewal: comparison.renewal.clone(),
        certificate_before: installed_fingerprint(root),
        certificate_after: plan.tls.leaf_sha256.clone(),
        certificate_source: Some(plan.tls.source),
        ..Applied::default()
    };
    if phase.runs_host() {
        // A proxy drop-in for k3s comes or goes: systemd reloads before k3s
        // starts (the unit's ExecStartPost=).
        let host_files = files_of(&plan, phase);
        let (host, _) = crate::apply::units::write_files_flagging_reload(root, &host_files)?;
        written(&plan.tls, pending.as_ref());
        applied.host = Some(host);
    }
    if phase.runs_cluster() {
        // The Secret carries the pair on disk, as in first boot (with the
        // host phase just run, it is there already).
        if !phase.runs_host() {
            applied.host = Some(write_files(root, &files_of(&plan, phase))?);
            written(&plan.tls, pending.as_ref());
        }
        if secret {
            let object = secret_object(&plan).expect("the plan has its TLS Secret");
            applied.secret = Some((secret_name(&plan), apply(std::slice::from_ref(object))?));
        }
        if login {
            let object = login_secret_object(&plan).expect("the plan has its login Secret");
            applied.login_secret = Some(Box::new((
                object_name(Some(object)),
                apply(std::slice::from_ref(object))?,
            )));
        }
        match &pending {
            Some(_) => pending::store_renewal(root, &comparison, &plan, now)?,
            None => store_digest(root, properties, &plan, now)?,
        }
        applied.digest_stored = true;
    }
    applied.pending = pending;
    Ok(Outcome::Applied(applied))
}

/// The TLS pair, the xDS CA and pairs, and the auth server's CA, pair and
/// login line: the files the cluster phase writes (each beside the Secret
/// that carries it).
fn is_tls_file(file: &PlannedFile) -> bool {
    file.path == Path::new(TLS_KEY_PATH)
        || file.path == Path::new(TLS_CERT_PATH)
        || crate::xds::is_xds_file(&file.path)
        || crate::auth::is_auth_file(&file.path)
}

/// The files `phase` writes: all host files, or the TLS pair alone. Never
/// the auth server's CA and serving pair, which only [`crate::auth::renew`]
/// (run first, in the cluster part) writes, right after applying them; and
/// the login's htpasswd line only where the cluster part runs, beside the
/// Secret that carries it.
fn files_of(plan: &Plan, phase: Phase) -> Vec<PlannedFile> {
    plan.files
        .iter()
        .filter(|f| !crate::auth::is_auth_pki_file(&f.path))
        .filter(|f| phase.runs_cluster() || !crate::auth::is_auth_file(&f.path))
        .filter(|f| phase.runs_host() || is_tls_file(f))
        .cloned()
        .collect()
}

/// `namespace/name` of the plan's Secret.
fn secret_name(plan: &Plan) -> String {
    object_name(secret_object(plan))
}

/// `namespace/name` of an object.
fn object_name(object: Option<&Value>) -> String {
    let meta = object.map(|s| &s["metadata"]);
    format!(
        "{}/{}",
        meta.and_then(|m| m["namespace"].as_str()).unwrap_or("-"),
        meta.and_then(|m| m["name"].as_str()).unwrap_or("-")
    )
}

/// The SHA-256 fingerprint of the leaf installed under `root`, if readable.
pub fn installed_fingerprint(root: &Path) -> Option<String> {
    let pem = crate::root::read_file(root, TLS_CERT_PATH, crate::facts::TLS_FILE_LIMIT)
        .ok()??
        .bytes;
    let block = x509_parser::pem::Pem::iter_from_buffer(&pem).next()?.ok()?;
    Some(crate::tls::sha256_fingerprint(&block.contents))
}

/// For the report: each file's change, by path.
pub type FileChanges = Vec<(PathBuf, Change)>;

#[cfg(test)]
mod tests;
