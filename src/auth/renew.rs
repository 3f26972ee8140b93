//! Day 2 for the auth server's CA and serving pair, in the renewal path
//! every `reconfigure` that reaches the cluster takes (beside the xDS
//! pairs'): when the pair or the CA is due, the new ones go into their two
//! Secrets first, then the Deployment (whose pod template names the serving
//! certificate, so it rolls and the new pod loads the new pair: the server
//! reads its pair only at start), and only then onto the host. A run cut
//! short before the files finds the old ones still due and renews again.
//!
//! It needs nothing the admin types: the login Secret is not touched. With
//! no protected route there is no auth server, and nothing to renew.

use std::fmt;
use std::path::Path;

use serde_json::Value;
use time::OffsetDateTime;

use super::{Inputs, read_kept};
use crate::apply::files::{FilesError, write_files};
use crate::cluster::ApplySummary;
use crate::commands::apply::ClusterRunError;
use crate::config::Config;
use crate::failure::{Failure, Transience};
use crate::tls::pki::Pair;

/// What a renewal run did.
#[derive(Debug)]
pub enum Renewed {
    /// The kept CA and pair may be kept.
    Unchanged,
    /// Renewed: the Secrets, then the Deployment, then the files.
    Applied { minted: Vec<String> },
}

impl fmt::Display for Renewed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Renewed::Unchanged => f.write_str("auth server certificates: unchanged"),
            Renewed::Applied { minted } => write!(
                f,
                "auth server certificates: minted {}; Secrets and Deployment applied",
                minted.join("; ")
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenewError {
    #[error(transparent)]
    Auth(#[from] super::AuthError),
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

/// What is due: the CA and pair to put in place and why, or `None`.
type Due = Option<(Pair, Pair, Vec<String>)>;

fn due(root: &Path, config: &Config, now: OffsetDateTime) -> Result<Due, RenewError> {
    if crate::routes::protected(&config.routes()).is_none() {
        return Ok(None);
    }
    let kept = read_kept(root);
    if kept.ca.is_none() && kept.serving.is_none() {
        // None were ever made here (first boot has not run, or no route was
        // protected then): the next full plan mints them with everything else.
        return Ok(None);
    }
    let inputs = Inputs {
        config: &config.auth,
        pki: &config.xds,
        credentials: &config.credentials,
    };
    let (ca, serving, minted) = super::pki(&kept, &inputs, now)?;
    Ok((!minted.is_empty()).then_some((ca, serving, minted)))
}

/// The renewal under `root`, `apply` putting objects into the cluster (called
/// twice: the Secrets, then the Deployment).
pub fn run_with(
    root: &Path,
    config: &Config,
    now: OffsetDateTime,
    apply: impl FnMut(&[Value]) -> Result<ApplySummary, ClusterRunError>,
) -> Result<Renewed, RenewError> {
    match due(root, config, now)? {
        None => Ok(Renewed::Unchanged),
        Some(due) => put_in_place(root, config, due, apply),
    }
}

/// The Secrets, then the Deployment, then the files.
fn put_in_place(
    root: &Path,
    config: &Config,
    (ca, serving, minted): (Pair, Pair, Vec<String>),
    mut apply: impl FnMut(&[Value]) -> Result<ApplySummary, ClusterRunError>,
) -> Result<Renewed, RenewError> {
    let tls = super::objects::tls_secret(&config.auth, &ca, &serving);
    let secrets = [
        super::objects::ca_secret(&config.auth, &ca),
        tls.expose().value().clone(),
    ];
    let applied = apply(&secrets);
    let [_, copy] = secrets;
    zeroize::Zeroize::zeroize(&mut crate::tls::ZeroizingJson::new(copy));
    applied?;
    apply(&[super::objects::deployment(&config.auth, &serving)])?;
    write_files(root, &super::AuthPlan::pki_files(&ca, &serving))?;
    for why in &minted {
        tracing::info!(why = %why, "auth server certificate renewed");
    }
    Ok(Renewed::Applied { minted })
}

/// `reconfigure`'s renewal step, after the xDS pairs' (not in a dry run, and
/// only where the cluster phase runs), against the cluster `config.kube`
/// names; recorded in the state file as a reconfigure when it applies.
pub fn run_tracked(
    root: &Path,
    config: &Config,
    retry: crate::state::Retry,
) -> Result<Renewed, Failure> {
    let Some(due) = due(root, config, OffsetDateTime::now_utc())? else {
        return Ok(Renewed::Unchanged);
    };
    crate::state::track_retried(root, crate::state::Phase::Reconfigure, retry, |_| {
        Ok(put_in_place(root, config, due, |objects| {
            crate::commands::apply::apply_to_cluster(objects, &config.kube)
        })?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::test_pki::NOW;
    use std::os::unix::fs::PermissionsExt;
    use time::Duration;

    /// First boot's CA and serving pair, minted at [`NOW`], kept under a new root.
    fn kept_at_now(config: &Config) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let inputs = Inputs {
            config: &config.auth,
            pki: &config.xds,
            credentials: &config.credentials,
        };
        let (ca, serving, minted) =
            super::super::pki(&super::super::Kept::default(), &inputs, NOW).unwrap();
        assert_eq!(minted.len(), 2, "{minted:?}");
        write_files(
            root.path(),
            &super::super::AuthPlan::pki_files(&ca, &serving),
        )
        .unwrap();
        root
    }

    fn read(root: &Path, path: &str) -> String {
        std::fs::read_to_string(crate::root::under(root, path)).unwrap()
    }

    #[test]
    fn a_pair_inside_its_window_is_renewed_secrets_then_deployment_then_files_and_not_before() {
        let config = Config::default();
        let root = kept_at_now(&config);
        let (ca_before, cert_before) = (
            read(root.path(), super::super::CA_CERT_PATH),
            read(root.path(), super::super::CERT_PATH),
        );
        let calls: std::cell::RefCell<Vec<Vec<Value>>> = Default::default();
        let apply = |objects: &[Value]| {
            calls.borrow_mut().push(objects.to_vec());
            Ok(ApplySummary {
                objects: Vec::new(),
                created: 0,
                changed: objects.len(),
                unchanged: 0,
                skipped: 0,
                elapsed: std::time::Duration::ZERO,
            })
        };

        // Well before the window (30 days before notAfter, a year on): nothing.
        let early = run_with(root.path(), &config, NOW + Duration::days(300), &apply).unwrap();
        assert!(matches!(early, Renewed::Unchanged), "{early}");
        assert!(calls.borrow().is_empty());

        let late = NOW + Duration::days(340);
        let renewed = run_with(root.path(), &config, late, &apply).unwrap();
        assert!(matches!(renewed, Renewed::Applied { .. }), "{renewed}");
        let calls_made = calls.borrow().clone();
        let kinds: Vec<Vec<String>> = calls_made
            .iter()
            .map(|objects| {
                objects
                    .iter()
                    .map(|o| {
                        format!(
                            "{} {}",
                            o["kind"].as_str().unwrap(),
                            o["metadata"]["name"].as_str().unwrap()
                        )
                    })
                    .collect()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                vec![
                    format!("Secret {}", super::super::CA_SECRET),
                    format!("Secret {}", super::super::TLS_SECRET)
                ],
                vec![format!("Deployment {}", super::super::NAME)],
            ]
        );
        // The CA is kept (years left); the serving pair is new, its key 0600,
        // and the Deployment's pod template names the new certificate, so it rolls.
        assert_eq!(read(root.path(), super::super::CA_CERT_PATH), ca_before);
        let cert_after = read(root.path(), super::super::CERT_PATH);
        assert_ne!(cert_after, cert_before);
        let key = crate::root::under(root.path(), super::super::KEY_PATH);
        assert_eq!(
            std::fs::metadata(key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let annotation = &calls_made[1][0]["spec"]["template"]["metadata"]["annotations"]
            [super::super::objects::CERT_ANNOTATION];
        assert!(annotation.is_string(), "{annotation}");

        // Renewed: the same day again changes nothing.
        calls.borrow_mut().clear();
        let again = run_with(root.path(), &config, late, &apply).unwrap();
        assert!(matches!(again, Renewed::Unchanged), "{again}");
        assert!(calls.borrow().is_empty());
    }

    #[test]
    fn with_no_protected_route_nothing_is_renewed() {
        let mut config: Config = toml::from_str(
            "[[routes]]\nprefix = \"/\"\nservice = \"status\"\nport = 80\nauth = \"none\"\n",
        )
        .unwrap();
        config.auth = Config::default().auth;
        let root = kept_at_now(&Config::default());
        let renewed = run_with(root.path(), &config, NOW + Duration::days(340), |_| {
            panic!("nothing is applied")
        })
        .unwrap();
        assert!(matches!(renewed, Renewed::Unchanged), "{renewed}");
    }
}
