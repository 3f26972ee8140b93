//! The appliance's endpoints behind a login: contour-authserver's `htpasswd`
//! backend, pinned and locked down, as plan objects; the admin's endpoint
//! password as a bcrypt htpasswd line in the Secret it reads; and the small
//! CA and serving pair envoy checks it with.
//!
//! What contour-authserver does, from its README and source
//! (`projectcontour/contour-authserver`, `pkg/cli/htpasswd.go`,
//! `pkg/auth/htpasswd.go`, `pkg/auth/server.go`):
//! - `htpasswd --watch-namespaces=NS --selector=L=V --auth-realm=R` lists the
//!   Secrets of those namespaces matching the label selector, keeps those
//!   annotated `projectcontour.io/auth-type: basic` whose
//!   `projectcontour.io/auth-realm` is the realm or `*` (or absent), and reads
//!   the htpasswd lines under their key `auth`;
//! - it serves Envoy's external authorization over gRPC on `--address`
//!   (`:9090` by default; ovaboot gives `:9443`), over TLS with
//!   `--tls-cert-path`/`--tls-key-path` (loaded once, at start), `--tls-ca-path`
//!   going only into `RootCAs`: it does not ask envoy for a client certificate;
//! - it has no health endpoint: `--metrics-address` serves controller-runtime's
//!   metrics (`0` turns it off), so the probes are TCP connects to the gRPC port;
//! - the image is distroless `static:nonroot` (`Dockerfile`), UID 65532.
//!
//! So envoy authenticates the auth server (the ExtensionService's
//! `validation`: our CA, the Service's DNS name), not the reverse; the auth
//! server's own pair reaches it through a Secret volume, and a renewed pair
//! rolls the Deployment (the pod template carries the certificate's
//! fingerprint), since the server reads its pair only at start.
//!
//! Nothing here exists without a protected route: no objects, no files, no
//! password needed.

pub mod config;
pub mod login;
mod objects;
pub mod renew;

use std::path::Path;

use time::OffsetDateTime;

pub use config::{AuthConfig, AuthConfigError};
pub use login::{HtpasswdLine, LineSource};

use crate::config::CredentialsConfig;
use crate::plan::PlannedFile;
use crate::secret::Secret;
use crate::settings::endpoint::{EndpointLogin, KEY_ENDPOINT_PASSWORD};
use crate::tls::pki::{LeafSpec, MintError, Pair, Usage};
use crate::xds::{KeptPair, XdsConfig};

/// Where the CA and serving pair are kept (0700 folder, 0600 keys).
pub const TLS_DIR: &str = "/etc/ovaboot/tls/auth";
pub const CA_CERT_PATH: &str = "/etc/ovaboot/tls/auth/ca.crt";
pub const CA_KEY_PATH: &str = "/etc/ovaboot/tls/auth/ca.key";
pub const CERT_PATH: &str = "/etc/ovaboot/tls/auth/tls.crt";
pub const KEY_PATH: &str = "/etc/ovaboot/tls/auth/tls.key";
/// The htpasswd line, kept so that a rerun reuses its salt (0600, in a 0700 folder).
pub const HTPASSWD_PATH: &str = "/etc/ovaboot/auth/htpasswd";

/// Every file this step writes.
pub const PATHS: [&str; 5] = [
    CA_KEY_PATH,
    CA_CERT_PATH,
    KEY_PATH,
    CERT_PATH,
    HTPASSWD_PATH,
];

/// Whether `path` is one of the files this step writes.
pub fn is_auth_file(path: &Path) -> bool {
    PATHS.iter().any(|p| path == Path::new(p))
}

/// Whether `path` is the auth server's CA or serving pair: files that only
/// the step that also applies them to the cluster may write ([`renew`] and
/// first boot's cluster phase), never a day-2 run that applies the login
/// Secret alone (the Secrets would keep the old pair while the host believes
/// the new one is served).
pub fn is_auth_pki_file(path: &Path) -> bool {
    is_auth_file(path) && path != Path::new(HTPASSWD_PATH)
}

/// The name of the auth server's ServiceAccount, Deployment, Service and ExtensionService.
pub const NAME: &str = "htpasswd";
/// Its serving pair (`kubernetes.io/tls`, mounted at `/tls`).
pub const TLS_SECRET: &str = "htpasswd-tls";
/// The CA alone (`ca.crt`), which the ExtensionService's `validation` names.
pub const CA_SECRET: &str = "htpasswd-ca";
/// The htpasswd Secret (key `auth`).
pub const LOGIN_SECRET: &str = "endpoint-login";
/// The label the auth server's `--selector` selects the login Secret by.
pub const SELECTOR_LABEL: &str = "ovaboot.io/htpasswd";
pub const SELECTOR_VALUE: &str = "endpoint-login";
/// The gRPC port.
pub const PORT: u16 = 9443;
/// The CA's subject common name.
pub const CA_COMMON_NAME: &str = "ovaboot auth server CA";

