//! The certificates Contour's xDS server and envoy authenticate each other
//! with, minted and renewed by ovaboot instead of the pinned release's
//! `contour-certgen` Job (which runs once, and whose pairs expire after 365
//! days with nobody to renew them).
//!
//! What Contour expects to read is certgen's `--secrets-format=compact`
//! (contour v1.33.6 `internal/certgen/certgen.go` `AsSecrets`): two Secrets of
//! type `kubernetes.io/tls` in Contour's namespace, `contourcert` (Contour's
//! serving pair) and `envoycert` (envoy's client pair), each holding `tls.crt`,
//! `tls.key` and the CA as `ca.crt` (`internal/dag/secret.go`
//! `CACertificateKey`). The Deployment mounts `contourcert` at `/certs` for
//! `contour serve --contour-cafile/--contour-cert-file/--contour-key-file`;
//! the DaemonSet mounts `envoycert` for envoy's bootstrap. The leaves' names
//! are certgen's (`pkg/certs/certgen.go` `serviceNames`): the Service name,
//! `name.namespace`, `name.namespace.svc` and `name.namespace.svc.cluster.local`;
//! envoy checks that Contour's pair carries the DNS name `contour`
//! (`internal/envoy/v3/bootstrap.go`), and Contour requires envoy's pair to
//! chain to the CA (`cmd/contour/servecontext.go`, `RequireAndVerifyClientCert`).
//!
//! The CA's key is kept in a 0600 file on the host beside the pairs
//! ([`CA_KEY_PATH`]): one trust anchor for both Secrets, so renewing a pair
//! changes only that pair, and a CA renewal keeps the key
//! ([`Authority::renew`]), so a pod that still mounts the old `ca.crt` for
//! the minute the kubelet takes to update its volume trusts the new pairs.
//!
//! [`plan`] is pure but for randomness: it keeps every kept file that is still
//! exactly what it would mint now ([`crate::tls::pki`]), so a rerun changes
//! nothing, and says why it minted whatever it did.

pub mod config;
pub mod record;
pub mod renew;

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use time::OffsetDateTime;
use zeroize::Zeroizing;

pub use config::{XdsConfig, XdsConfigError};

use crate::plan::PlannedFile;
use crate::secret::Secret;
use crate::tls::ZeroizingJson;
use crate::tls::pki::{LeafSpec, MintError, Pair, Usage};

/// Contour's namespace in the pinned release.
pub const NAMESPACE: &str = "projectcontour";
/// The cluster's DNS domain (k3s's default), the last of certgen's names.
pub const CLUSTER_DOMAIN: &str = "cluster.local";
/// The Secret Contour's Deployment mounts.
pub const CONTOUR_SECRET: &str = "contourcert";
/// The Secret envoy's DaemonSet mounts.
pub const ENVOY_SECRET: &str = "envoycert";
/// The CA's subject common name.
pub const CA_COMMON_NAME: &str = "ovaboot xDS CA";

/// Where the CA and the pairs are kept on the host (beside the serving pair,
/// in a folder the cluster units may write).
pub const DIR: &str = "/etc/ovaboot/tls/xds";
pub const CA_CERT_PATH: &str = "/etc/ovaboot/tls/xds/ca.crt";
pub const CA_KEY_PATH: &str = "/etc/ovaboot/tls/xds/ca.key";
pub const CONTOUR_CERT_PATH: &str = "/etc/ovaboot/tls/xds/contour.crt";
pub const CONTOUR_KEY_PATH: &str = "/etc/ovaboot/tls/xds/contour.key";
pub const ENVOY_CERT_PATH: &str = "/etc/ovaboot/tls/xds/envoy.crt";
pub const ENVOY_KEY_PATH: &str = "/etc/ovaboot/tls/xds/envoy.key";

/// Every file this step writes (for the phases that write only the pairs).
pub const PATHS: [&str; 6] = [
    CA_KEY_PATH,
    CA_CERT_PATH,
    CONTOUR_KEY_PATH,
    CONTOUR_CERT_PATH,
    ENVOY_KEY_PATH,
    ENVOY_CERT_PATH,
];

/// Whether `path` is one of the files this step writes.
pub fn is_xds_file(path: &std::path::Path) -> bool {
    PATHS.iter().any(|p| path == std::path::Path::new(p))
}

/// One kept certificate and its key, as read from the host.
#[derive(Clone)]
pub struct KeptPair {
    pub cert_pem: String,
    pub key_pem: Secret<String>,
}

