//! How a failed command is told: one line naming what is at fault, and
//! whether running again may help (exit 1, which the units' `Restart=` retries)
//! or not (exit 2, `RestartPreventExitStatus=2`).

use crate::cluster::ApplyError;
use crate::commands::apply::ClusterRunError;
use crate::commands::firstboot::FirstbootError;
use crate::commands::reconfigure::ReconfigureError;
use crate::ovf::OvfError;

/// Exit status when running again may succeed.
pub const EXIT_TRANSIENT: u8 = 1;

/// Exit status when running again cannot help (bad input, a refusal): the
/// systemd units do not restart on it (`RestartPreventExitStatus=2`).
pub const EXIT_PERMANENT: u8 = 2;

/// Whether running again may succeed: the cluster (or the OVF environment's
/// device) was not there or not ready yet. Bad input and refusals are not.
pub fn is_transient(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        if let Some(e) = cause.downcast_ref::<ApplyError>() {
            !e.is_permanent()
        } else if let Some(e) = cause.downcast_ref::<ClusterRunError>() {
            !e.is_permanent()
        } else if let Some(e) = cause.downcast_ref::<FirstbootError>() {
            !e.is_permanent()
        } else if let Some(e) = cause.downcast_ref::<ReconfigureError>() {
            !e.is_permanent()
        } else {
            matches!(
                cause.downcast_ref::<OvfError>(),
                Some(OvfError::NotFound(_) | OvfError::Failed(_))
            )
        }
    })
}

/// [`EXIT_TRANSIENT`] or [`EXIT_PERMANENT`], as [`is_transient`] says.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if is_transient(err) {
        EXIT_TRANSIENT
    } else {
        EXIT_PERMANENT
    }
}

/// The whole context chain on one line (it names the property or file at
/// fault), skipping a cause whose text an outer message already quotes.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::inputs::InputError;
    use crate::ovf::Attempts;

    #[test]
    fn an_environment_not_delivered_yet_is_transient_through_its_context() {
        let err = anyhow::Error::from(InputError::Environment(OvfError::NotFound(Attempts(
            Vec::new(),
        ))));
        assert!(is_transient(&err));
        assert_eq!(exit_code(&err), EXIT_TRANSIENT);
        assert!(
            one_line(&err).starts_with("reading the OVF environment: "),
            "{}",
            one_line(&err)
        );
    }

    #[test]
    fn a_cause_already_quoted_is_not_repeated_and_the_line_is_one_line() {
        let inner = std::io::Error::other("disk\nfull");
        let err = anyhow::Error::from(inner).context("writing /etc/hosts: disk\nfull");
        assert_eq!(one_line(&err), "writing /etc/hosts: disk full");
        assert!(!is_transient(&err));
        assert_eq!(exit_code(&err), EXIT_PERMANENT);
    }
}