/// What an earlier run kept on the host (each `None` when missing or unusable).
#[derive(Debug, Clone, Default)]
pub struct Kept {
    pub ca: Option<KeptPair>,
    pub serving: Option<KeptPair>,
    pub line: Option<HtpasswdLine>,
}

/// The auth server's part of the plan.
#[derive(Debug, Clone)]
pub struct AuthPlan {
    pub ca: Pair,
    pub serving: Pair,
    pub line: HtpasswdLine,
    pub line_source: LineSource,
    /// What was minted rather than kept, and why (empty on a rerun).
    pub minted: Vec<String>,
    pub config: AuthConfig,
}

/// Why the login cannot be planned; names the property, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(
        "{KEY_ENDPOINT_PASSWORD}: is required: {protected} (auth = \"required\" is the default); set the password, or set auth = \"none\" on every route"
    )]
    MissingPassword { protected: String },
    #[error(
        "{KEY_ENDPOINT_PASSWORD}: is {given} characters long; at least {min} are required ([credentials] min_password_length)"
    )]
    TooShort { given: usize, min: usize },
    #[error(transparent)]
    Hash(#[from] login::HashError),
    #[error("auth server certificates: {0}")]
    Mint(#[from] MintError),
}

impl crate::failure::Transience for AuthError {
    fn is_transient(&self) -> bool {
        false
    }
}

/// The rules that need no file: a protected route needs a password, of the
/// length `[credentials]` asks (the settings checked what bcrypt takes).
/// `protected` says which route is protected (`None`: none is).
pub fn check(
    login: &EndpointLogin,
    protected: Option<&str>,
    credentials: &CredentialsConfig,
) -> Result<(), AuthError> {
    let Some(protected) = protected else {
        return Ok(());
    };
    let Some(password) = &login.password else {
        return Err(AuthError::MissingPassword {
            protected: protected.to_owned(),
        });
    };
    let length = password.expose().chars().count();
    if length < credentials.min_password_length {
        return Err(AuthError::TooShort {
            given: length,
            min: credentials.min_password_length,
        });
    }
    Ok(())
}

/// The serving pair's names: the Service's, as certgen names Contour's.
pub fn serving_spec(namespace: &str) -> LeafSpec {
    LeafSpec {
        common_name: NAME.to_owned(),
        dns_names: vec![
            NAME.to_owned(),
            format!("{NAME}.{namespace}"),
            format!("{NAME}.{namespace}.svc"),
            format!("{NAME}.{namespace}.svc.{}", crate::xds::CLUSTER_DOMAIN),
        ],
        usage: Usage::Server,
    }
}

/// The name envoy expects in the auth server's certificate.
pub fn subject_name(namespace: &str) -> String {
    format!("{NAME}.{namespace}.svc")
}

/// What the plan needs beyond the login.
pub struct Inputs<'a> {
    pub config: &'a AuthConfig,
    /// Key type and lifetimes (`[xds]`'s: the same kind of internal link).
    pub pki: &'a XdsConfig,
    pub credentials: &'a CredentialsConfig,
}

/// The auth server's plan when a route is protected (`protected`): the
/// login line (kept while it verifies) and the CA and serving pair (kept
/// while still what would be minted now).
pub fn plan(
    login: &EndpointLogin,
    protected: &str,
    kept: &Kept,
    inputs: &Inputs<'_>,
    now: OffsetDateTime,
) -> Result<AuthPlan, AuthError> {
    check(login, Some(protected), inputs.credentials)?;
    let password = login
        .password
        .as_ref()
        .expect("check refuses a protected route without a password");
    let (line, line_source) = login::line(
        &login.username,
        password,
        inputs.config.bcrypt_cost,
        kept.line.as_ref(),
    )?;
    let (ca, serving, minted) = pki(kept, inputs, now)?;
    for why in &minted {
        tracing::info!(why = %why, "auth server certificate minted");
    }
    Ok(AuthPlan {
        ca,
        serving,
        line,
        line_source,
        minted,
        config: inputs.config.clone(),
    })
}

