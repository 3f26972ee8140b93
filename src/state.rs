//! Every record ovaboot keeps under `/var/lib/ovaboot` (under the root), all
//! read and written one way ([`json`]): where the last phase stands (this
//! module, `state.json`), first boot's completion ([`completion`],
//! `firstboot.json`) and the digest of the properties last applied
//! ([`digest`], `properties.json` and its key).
//!
//! `state.json` is the single source of the console banner ([`banner`]), the
//! guestinfo keys vSphere shows ([`vsphere`]) and `ovaboot status`.
//!
//! Each phase records its start and its end (and each wait before a retry)
//! with [`publish`], which writes the state file and the banner atomically
//! (the fsync'd writer of [`crate::apply::files`]) and, on the running system,
//! publishes the guestinfo keys and asks agetty to redraw. The state is plain
//! data: the URL, the certificate's public fingerprint, the one-line error
//! the command prints (which never holds a secret). Never a secret.
//!
//! A power cut mid-phase leaves `running`: the boot id recorded with it tells
//! a later boot that the phase was interrupted rather than still running
//! ([`Verdict`]).
//!
//! Library API for any phase (first boot's two, and day 2's reconfigure):
//!
//! ```no_run
//! # use std::path::Path;
//! use ovaboot::state::{self, Phase, State};
//! let root = Path::new("/");
//! let now = time::OffsetDateTime::now_utc();
//! // At the start (carries the URL and certificate over from the last record):
//! let mut state = State::start(state::load(root).ok().flatten(), Phase::Reconfigure, now);
//! state::publish(root, &state);
//! // Once the plan is known:
//! state.appliance("https://veba01.example.com/", "AB:CD:…", state::CertificateSource::User);
//! state::publish(root, &state);
//! // At the end, one of:
//! state.done(now);
//! state.failed("guestinfo.hostname: cannot change ...", true, now);
//! state::publish(root, &state);
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::apply::files::{FilesError, write_files};
use crate::plan::PlannedFile;

pub mod banner;
pub mod completion;
pub mod digest;
pub mod json;
mod track;
pub mod vsphere;

pub use track::{Retry, record_failure, settle_interrupted, track, track_retried};

/// The state file, under the root.
pub const STATE_PATH: &str = "/var/lib/ovaboot/state.json";
/// The console banner agetty shows above the login prompt, under the root.
pub const BANNER_PATH: &str = "/etc/issue.d/ovaboot.issue";
/// This boot's id, from the running kernel (never under the root).
pub const BOOT_ID_PATH: &str = "/proc/sys/kernel/random/boot_id";

/// Which phase the state describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// First boot's host phase (`ovaboot-host.service`).
    Host,
    /// First boot's cluster phase (`ovaboot-cluster.service`); done = first boot done.
    Cluster,
    /// Day 2: changed properties applied at a later boot.
    Reconfigure,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Host => "host",
            Phase::Cluster => "cluster",
            Phase::Reconfigure => "reconfigure",
        }
    }

    /// The systemd unit that runs it (for "journalctl -u ...").
    pub fn unit(self) -> &'static str {
        match self {
            Phase::Host => "ovaboot-host",
            Phase::Cluster => "ovaboot-cluster",
            Phase::Reconfigure => "ovaboot-reconfigure",
        }
    }
}

/// How the phase stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Running,
    /// A cause that may pass (no OVF environment yet, k3s not up): the phase
    /// (or systemd) tries again; `error` says what it waits for.
    WaitingToRetry,
    Done,
    /// Given up; `permanent` says whether trying again can help.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::WaitingToRetry => "waiting to retry",
            Outcome::Done => "done",
            Outcome::Failed => "failed",
        }
    }
}

/// Who made the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertificateSource {
    SelfSigned,
    /// The admin's own (`guestinfo.tls_cert`).
    User,
}

impl CertificateSource {
    /// As the console and `status` say it.
    pub fn label(self) -> &'static str {
        match self {
            CertificateSource::SelfSigned => "self-signed",
            CertificateSource::User => "the admin's own",
        }
    }
}

impl From<crate::tls::CertSource> for CertificateSource {
    fn from(source: crate::tls::CertSource) -> Self {
        match source {
            crate::tls::CertSource::SelfSigned => CertificateSource::SelfSigned,
            crate::tls::CertSource::User => CertificateSource::User,
        }
    }
}

/// The appliance's certificate, as clients see it (public data only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// SHA-256 of the leaf's DER, `AB:CD:…` as browsers show it.
    pub sha256: String,
    pub source: CertificateSource,
}