/// A kept file's text under `root`, read inside the root, regular files only,
/// capped ([`crate::root::read_file`]); `None` for what cannot be read or is
/// not UTF-8 (counted as not kept: the plan mints it anew).
pub fn read_kept_text(root: &Path, path: &str) -> Option<Zeroizing<String>> {
    let read = crate::root::read_file(root, path, crate::facts::TLS_FILE_LIMIT)
        .ok()
        .flatten()?;
    let text = std::str::from_utf8(&read.bytes).ok()?;
    Some(Zeroizing::new(text.to_owned()))
}

/// The pair kept at `cert` and `key` under `root`, if both can be read.
pub fn read_kept_pair(root: &Path, cert: &str, key: &str) -> Option<KeptPair> {
    Some(KeptPair {
        cert_pem: read_kept_text(root, cert)?.to_string(),
        key_pem: Secret::new(read_kept_text(root, key)?.to_string()),
    })
}

impl fmt::Debug for KeptPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeptPair")
            .field("key_pem", &self.key_pem)
            .finish_non_exhaustive()
    }
}

/// What an earlier run kept on the host (each `None` when missing or unreadable).
#[derive(Debug, Clone, Default)]
pub struct Kept {
    pub ca: Option<KeptPair>,
    pub contour: Option<KeptPair>,
    pub envoy: Option<KeptPair>,
}

/// Which certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Which {
    Ca,
    Contour,
    Envoy,
}

impl Which {
    pub fn as_str(self) -> &'static str {
        match self {
            Which::Ca => "xDS CA",
            Which::Contour => "Contour's xDS serving pair",
            Which::Envoy => "envoy's xDS client pair",
        }
    }
}

/// Why a certificate was minted rather than kept.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Minted {
    pub which: Which,
    pub why: String,
}

/// The xDS CA and pairs to put on the host and in the two Secrets.
#[derive(Debug, Clone)]
pub struct XdsPlan {
    pub ca: Pair,
    pub contour: Pair,
    pub envoy: Pair,
    /// Empty when everything kept was kept.
    pub minted: Vec<Minted>,
}

