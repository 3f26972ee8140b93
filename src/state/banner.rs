//! The console banner: `/etc/issue.d/ovaboot.issue`, which agetty prints
//! (after `/etc/issue`) above every login prompt, VGA and serial alike. What
//! an admin who never logs in needs: where the appliance answers, how to
//! recognise its certificate, and how first boot stands — with what to do
//! when it failed.
//!
//! agetty reads a backslash in an issue file as the start of an escape
//! (`\n` the host name, `\d` the date, `\e{red}`, ...; util-linux 2.38, see
//! agetty(8) "ISSUE FILES"), and an unknown one prints the character after
//! it: so every backslash inserted is doubled, and control characters (which
//! could drive the terminal) are replaced.

use super::{Outcome, Phase, State, Verdict, verdict};

/// The banner for `state`, as recorded in the boot `boot_id` (pure).
pub fn render(state: &State, boot_id: Option<&str>) -> String {
    let completed = state.phase == Phase::Reconfigure
        || (state.phase == Phase::Cluster && state.outcome == Outcome::Done);
    let mut out = String::from("\n");
    match (&state.url, &state.hostname) {
        (Some(url), _) => out.push_str(&format!("ovaboot: {}\n", escape(url))),
        (None, Some(name)) => {
            out.push_str(&format!("ovaboot: {} (not serving yet)\n", escape(name)))
        }
        (None, None) => out.push_str("ovaboot: the appliance's address is not known yet\n"),
    }
    if let Some(cert) = &state.certificate {
        let source = cert.source.label();
        out.push_str(&format!(
            "TLS certificate ({source}), SHA-256 fingerprint:\n  {}\n",
            escape(&cert.sha256)
        ));
    }
    let error = state.error.as_deref().map(escape).unwrap_or_default();
    let journal = format!("journalctl -u {}", state.phase.unit());
    let what = match state.phase {
        Phase::Reconfigure => "Reconfigure".to_owned(),
        phase => format!("First boot ({} phase)", phase.as_str()),
    };
    let line = match verdict(Some(state), completed, boot_id) {
        Verdict::Running(_) => format!("{what}: running since {}", escape(&state.started)),
        Verdict::Waiting(_) => format!("{what}: waiting to retry: {error}"),
        Verdict::Interrupted(_) => format!(
            "{what}: interrupted (the boot it ran in ended); it runs again at the next boot"
        ),
        Verdict::Pending(_) => {
            "First boot: host phase done; the cluster phase runs once k3s is up".to_owned()
        }
        Verdict::Stopped(_) => format!(
            "{what}: STOPPED: {error}\n  It runs again at the next boot. Details: {journal}"
        ),
        Verdict::Failed(_) => format!(
            "{what}: FAILED: {error}\n  To fix: {}. Details: {journal}",
            super::remedy(state.error.as_deref())
        ),
        // Day 2 failed on a cause that may pass (the timer's run): first
        // boot stands, and the error says when it is tried again.
        Verdict::Done if state.phase == Phase::Reconfigure && state.outcome == Outcome::Failed => {
            format!("First boot: done. Reconfigure: failed, may pass by itself: {error}")
        }
        Verdict::Done if state.phase == Phase::Reconfigure && state.outcome == Outcome::Done => {
            format!(
                "First boot: done. Reconfigure: done at {}",
                escape(state.finished.as_deref().unwrap_or("?"))
            )
        }
        Verdict::Done => format!(
            "First boot: done at {}",
            escape(state.finished.as_deref().unwrap_or("?"))
        ),
        Verdict::NotRun => unreachable!("a state is given"),
    };
    out.push_str(&line);
    if let Some(pending) = &state.pending {
        out.push_str(&format!("\nPending: {}", escape(pending)));
    }
    if let Some(warning) = &state.certificate_warning {
        out.push_str(&format!("\nWARNING: {}", escape(warning)));
    }
    out.push_str("\n\n");
    out
}

/// `text` as agetty prints it literally: backslashes doubled, control
/// characters (escape sequences, newlines), line separators and
/// bidirectional overrides ([`crate::show::is_unsafe`]) replaced by `?`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if crate::show::is_unsafe(c) => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