/// What `state.json` holds. Plain data, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub ovaboot_version: String,
    pub phase: Phase,
    pub outcome: Outcome,
    /// RFC 3339, UTC.
    pub started: String,
    /// RFC 3339, UTC; set when done or failed.
    #[serde(default)]
    pub finished: Option<String>,
    /// The one-line error the command printed (failed), or the cause waited
    /// out (waiting to retry).
    #[serde(default)]
    pub error: Option<String>,
    /// Failed: no retry can help (exit 2); the admin must change something.
    #[serde(default)]
    pub permanent: bool,
    /// `https://<fqdn>/`, once a plan has been made (carried over between phases).
    #[serde(default)]
    pub url: Option<String>,
    /// The host name the properties give, when no plan could be made with it
    /// (a certificate that does not fit it, say); otherwise the URL says it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default)]
    pub certificate: Option<Certificate>,
    /// The boot the phase ran in (`/proc/sys/kernel/random/boot_id`).
    #[serde(default)]
    pub boot_id: Option<String>,
    /// A property change the run left to the next boot (day 2 at runtime:
    /// its host files are written before the services that read them start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
    /// A certificate inside its warning window (or expired), as one line
    /// ([`crate::certificates::warning`]); set by every renewal run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_warning: Option<String>,
}

impl State {
    /// `phase` starts now, in this boot; the URL and certificate of `previous`
    /// (the last record) are kept until the phase knows its own.
    pub fn start(previous: Option<State>, phase: Phase, now: time::OffsetDateTime) -> State {
        let (url, hostname, certificate, certificate_warning) = previous
            .map(|p| (p.url, p.hostname, p.certificate, p.certificate_warning))
            .unwrap_or_default();
        State {
            ovaboot_version: env!("CARGO_PKG_VERSION").to_owned(),
            phase,
            outcome: Outcome::Running,
            started: rfc3339(now),
            finished: None,
            error: None,
            permanent: false,
            url,
            hostname,
            certificate,
            boot_id: current_boot_id(),
            pending: None,
            certificate_warning,
        }
    }

    /// What the plan says the appliance is.
    pub fn appliance(&mut self, url: &str, sha256: &str, source: CertificateSource) {
        self.url = Some(url.to_owned());
        self.hostname = None;
        self.certificate = Some(Certificate {
            sha256: sha256.to_owned(),
            source,
        });
    }

    /// Waiting before trying again; `cause` is the one-line error.
    pub fn waiting(&mut self, cause: &str) {
        self.outcome = Outcome::WaitingToRetry;
        self.error = Some(one_line(cause));
        self.permanent = false;
        self.finished = None;
    }

    pub fn done(&mut self, now: time::OffsetDateTime) {
        self.outcome = Outcome::Done;
        self.error = None;
        self.permanent = false;
        self.finished = Some(rfc3339(now));
    }

    /// Given up with `error` (the one line the command prints).
    pub fn failed(&mut self, error: &str, permanent: bool, now: time::OffsetDateTime) {
        self.outcome = Outcome::Failed;
        self.error = Some(one_line(error));
        self.permanent = permanent;
        self.finished = Some(rfc3339(now));
    }
}

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Files(#[from] FilesError),
    #[error("the state file {} is unreadable ({message})", path.display())]
    Unreadable { path: PathBuf, message: String },
}

/// The state under `root`, `None` when no phase has run yet.
pub fn load(root: &Path) -> Result<Option<State>, StateError> {
    json::read(root, STATE_PATH).map_err(|e| StateError::Unreadable {
        path: e.path().to_owned(),
        message: e.message(),
    })
}

/// Writes the state file and the banner under `root`, atomically.
pub fn write(root: &Path, state: &State) -> Result<(), StateError> {
    let banner = banner::render(state, current_boot_id().as_deref());
    let files = [
        json::file(STATE_PATH, state, 0o644),
        PlannedFile::plain(BANNER_PATH, banner.into_bytes(), 0o644),
    ];
    // The writer logs each file at info level: on the console, two such
    // lines per record (and per retry) would bury what the phase says.
    let silent = tracing::subscriber::NoSubscriber::default();
    tracing::subscriber::with_default(silent, || write_files(root, &files))?;
    tracing::debug!(
        phase = state.phase.as_str(),
        outcome = state.outcome.as_str(),
        "state recorded"
    );
    Ok(())
}

/// [`write`], then on the running system (`root` is `/`) the guestinfo keys
/// and an agetty redraw. Where first boot stands must never stop first boot:
/// a failure is a warning (the journal has the run's log all the same).
pub fn publish(root: &Path, state: &State) {
    if let Err(e) = write(root, state) {
        tracing::warn!(error = %e, "cannot record where first boot stands");
    }
    if root == Path::new("/") {
        vsphere::publish(state);
        reload_agetty();
    }
}

/// Records `warning` (a certificate near or past its end, or `None`) in the
/// last record, published only when it changed; nothing before any phase ran.
pub fn note_certificate_warning(root: &Path, warning: Option<String>) {
    let Ok(Some(mut state)) = load(root) else {
        return;
    };
    if state.certificate_warning != warning {
        state.certificate_warning = warning;
        publish(root, &state);
    }
}