/// Why no xDS certificate could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("xDS certificates: {0}")]
pub struct XdsError(#[from] pub MintError);

impl crate::failure::Transience for XdsError {
    fn is_transient(&self) -> bool {
        false
    }
}

/// The leaf Contour serves xDS with, under certgen's names.
pub fn contour_spec() -> LeafSpec {
    leaf("contour", Usage::Server)
}

/// The leaf envoy connects with.
pub fn envoy_spec() -> LeafSpec {
    leaf("envoy", Usage::Client)
}

fn leaf(service: &str, usage: Usage) -> LeafSpec {
    LeafSpec {
        common_name: service.to_owned(),
        dns_names: vec![
            service.to_owned(),
            format!("{service}.{NAMESPACE}"),
            format!("{service}.{NAMESPACE}.svc"),
            format!("{service}.{NAMESPACE}.svc.{CLUSTER_DOMAIN}"),
        ],
        usage,
    }
}

/// The CA and pairs for `now`: what is kept where it is still exactly what
/// would be minted, the rest minted (a renewed CA keeps its key; a CA that
/// changed at all gets new pairs, so both Secrets change together).
pub fn plan(kept: &Kept, config: &XdsConfig, now: OffsetDateTime) -> Result<XdsPlan, XdsError> {
    let algorithm = config.key_algorithm;
    let ca_lifetime = config.ca_lifetime();
    let lifetime = config.leaf_lifetime();
    let mut minted = Vec::new();
    let (ca, why) = crate::tls::pki::keep_or_mint_ca(
        kept.ca.as_ref().map(|p| (p.cert_pem.as_str(), &p.key_pem)),
        CA_COMMON_NAME,
        algorithm,
        &ca_lifetime,
        now,
    )?;
    let ca_kept = why.is_none();
    if let Some(why) = why {
        minted.push(Minted {
            which: Which::Ca,
            why,
        });
    }
    let mut pair_for = |which: Which, spec: &LeafSpec, kept: Option<&KeptPair>| {
        let reason = match (ca_kept, kept) {
            (false, _) => "the CA changed".to_owned(),
            (true, None) => "none is kept yet".to_owned(),
            (true, Some(pair)) => {
                match ca.verify(
                    &pair.cert_pem,
                    &pair.key_pem,
                    spec,
                    algorithm,
                    &lifetime,
                    now,
                ) {
                    Ok(pair) => return Ok(pair),
                    Err(why) => why.to_string(),
                }
            }
        };
        minted.push(Minted { which, why: reason });
        ca.issue(spec, algorithm, &lifetime, now)
    };
    let contour = pair_for(Which::Contour, &contour_spec(), kept.contour.as_ref())?;
    let envoy = pair_for(Which::Envoy, &envoy_spec(), kept.envoy.as_ref())?;
    for m in &minted {
        tracing::info!(certificate = m.which.as_str(), why = %m.why, "xDS certificate minted");
    }
    Ok(XdsPlan {
        ca: ca.pair().clone(),
        contour,
        envoy,
        minted,
    })
}

impl XdsPlan {
    /// The host files: each key renamed into place before its certificate,
    /// so a power cut between the two leaves a pair that does not match
    /// (minted again at the next run) rather than an old key under a new
    /// certificate. The folder is 0700: it holds the CA's key.
    pub fn files(&self) -> Vec<PlannedFile> {
        let mut files = Vec::new();
        for (pair, key_path, cert_path) in [
            (&self.ca, CA_KEY_PATH, CA_CERT_PATH),
            (&self.contour, CONTOUR_KEY_PATH, CONTOUR_CERT_PATH),
            (&self.envoy, ENVOY_KEY_PATH, ENVOY_CERT_PATH),
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

    /// `contourcert` and `envoycert`, in certgen's compact format.
    pub fn secrets(&self) -> [Secret<ZeroizingJson>; 2] {
        [
            compact_secret(CONTOUR_SECRET, &self.contour, &self.ca.cert_pem),
            compact_secret(ENVOY_SECRET, &self.envoy, &self.ca.cert_pem),
        ]
    }

    /// The SHA-256 of each certificate, as recorded once the Secrets hold them.
    pub fn fingerprints(&self) -> record::Fingerprints {
        record::Fingerprints {
            ca: self.ca.sha256.clone(),
            contour: self.contour.sha256.clone(),
            envoy: self.envoy.sha256.clone(),
        }
    }

    /// Each certificate with its dates, for the summary and `status`.
    pub fn certificates(&self) -> [(Which, &Pair); 3] {
        [
            (Which::Ca, &self.ca),
            (Which::Contour, &self.contour),
            (Which::Envoy, &self.envoy),
        ]
    }
}

/// A `kubernetes.io/tls` Secret as certgen's `AsSecrets` writes it: `ca.crt`,
/// `tls.crt`, `tls.key`, labelled `app: contour`.
fn compact_secret(name: &str, pair: &Pair, ca_pem: &str) -> Secret<ZeroizingJson> {
    let key = Zeroizing::new(STANDARD.encode(pair.key_pem.expose().as_bytes()));
    let document = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {
                "app": "contour",
                "app.kubernetes.io/managed-by": "ovaboot",
            },
        },
        "data": {
            "ca.crt": STANDARD.encode(ca_pem.as_bytes()),
            "tls.crt": STANDARD.encode(pair.cert_pem.as_bytes()),
            "tls.key": key.as_str(),
        },
    });
    Secret::new(ZeroizingJson::new(document))
}

/// What `plan.json` says of the xDS certificates.
#[derive(Debug, serde::Serialize)]
pub struct XdsSummary {
    pub secrets: [&'static str; 2],
    pub certificates: Vec<XdsCertificateSummary>,
    /// What was minted rather than kept, and why (empty on a rerun).
    pub minted: Vec<Minted>,
}

#[derive(Debug, serde::Serialize)]
pub struct XdsCertificateSummary {
    pub certificate: Which,
    pub sha256: String,
    pub not_before: String,
    pub not_after: String,
}

impl XdsSummary {
    pub fn of(plan: &XdsPlan) -> XdsSummary {
        XdsSummary {
            secrets: [CONTOUR_SECRET, ENVOY_SECRET],
            certificates: plan
                .certificates()
                .iter()
                .map(|(which, pair)| XdsCertificateSummary {
                    certificate: *which,
                    sha256: pair.sha256.clone(),
                    not_before: crate::state::rfc3339(pair.validity.not_before),
                    not_after: crate::state::rfc3339(pair.validity.not_after),
                })
                .collect(),
            minted: plan.minted.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
