//! `ovaboot status`: where first boot stands, from the state file and the
//! completion record under the root, in one screen or as JSON.

use std::path::Path;

use serde::Serialize;

use crate::certificates::{self, CertificateStatus};
use crate::show::escaped;
use crate::state::completion::{self, Completion, CompletionError};
use crate::state::{self, State, Verdict};

/// What `status` reads and concludes.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// `done`, `not run`, `running`, `waiting to retry`, `interrupted`,
    /// `pending`, `stopped`, `failed`, or `unknown` (the state file is
    /// unreadable and first boot has not completed).
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
    /// A record that could not be read, and why (escaped): `status` says so
    /// here, never as an error line.
    pub unreadable: Option<String>,
    /// Every certificate the appliance lives on, as kept under the root.
    pub certificates: Vec<CertificateStatus>,
}

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// Not "not run yet": there is no such system to look at.
    #[error("--root {}: no such directory", root.display())]
    NoRoot { root: std::path::PathBuf },
}

/// Reads the records under `root` and judges them against this boot. A
/// record that cannot be read is part of the answer, not an error: a damaged
/// state file is `unknown` (exit 1; the next phase to run rewrites it) unless
/// first boot completed; a damaged completion record is `failed` (exit 2:
/// firstboot and reconfigure refuse until it is removed).
pub fn read(root: &Path) -> Result<Status, StatusError> {
    if !root.is_dir() {
        return Err(StatusError::NoRoot {
            root: root.to_owned(),
        });
    }
    // Only the warning windows come from the config, the one the system
    // under the root runs with: a config that does not load shows the
    // certificates against the defaults.
    let config = crate::config::Config::load_under(root).unwrap_or_default();
    let certificates = certificates::read(root, &config, time::OffsetDateTime::now_utc());
    let completion = match completion::load(root) {
        Ok(completion) => completion,
        Err(e) => return Ok(completion_unreadable(e, certificates)),
    };
    let (state, unreadable) = match state::load(root) {
        Ok(state) => (state, None),
        Err(e) => (None, Some(escaped(&e.to_string()).into_owned())),
    };
    if unreadable.is_some() && completion.is_none() {
        return Ok(Status {
            status: "unknown",
            phase: None,
            exit_code: 1,
            advice: Some(
                "nothing: the next phase to run rewrites the state file (journalctl -u ovaboot-host -u ovaboot-cluster says what ran)"
                    .to_owned(),
            ),
            state: None,
            completion: None,
            unreadable,
            certificates,
        });
    }
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
    Ok(Status {
        status: verdict.as_str(),
        phase: phase.map(state::Phase::as_str),
        exit_code: verdict.exit_code(),
        advice,
        state,
        completion,
        unreadable,
        certificates,
    })
}

/// The completion record is there but unreadable: first boot's end cannot be
/// told, and every later run refuses until the admin removes it.
fn completion_unreadable(error: CompletionError, certificates: Vec<CertificateStatus>) -> Status {
    let path = match &error {
        CompletionError::Unreadable { path, .. } => path.display().to_string(),
        CompletionError::Files(e) => e.to_string(),
    };
    Status {
        status: "failed",
        phase: None,
        exit_code: 2,
        advice: Some(format!("remove {} to run first boot again", escaped(&path))),
        state: None,
        completion: None,
        unreadable: Some(escaped(&error.to_string()).into_owned()),
        certificates,
    }
}

/// One screen for a person; every value from a record escaped.
pub fn text(status: &Status) -> String {
    let mut out = String::new();
    let headline = match (status.status, status.phase) {
        ("done", _) => match &status.completion {
            Some(c) => format!("done at {}", escaped(&c.completed_at)),
            None => "done".to_owned(),
        },
        ("not run", _) => "not run yet".to_owned(),
        (verdict, Some(phase)) => format!("{verdict} ({phase} phase)"),
        (verdict, None) => verdict.to_owned(),
    };
    out.push_str(&format!("first boot:   {headline}\n"));
    if let Some(state) = &status.state {
        if let Some(url) = &state.url {
            out.push_str(&format!("url:          {}\n", escaped(url)));
        } else if let Some(name) = &state.hostname {
            out.push_str(&format!(
                "hostname:     {} (not serving yet)\n",
                escaped(name)
            ));
        }
        if let Some(cert) = &state.certificate {
            let source = cert.source.label();
            out.push_str(&format!(
                "certificate:  {source}, SHA-256 {}\n",
                escaped(&cert.sha256)
            ));
        }
        out.push_str(&format!(
            "last record:  {} phase {}, started {}{}\n",
            state.phase.as_str(),
            state.outcome.as_str(),
            escaped(&state.started),
            state
                .finished
                .as_deref()
                .map(|f| format!(", finished {}", escaped(f)))
                .unwrap_or_default()
        ));
        if let Some(error) = &state.error {
            out.push_str(&format!("error:        {}\n", escaped(error)));
        }
        if let Some(pending) = &state.pending {
            out.push_str(&format!("pending:      {pending}\n"));
        }
    }
    if let Some(why) = &status.unreadable {
        out.push_str(&format!("unreadable:   {why}\n"));
    }
    if let Some(advice) = &status.advice {
        out.push_str(&format!("what to do:   {}\n", escaped(advice)));
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
    let mut text = crate::show::json(status);
    text.push('\n');
    text
}
