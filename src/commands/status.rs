//! `ovaboot status`: where first boot stands, from the state file and the
//! completion record under the root, in one screen or as JSON.

use std::path::Path;

use serde::Serialize;

use crate::certificates::{self, CertificateStatus};
use crate::state::completion::{self, Completion, CompletionError};
use crate::state::{self, State, StateError, Verdict};

/// What `status` reads and concludes.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// `done`, `not run`, `running`, `waiting to retry`, `interrupted`,
    /// `pending`, `stopped` or `failed`.
    pub status: &'static str,
    /// The phase the verdict is about, if any.
    pub phase: Option<&'static str>,
    /// What `status` exits with: 0 done, 1 not done yet, 2 failed for good.
    pub exit_code: u8,
    /// What the admin should do, when anything.
    pub advice: Option<String>,
    /// The last record (`/var/lib/ovaboot/state.json`).
    pub state: Option<State>,
    /// The completion record (`/var/lib/ovaboot/firstboot.json`).
    pub completion: Option<Completion>,
    /// Every certificate the appliance lives on, as kept under the root.
    pub certificates: Vec<CertificateStatus>,
}

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// Not "not run yet": there is no such system to look at.
    #[error("--root {}: no such directory", root.display())]
    NoRoot { root: std::path::PathBuf },
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Completion(#[from] CompletionError),
}

/// Reads the records under `root` and judges them against this boot.
pub fn read(root: &Path) -> Result<Status, StatusError> {
    if !root.is_dir() {
        return Err(StatusError::NoRoot {
            root: root.to_owned(),
        });
    }
    let state = state::load(root)?;
    let completion = completion::load(root)?;
    let boot_id = state::current_boot_id();
    let verdict = state::verdict(state.as_ref(), completion.is_some(), boot_id.as_deref());
    let phase = match &verdict {
        Verdict::Running(p)
        | Verdict::Waiting(p)
        | Verdict::Interrupted(p)
        | Verdict::Pending(p)
        | Verdict::Stopped(p)
        | Verdict::Failed(p) => Some(*p),
        Verdict::NotRun | Verdict::Done => None,
    };
    let advice = match &verdict {
        Verdict::Failed(p) => Some(format!(
            "{}; details: journalctl -u {}",
            state::remedy(state.as_ref().and_then(|s| s.error.as_deref())),
            p.unit()
        )),
        Verdict::Stopped(p) => Some(format!(
            "it runs again at the next boot; details: journalctl -u {}",
            p.unit()
        )),
        Verdict::Interrupted(p) => Some(format!(
            "the boot it ran in ended before it finished; it runs again when {}.service next starts",
            p.unit()
        )),
        Verdict::Waiting(p) => Some(format!("details: journalctl -u {}", p.unit())),
        _ => None,
    };
    // Only the warning windows come from the config: a config that does
    // not load shows the certificates against the defaults.
    let config = crate::config::Config::load(None).unwrap_or_default();
    let certificates = certificates::read(root, &config, time::OffsetDateTime::now_utc());
    Ok(Status {
        status: verdict.as_str(),
        phase: phase.map(state::Phase::as_str),
        exit_code: verdict.exit_code(),
        advice,
        state,
        completion,
        certificates,
    })
}

/// One screen for a person.
pub fn text(status: &Status) -> String {
    let mut out = String::new();
    let headline = match (status.status, status.phase) {
        ("done", _) => match &status.completion {
            Some(c) => format!("done at {}", c.completed_at),
            None => "done".to_owned(),
        },
        ("not run", _) => "not run yet".to_owned(),
        (verdict, Some(phase)) => format!("{verdict} ({phase} phase)"),
        (verdict, None) => verdict.to_owned(),
    };
    out.push_str(&format!("first boot:   {headline}\n"));
    if let Some(state) = &status.state {
        if let Some(url) = &state.url {
            out.push_str(&format!("url:          {url}\n"));
        } else if let Some(name) = &state.hostname {
            out.push_str(&format!("hostname:     {name} (not serving yet)\n"));
        }
        if let Some(cert) = &state.certificate {
            let source = cert.source.label();
            out.push_str(&format!(
                "certificate:  {source}, SHA-256 {}\n",
                cert.sha256
            ));
        }
        out.push_str(&format!(
            "last record:  {} phase {}, started {}{}\n",
            state.phase.as_str(),
            state.outcome.as_str(),
            state.started,
            state
                .finished
                .as_deref()
                .map(|f| format!(", finished {f}"))
                .unwrap_or_default()
        ));
        if let Some(error) = &state.error {
            out.push_str(&format!("error:        {error}\n"));
        }
    }
    if let Some(advice) = &status.advice {
        out.push_str(&format!("what to do:   {advice}\n"));
    }
    certificates_text(&mut out, &status.certificates);
    out
}

/// One line each: what it is, its subject, notAfter and days left, marked
/// when inside its warning window.
fn certificates_text(out: &mut String, certificates: &[CertificateStatus]) {
    if certificates.is_empty() {
        return;
    }
    out.push_str("certificates:\n");
    for c in certificates {
        let mark = match (c.days_left, c.warning) {
            (d, _) if d < 0 => "  EXPIRED",
            (_, true) => "  WARNING: within its renewal/warning window",
            _ => "",
        };
        out.push_str(&format!(
            "  {}: {}, until {} ({} days left){mark}\n",
            c.name, c.subject, c.not_after, c.days_left
        ));
    }
    if let Some(warning) = certificates::warning(certificates) {
        out.push_str(&format!("warning:      {warning}\n"));
    }
}

/// One JSON object for automation.
pub fn json(status: &Status) -> String {
    let mut text = serde_json::to_string_pretty(status).expect("plain data serializes");
    text.push('\n');
    text
}
