//! How a failed command is told: one line naming what is at fault, and
//! whether running again may help (exit 1, which the units' `Restart=` retries)
//! or not (exit 2, `RestartPreventExitStatus=2`).
//!
//! Every error type answers the one question itself ([`Transience`]); a
//! [`Failure`] carries the answer from where the error was made to `main`.

use crate::cluster::ManifestError;
use crate::config::ConfigError;
use crate::contour::ContourError;
use crate::facts::FactsError;
use crate::ovf::OvfError;
use crate::plan::appliance::PlanError;
use crate::settings::SettingsError;
use crate::state::StateError;
use crate::state::completion::CompletionError;
use crate::state::digest::DigestError;

/// Exit status when running again may succeed.
pub const EXIT_TRANSIENT: u8 = 1;

/// Exit status when running again cannot help (bad input, a refusal): the
/// systemd units do not restart on it (`RestartPreventExitStatus=2`).
pub const EXIT_PERMANENT: u8 = 2;

/// Exit status of a day-2 run that did what it could and left a property
/// change to the next boot (`reconfigure --phase cluster` at runtime: the
/// certificate renewed, the change's host files not written).
pub const EXIT_PENDING_REBOOT: u8 = 3;

/// Whether an error may pass by itself.
pub trait Transience {
    /// Running again later may succeed: the cluster (or the OVF
    /// environment's device) was not there or not ready yet. Bad input,
    /// refusals and local faults are not.
    fn is_transient(&self) -> bool;
}

/// Errors that never pass by themselves: bad input, a refusal, a local file.
macro_rules! permanent {
    ($($error:ty),* $(,)?) => {
        $(impl Transience for $error {
            fn is_transient(&self) -> bool {
                false
            }
        })*
    };
}

permanent!(
    ConfigError,
    ContourError,
    CompletionError,
    DigestError,
    FactsError,
    ManifestError,
    PlanError,
    SettingsError,
    StateError,
    crate::apply::files::FilesError,
    crate::apply::host::HostApplyError,
    crate::commands::props::PropsError,
    crate::commands::render::RenderError,
    crate::commands::status::StatusError,
    crate::config::HostConfigError,
    crate::ovf::DocumentError,
    crate::ovf::descriptor::DescriptorError,
    crate::plan::credentials::CredentialsError,
    crate::plan::host::HostPlanError,
    crate::routes::RoutesError,
    crate::settings::HostnameError,
    crate::settings::network::NetworkError,
    crate::settings::proxy::ProxyError,
    crate::state::json::ReadError,
    crate::tls::TlsError,
    std::io::Error,
);

impl Transience for crate::ovf::TransportError {
    /// A transport that applies but could not deliver (a device not readable
    /// yet, a tool that failed) may deliver later, as [`OvfError::Failed`] says.
    fn is_transient(&self) -> bool {
        true
    }
}

impl Transience for OvfError {
    /// No transport delivered an environment yet, or one failed on its
    /// device: both may pass. A malformed environment does not.
    fn is_transient(&self) -> bool {
        matches!(self, OvfError::NotFound(_) | OvfError::Failed(_))
    }
}

/// A command's error on its way to the one line `main` prints, with the
/// answer its error gave to [`Transience`] when it was made.
#[derive(Debug)]
pub struct Failure {
    error: anyhow::Error,
    transient: bool,
}

impl<E> From<E> for Failure
where
    E: Transience + std::error::Error + Send + Sync + 'static,
{
    fn from(error: E) -> Failure {
        Failure {
            transient: error.is_transient(),
            error: error.into(),
        }
    }
}

impl Failure {
    /// Running again may succeed.
    pub fn is_transient(&self) -> bool {
        self.transient
    }

    /// [`EXIT_TRANSIENT`] or [`EXIT_PERMANENT`], as the error said.
    pub fn exit_code(&self) -> u8 {
        if self.transient {
            EXIT_TRANSIENT
        } else {
            EXIT_PERMANENT
        }
    }

    /// The whole cause chain on one line (it names the property or file at
    /// fault), skipping a cause whose text an outer message already quotes;
    /// line breaks become spaces and every other control character an
    /// escape ([`crate::show::escaped`]): a value from a record or a
    /// property can neither drive the terminal nor break the line.
    pub fn one_line(&self) -> String {
        let mut line = String::new();
        for cause in self.error.chain() {
            let text = cause.to_string();
            if line.contains(&text) {
                continue;
            }
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        crate::show::escaped(&line.replace(['\n', '\r'], " ")).into_owned()
    }

    /// The error itself (to look for a particular cause).
    pub fn error(&self) -> &anyhow::Error {
        &self.error
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.one_line())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::ApplyError;
    use crate::inputs::InputError;
    use crate::ovf::Attempts;

    #[test]
    fn an_environment_not_delivered_yet_is_transient_through_its_context() {
        let err = Failure::from(InputError::Environment(OvfError::NotFound(Attempts(
            Vec::new(),
        ))));
        assert!(err.is_transient());
        assert_eq!(err.exit_code(), EXIT_TRANSIENT);
        assert!(
            err.one_line().starts_with("no OVF environment found: "),
            "{}",
            err.one_line()
        );
    }

    /// An error whose message quotes its cause, as a context line does.
    #[derive(Debug, thiserror::Error)]
    #[error("writing /etc/hosts: disk\nfull")]
    struct Quoting(#[source] std::io::Error);

    impl Transience for Quoting {
        fn is_transient(&self) -> bool {
            false
        }
    }

    #[test]
    fn a_cause_already_quoted_is_not_repeated_and_the_line_is_one_line() {
        let err = Failure::from(Quoting(std::io::Error::other("disk\nfull")));
        assert_eq!(err.one_line(), "writing /etc/hosts: disk full");
        assert!(!err.is_transient());
        assert_eq!(err.exit_code(), EXIT_PERMANENT);
    }

    #[test]
    fn control_characters_in_a_cause_are_escaped() {
        let err = Failure::from(std::io::Error::other("name \u{1b}[2J\u{85}\u{2028}x"));
        assert_eq!(err.one_line(), "name \\u{1b}[2J\\u{85}\\u{2028}x");
    }

    #[test]
    fn the_cluster_not_up_yet_is_transient_through_every_command_error() {
        use crate::commands::apply::ClusterRunError;
        use crate::commands::firstboot::FirstbootError;
        use crate::commands::reconfigure::ReconfigureError;
        let unreachable = || ApplyError::NoClientConfig {
            tried: "no kubeconfig yet".into(),
        };
        assert!(Failure::from(unreachable()).is_transient());
        assert!(
            Failure::from(FirstbootError::Cluster(ClusterRunError::Apply(
                unreachable()
            )))
            .is_transient()
        );
        assert!(
            Failure::from(ReconfigureError::Cluster(ClusterRunError::Apply(
                unreachable()
            )))
            .is_transient()
        );
        assert!(
            !Failure::from(ReconfigureError::NotCompleted { path: "/x".into() }).is_transient()
        );
    }
}
