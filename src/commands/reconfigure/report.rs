//! What a reconfigure run did or would do, as values (for the state file) and
//! as the lines it prints. Paths and fingerprints only: never a value.

use std::fmt;

use crate::apply::files::{Change, WriteReport};
use crate::cluster::ApplySummary;

use super::{FileChanges, PendingChange, Renewal};
use crate::failure::EXIT_PENDING_REBOOT;

/// The result of a run.
#[derive(Debug)]
pub enum Outcome {
    /// The properties are those last applied: nothing was done.
    Unchanged {
        digest_stored_at: Option<String>,
    },
    Applied(Applied),
    /// `--dry-run`: what would change; nothing was.
    DryRun(Preview),
}

#[derive(Debug, Default)]
pub struct Applied {
    /// The properties that changed; `None`: unknown (no record), all counted.
    pub changed: Option<Vec<String>>,
    /// Why the certificate was planned again, if that is why the run planned.
    pub renewal: Option<Renewal>,
    /// The host files (or, in the cluster phase alone, the TLS pair).
    pub host: Option<WriteReport>,
    /// The Secret (`namespace/name`) and what applying it did, if it was needed.
    pub secret: Option<(String, ApplySummary)>,
    /// The endpoint login's Secret and what applying it did, if the login changed.
    /// (Boxed: an outcome that applied nothing stays small.)
    pub login_secret: Option<Box<(String, ApplySummary)>>,
    pub certificate_before: Option<String>,
    pub certificate_after: String,
    /// Who made the certificate now installed (`None` until a plan is made).
    pub certificate_source: Option<crate::tls::CertSource>,
    /// The new digest was recorded (the cluster phase ran to its end).
    pub digest_stored: bool,
    /// A property change left to the next boot: only the certificate was
    /// renewed (the cluster part alone, at runtime).
    pub pending: Option<PendingChange>,
}

#[derive(Debug)]
pub struct Preview {
    pub changed: Option<Vec<String>>,
    pub renewal: Option<Renewal>,
    pub files: FileChanges,
    pub certificate_before: Option<String>,
    pub certificate_after: String,
    /// The Secret that would be applied (`namespace/name`), if any.
    pub secret: Option<String>,
    /// The endpoint login's Secret that would be applied, if the login changed.
    pub login_secret: Option<String>,
    /// A property change that would be left to the next boot.
    pub pending: Option<PendingChange>,
}

fn changed_line(
    f: &mut fmt::Formatter<'_>,
    changed: &Option<Vec<String>>,
    renewal: &Option<Renewal>,
) -> fmt::Result {
    match changed {
        Some(keys) if keys.is_empty() => writeln!(f, "properties unchanged")?,
        Some(keys) => writeln!(f, "properties changed: {}", keys.join(", "))?,
        None => writeln!(
            f,
            "properties changed: unknown (no digest recorded yet), so every property is applied again"
        )?,
    }
    match renewal {
        Some(renewal) => writeln!(f, "certificate: {renewal}"),
        None => Ok(()),
    }
}

fn certificate_line(
    f: &mut fmt::Formatter<'_>,
    before: &Option<String>,
    after: &str,
    verb: &str,
) -> fmt::Result {
    let before = before.as_deref().unwrap_or("none");
    if before == after {
        writeln!(f, "certificate: sha256 {after} (unchanged)")
    } else {
        writeln!(f, "certificate: sha256 {before} {verb} sha256 {after}")
    }
}

impl Outcome {
    /// The command's exit status: 0, or [`EXIT_PENDING_REBOOT`] when a
    /// property change waits for the next boot (the certificate renewed
    /// meanwhile).
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Applied(Applied {
                pending: Some(_), ..
            }) => EXIT_PENDING_REBOOT,
            _ => 0,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Unchanged { digest_stored_at } => write!(
                f,
                "properties unchanged since {}; nothing to do",
                digest_stored_at.as_deref().unwrap_or("first boot")
            ),
            Outcome::Applied(applied) => applied.fmt(f),
            Outcome::DryRun(preview) => preview.fmt(f),
        }
    }
}

impl fmt::Display for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        changed_line(f, &self.changed, &self.renewal)?;
        if let Some(host) = &self.host {
            for path in &host.written {
                writeln!(f, "wrote {}", path.display())?;
            }
            for path in &host.removed {
                writeln!(f, "removed {}", path.display())?;
            }
            writeln!(
                f,
                "host: {} files written, {} unchanged, {} removed",
                host.written.len(),
                host.unchanged.len(),
                host.removed.len()
            )?;
        }
        certificate_line(
            f,
            &self.certificate_before,
            &self.certificate_after,
            "replaced by",
        )?;
        match &self.secret {
            Some((name, summary)) => writeln!(f, "cluster: Secret {name}: {summary}")?,
            None if self.digest_stored => {
                writeln!(f, "cluster: the Secret already holds this pair")?
            }
            None => {}
        }
        if let Some((name, summary)) = self.login_secret.as_deref() {
            writeln!(f, "cluster: Secret {name} (the endpoint login): {summary}")?;
        }
        if let Some(pending) = &self.pending {
            writeln!(f, "pending: {pending}")?;
        }
        if self.pending.is_some() && self.digest_stored {
            write!(
                f,
                "certificate renewed; the properties' change waits for the next boot"
            )
        } else if self.digest_stored {
            write!(f, "reconfigured; the properties' digest is recorded")
        } else {
            write!(
                f,
                "host part done; the cluster part records the properties' digest"
            )
        }
    }
}

impl fmt::Display for Preview {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        changed_line(f, &self.changed, &self.renewal)?;
        for (path, change) in &self.files {
            let verb = match change {
                Change::Added => "add",
                Change::Changed => "change",
                Change::Removed => "remove",
            };
            writeln!(f, "would {verb} {}", path.display())?;
        }
        certificate_line(
            f,
            &self.certificate_before,
            &self.certificate_after,
            "would be replaced by",
        )?;
        if let Some(name) = &self.secret {
            writeln!(f, "would apply Secret {name}")?;
        }
        if let Some(name) = &self.login_secret {
            writeln!(f, "would apply Secret {name}")?;
        }
        if let Some(pending) = &self.pending {
            writeln!(f, "pending: {pending}")?;
        }
        write!(f, "dry run: nothing was changed")
    }
}