/// Makes running agettys redraw their issue (best effort: none may run yet).
fn reload_agetty() {
    match std::process::Command::new("agetty")
        .arg("--reload")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
    {
        Ok(status) if status.success() => {}
        Ok(status) => tracing::debug!(%status, "agetty --reload"),
        Err(e) => tracing::debug!(error = %e, "agetty --reload not run"),
    }
}

/// Where a sandboxed unit passes this boot's id: `ProcSubset=pid` hides
/// [`BOOT_ID_PATH`] from it, so its unit sets `Environment=OVABOOT_BOOT_ID=%b`.
pub const BOOT_ID_ENV: &str = "OVABOOT_BOOT_ID";

/// This boot's id, from the kernel or, where the sandbox hides the kernel's,
/// from the unit ([`BOOT_ID_ENV`]); in the kernel's form either way.
pub fn current_boot_id() -> Option<String> {
    std::fs::read_to_string(BOOT_ID_PATH)
        .ok()
        .or_else(|| std::env::var(BOOT_ID_ENV).ok())
        .and_then(|id| canonical_boot_id(&id))
}

/// A boot id as the kernel writes it (`8-4-4-4-12` lowercase hex), from that
/// form or systemd's `%b` (32 hex digits); `None` for anything else.
pub fn canonical_boot_id(id: &str) -> Option<String> {
    let hex: String = id.trim().chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let hex = hex.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// Where first boot stands, from the state, the completion record and this
/// boot's id: what `status` prints and its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No phase has recorded anything.
    NotRun,
    /// Running in this boot.
    Running(Phase),
    /// Waiting to retry in this boot (or its unit restarts it).
    Waiting(Phase),
    /// Running or waiting in an earlier boot that ended before it finished.
    Interrupted(Phase),
    /// The phase before it is done; this one has not recorded its start yet.
    Pending(Phase),
    /// Stopped on a cause that may pass: the next boot runs it again.
    Stopped(Phase),
    /// Failed for good: the admin must change something.
    Failed(Phase),
    /// First boot completed (the completion record exists).
    Done,
}

impl Verdict {
    /// `status`'s exit status: 0 done, 2 failed for good, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Verdict::Done => 0,
            Verdict::Failed(_) => 2,
            _ => 1,
        }
    }

    /// One word or two, for `status --json` and the banner.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::NotRun => "not run",
            Verdict::Running(_) => "running",
            Verdict::Waiting(_) => "waiting to retry",
            Verdict::Interrupted(_) => "interrupted",
            Verdict::Pending(_) => "pending",
            Verdict::Stopped(_) => "stopped",
            Verdict::Failed(_) => "failed",
            Verdict::Done => "done",
        }
    }
}

/// Judges `state` (the last record) given whether first boot `completed`
/// and this boot's id.
pub fn verdict(state: Option<&State>, completed: bool, boot_id: Option<&str>) -> Verdict {
    let Some(state) = state else {
        return if completed {
            Verdict::Done
        } else {
            Verdict::NotRun
        };
    };
    let this_boot = state.boot_id.is_some() && state.boot_id.as_deref() == boot_id;
    let in_progress = match state.outcome {
        Outcome::Running => Some(Verdict::Running(state.phase)),
        Outcome::WaitingToRetry => Some(Verdict::Waiting(state.phase)),
        _ => None,
    };
    if let Some(verdict) = in_progress {
        // Day 2 runs after first boot: a reconfigure cut short leaves it done.
        if completed && state.phase == Phase::Reconfigure && !this_boot {
            return Verdict::Done;
        }
        return if this_boot {
            verdict
        } else {
            Verdict::Interrupted(state.phase)
        };
    }
    match (state.outcome, state.permanent) {
        (Outcome::Failed, true) => Verdict::Failed(state.phase),
        (Outcome::Failed, false) if !completed => Verdict::Stopped(state.phase),
        _ if completed => Verdict::Done,
        // The host phase is done, the cluster phase has not recorded yet.
        _ => Verdict::Pending(Phase::Cluster),
    }
}

/// What the admin does about a permanent failure: a vApp property named in
/// the error is theirs to correct; anything else (the agent's config, the
/// image) is named by the error itself.
pub fn remedy(error: Option<&str>) -> &'static str {
    match error {
        Some(e) if e.contains("guestinfo.") => "correct the vApp property and reboot",
        _ => "fix what the error names, then reboot",
    }
}

pub(crate) fn rfc3339(now: time::OffsetDateTime) -> String {
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

/// Errors are one line already; a stray newline would break the banner and
/// the guestinfo RPC, and a control character from a tampered record would
/// reach every terminal that shows the state.
fn one_line(text: &str) -> String {
    crate::show::escaped(&text.replace(['\n', '\r'], " ")).into_owned()
}

#[cfg(test)]
mod tests;