/// The CA (kept, renewed with its key kept when due, else minted) and the
/// serving pair (kept when it verifies under that CA, else issued).
fn pki(
    kept: &Kept,
    inputs: &Inputs<'_>,
    now: OffsetDateTime,
) -> Result<(Pair, Pair, Vec<String>), AuthError> {
    let algorithm = inputs.pki.key_algorithm;
    let ca_lifetime = inputs.pki.ca_lifetime();
    let lifetime = inputs.pki.leaf_lifetime();
    let mut minted = Vec::new();
    let (ca, why) = crate::tls::pki::keep_or_mint_ca(
        kept.ca.as_ref().map(|p| (p.cert_pem.as_str(), &p.key_pem)),
        CA_COMMON_NAME,
        algorithm,
        &ca_lifetime,
        now,
    )?;
    let ca_kept = why.is_none();
    minted.extend(why.map(|why| format!("CA: {why}")));
    let spec = serving_spec(&inputs.config.namespace);
    let reason = match (ca_kept, &kept.serving) {
        (false, _) => "the CA changed".to_owned(),
        (true, None) => "none is kept yet".to_owned(),
        (true, Some(pair)) => {
            match ca.verify(
                &pair.cert_pem,
                &pair.key_pem,
                &spec,
                algorithm,
                &lifetime,
                now,
            ) {
                Ok(serving) => return Ok((ca.pair().clone(), serving, minted)),
                Err(why) => why.to_string(),
            }
        }
    };
    minted.push(format!("serving pair: {reason}"));
    let serving = ca.issue(&spec, algorithm, &lifetime, now)?;
    Ok((ca.pair().clone(), serving, minted))
}

impl AuthPlan {
    /// The host files: keys before their certificates (a cut between leaves
    /// a mismatch, minted again, never an old key under a new certificate).
    pub fn files(&self) -> Vec<PlannedFile> {
        let mut files = AuthPlan::pki_files(&self.ca, &self.serving);
        files.push(htpasswd_file(&self.line));
        files
    }

    /// The CA's and the serving pair's files.
    pub(crate) fn pki_files(ca: &Pair, serving: &Pair) -> Vec<PlannedFile> {
        let mut files = Vec::new();
        for (pair, key_path, cert_path) in [
            (ca, CA_KEY_PATH, CA_CERT_PATH),
            (serving, KEY_PATH, CERT_PATH),
        ] {
            files.push(
                PlannedFile::secret(
                    key_path,
                    Secret::new(pair.key_pem.expose().as_bytes().to_vec()),
                    0o600,
                )
                .in_dir_with_mode(0o700),
            );
            files.push(
                PlannedFile::plain(cert_path, pair.cert_pem.clone().into_bytes(), 0o644)
                    .in_dir_with_mode(0o700),
            );
        }
        files
    }

    /// The objects, in plan order (see [`objects`]).
    pub fn objects(&self) -> objects::AuthObjects {
        objects::objects(self)
    }

    /// Where the root HTTPProxy's `authorization` points.
    pub fn authorization(&self) -> crate::routes::Authorization {
        crate::routes::Authorization {
            namespace: self.config.namespace.clone(),
            name: NAME.to_owned(),
            response_timeout: format!("{}s", self.config.response_timeout_secs),
        }
    }
}

pub use objects::AuthObjects;

/// The kept htpasswd line's file: the hash is as secret as a shadow line.
fn htpasswd_file(line: &HtpasswdLine) -> PlannedFile {
    PlannedFile::secret(
        HTPASSWD_PATH,
        Secret::new(format!("{}\n", line.expose()).into_bytes()),
        0o600,
    )
    .in_dir_with_mode(0o700)
}

/// What plan.json says of the auth server (public data only: never the
/// password nor its hash).
#[derive(Debug, serde::Serialize)]
pub struct AuthSummary {
    pub image: String,
    pub version: String,
    pub namespace: String,
    pub extension_service: String,
    pub realm: String,
    pub bcrypt_cost: u32,
    /// Whether the login line was kept, new or replaced.
    pub login_line: LineSource,
    pub ca_sha256: String,
    pub serving_sha256: String,
    pub serving_not_after: String,
    pub minted: Vec<String>,
}

impl AuthSummary {
    pub fn of(plan: &AuthPlan) -> AuthSummary {
        AuthSummary {
            image: plan.config.image_reference(),
            version: plan.config.version().to_owned(),
            namespace: plan.config.namespace.clone(),
            extension_service: format!("{}/{NAME}", plan.config.namespace),
            realm: plan.config.realm.clone(),
            bcrypt_cost: plan.config.bcrypt_cost,
            login_line: plan.line_source.clone(),
            ca_sha256: plan.ca.sha256.clone(),
            serving_sha256: plan.serving.sha256.clone(),
            serving_not_after: crate::state::rfc3339(plan.serving.validity.not_after),
            minted: plan.minted.clone(),
        }
    }
}

/// What an earlier run kept under `root`, read through [`crate::root::read_file`].
/// What cannot be read or used counts as not kept: minted or hashed again.
pub fn read_kept(root: &Path) -> Kept {
    let pair = |cert, key| crate::xds::read_kept_pair(root, cert, key);
    Kept {
        ca: pair(CA_CERT_PATH, CA_KEY_PATH),
        serving: pair(CERT_PATH, KEY_PATH),
        line: crate::xds::read_kept_text(root, HTPASSWD_PATH)
            .and_then(|t| HtpasswdLine::from_kept(&t)),
    }
}

#[cfg(test)]
mod tests;
