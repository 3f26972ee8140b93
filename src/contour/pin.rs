//! The pinned Contour release: which version, which file, which digest, and how
//! envoy is exposed. The manifest ships inside the appliance image (no network
//! at first boot); its sha256 is checked before a single byte is parsed.

use std::path::{Path, PathBuf};

use aws_lc_rs::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ContourError, Object, describe};
use crate::root::{Links, read_local};

/// The Contour release this ovaboot build was tested with.
pub const DEFAULT_VERSION: &str = "v1.33.6";

/// sha256 of Contour's rendered `contour.yaml` for [`DEFAULT_VERSION`].
pub const DEFAULT_SHA256: &str = "1d2e45c4bb31bea93085231d9b50e2c95ad92432253872b683e672eb7cecbbd8";

/// Where the appliance image keeps release manifests (`contour-<version>.yaml`).
pub const MANIFEST_DIR: &str = "/usr/share/ovaboot/contour";

/// How envoy receives traffic on the appliance's ports 80 and 443.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnvoyExposure {
    /// envoy in the host's network namespace, listening on 80/443 itself; no
    /// LoadBalancer and no hostPort NAT involved (works on k3s with ServiceLB off).
    #[default]
    HostNetwork,
    /// Contour's stock layout: envoy on 8080/8443 in the pod network, hostPort
    /// 80/443 mapped by the CNI portmap plugin, envoy Service of type LoadBalancer.
    HostPort,
}

/// `[contour]` in the agent's config. Every key has a default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContourConfig {
    /// Release tag, e.g. `v1.33.6`; must match the contour image tag in the manifest.
    pub version: String,
    /// The release manifest; default `/usr/share/ovaboot/contour/contour-<version>.yaml`.
    pub manifest: Option<PathBuf>,
    /// Lowercase hex sha256 of the manifest file.
    pub sha256: String,
    pub envoy_exposure: EnvoyExposure,
}

impl Default for ContourConfig {
    fn default() -> Self {
        ContourConfig {
            version: DEFAULT_VERSION.to_owned(),
            manifest: None,
            sha256: DEFAULT_SHA256.to_owned(),
            envoy_exposure: EnvoyExposure::default(),
        }
    }
}

impl ContourConfig {
    /// The manifest file: `manifest` if set, else the versioned default path.
    pub fn manifest_path(&self) -> PathBuf {
        match &self.manifest {
            Some(path) => path.clone(),
            None => Path::new(MANIFEST_DIR).join(format!("contour-{}.yaml", self.version)),
        }
    }

    /// Refuse values that cannot be right before touching any file.
    pub fn validate(&self) -> Result<(), ContourError> {
        if !is_release_tag(&self.version) {
            return Err(ContourError::Config {
                key: "version",
                problem: format!(
                    "{:?} is not a release tag like \"v1.33.6\" (v, then three numbers separated by dots)",
                    self.version
                ),
            });
        }
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ContourError::Config {
                key: "sha256",
                problem: format!(
                    "{:?} is not a sha256 digest (64 hexadecimal characters)",
                    self.sha256
                ),
            });
        }
        if self.manifest.as_ref().is_some_and(|p| !p.is_absolute()) {
            return Err(ContourError::Config {
                key: "manifest",
                problem: "must be an absolute path".to_owned(),
            });
        }
        Ok(())
    }
}

fn is_release_tag(version: &str) -> bool {
    let Some(numbers) = version.strip_prefix('v') else {
        return false;
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The most the Contour manifest may hold (v1.33.6's is 570 KB).
pub const MANIFEST_LIMIT: u64 = 16 * 1024 * 1024;

/// Read the configured manifest (never blocking, capped), check its sha256, then parse it into objects
/// in file order (which is Contour's apply order: namespace, CRDs, RBAC, workloads).
pub fn load_manifest(config: &ContourConfig) -> Result<Vec<Object>, ContourError> {
    config.validate()?;
    let path = config.manifest_path();
    let read = |source| ContourError::Read {
        path: path.clone(),
        source,
    };
    let bytes = match read_local(&path, MANIFEST_LIMIT, Links::Follow) {
        Ok(Some(file)) => file.bytes,
        Ok(None) => return Err(read(crate::root::not_found())),
        Err(e) => return Err(read(e.into_io_error())),
    };
    let objects = parse_manifest(&bytes, &path, &config.sha256)?;
    tracing::debug!(path = %path.display(), objects = objects.len(), "loaded the pinned Contour manifest");
    Ok(objects)
}

/// Check `bytes` against `expected_sha256` and only then parse them as
/// multi-document YAML. `path` is for messages. Empty documents are skipped.
pub fn parse_manifest(
    bytes: &[u8],
    path: &Path,
    expected_sha256: &str,
) -> Result<Vec<Object>, ContourError> {
    let actual = sha256_hex(bytes);
    if !actual.eq_ignore_ascii_case(expected_sha256) {
        return Err(ContourError::Digest {
            path: path.to_owned(),
            expected: expected_sha256.to_ascii_lowercase(),
            actual,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| ContourError::Parse {
        path: path.to_owned(),
        message: format!("not UTF-8: {e}"),
    })?;
    let documents: Vec<Value> =
        crate::yaml::documents(text).map_err(|message| ContourError::Parse {
            path: path.to_owned(),
            message,
        })?;
    documents
        .into_iter()
        .enumerate()
        .map(|(index, document)| {
            check_is_object(&document).map_err(|problem| ContourError::NotAnObject {
                path: path.to_owned(),
                index,
                problem,
            })?;
            Ok(document)
        })
        .collect()
}

fn check_is_object(document: &Value) -> Result<(), String> {
    if !document.is_object() {
        return Err("not a mapping".to_owned());
    }
    for field in ["apiVersion", "kind"] {
        if document.get(field).and_then(Value::as_str).is_none() {
            return Err(format!("no {field}"));
        }
    }
    if super::objects::at(document, "metadata.name")
        .and_then(Value::as_str)
        .is_none()
    {
        return Err(format!("{}: no metadata.name", describe(document)));
    }
    Ok(())
}

/// Lowercase hex sha256, as `sha256sum` prints it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    digest(&SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contour::test_support::{fixture, real_manifest_path};

    #[test]
    fn defaults_pin_the_tested_release() {
        let config: ContourConfig = toml::from_str("").unwrap();
        assert_eq!(config.version, "v1.33.6");
        assert_eq!(config.sha256, DEFAULT_SHA256);
        assert_eq!(config.envoy_exposure, EnvoyExposure::HostNetwork);
        assert_eq!(
            config.manifest_path(),
            Path::new("/usr/share/ovaboot/contour/contour-v1.33.6.yaml")
        );
    }

    #[test]
    fn the_default_digest_is_the_real_manifests_digest() {
        let bytes = std::fs::read(real_manifest_path()).unwrap();
        assert_eq!(sha256_hex(&bytes), DEFAULT_SHA256);
    }

    #[test]
    fn config_keys_parse_and_unknown_keys_are_refused() {
        let config: ContourConfig = toml::from_str(
            "version = \"v1.34.0\"\nenvoy_exposure = \"host-port\"\nsha256 = \"00\"\n",
        )
        .unwrap();
        assert_eq!(config.envoy_exposure, EnvoyExposure::HostPort);
        assert_eq!(
            config.manifest_path(),
            Path::new("/usr/share/ovaboot/contour/contour-v1.34.0.yaml")
        );
        let err = toml::from_str::<ContourConfig>("envoy_exposur = \"host-port\"\n").unwrap_err();
        assert!(err.to_string().contains("envoy_exposur"), "{err}");
        let err = toml::from_str::<ContourConfig>("envoy_exposure = \"nodeport\"\n").unwrap_err();
        assert!(err.to_string().contains("host-network"), "{err}");
    }

    #[test]
    fn bad_config_values_name_their_key() {
        let bad_version = ContourConfig {
            version: "1.33.6/../../etc".into(),
            ..ContourConfig::default()
        };
        let err = load_manifest(&bad_version).unwrap_err().to_string();
        assert!(err.starts_with("contour.version: "), "{err}");

        let bad_digest = ContourConfig {
            sha256: "1d2e45".into(),
            ..ContourConfig::default()
        };
        let err = load_manifest(&bad_digest).unwrap_err().to_string();
        assert!(err.starts_with("contour.sha256: "), "{err}");

        let relative = ContourConfig {
            manifest: Some("contour.yaml".into()),
            ..ContourConfig::default()
        };
        let err = load_manifest(&relative).unwrap_err().to_string();
        assert_eq!(err, "contour.manifest: must be an absolute path");
    }

    #[test]
    fn loads_the_real_pinned_manifest() {
        let config = ContourConfig {
            manifest: Some(real_manifest_path()),
            ..ContourConfig::default()
        };
        let objects = load_manifest(&config).unwrap();
        assert_eq!(objects.len(), 21);
        assert_eq!(describe(&objects[0]), "Namespace projectcontour");
        assert_eq!(describe(&objects[20]), "DaemonSet projectcontour/envoy");
        // YAML 1.1 octal, as Kubernetes reads it: 0644 == 420.
        let contour = &objects[19];
        assert_eq!(
            contour["spec"]["template"]["spec"]["volumes"][1]["configMap"]["defaultMode"],
            420
        );
    }

    #[test]
    fn a_missing_manifest_names_the_file() {
        let config = ContourConfig {
            manifest: Some("/nonexistent/contour-v1.33.6.yaml".into()),
            ..ContourConfig::default()
        };
        let err = load_manifest(&config).unwrap_err().to_string();
        assert!(
            err.starts_with("cannot read the Contour manifest /nonexistent/contour-v1.33.6.yaml: "),
            "{err}"
        );
    }

    #[test]
    fn a_digest_mismatch_names_file_expected_and_actual_digests() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("contour-v1.33.6.yaml");
        let mut bytes = std::fs::read(real_manifest_path()).unwrap();
        bytes.extend_from_slice(b"\n# one extra line\n");
        std::fs::write(&path, &bytes).unwrap();
        let config = ContourConfig {
            manifest: Some(path.clone()),
            ..ContourConfig::default()
        };
        let err = load_manifest(&config).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "the Contour manifest {} has sha256 {}, but contour.sha256 pins {DEFAULT_SHA256}: it is not the pinned release",
                path.display(),
                sha256_hex(&bytes)
            )
        );
    }

    #[test]
    fn the_digest_is_checked_before_parsing() {
        // Garbage that would fail to parse: the digest error must win.
        let garbage = b"kind: [unclosed\n";
        let err = parse_manifest(garbage, Path::new("/x.yaml"), DEFAULT_SHA256).unwrap_err();
        assert!(matches!(err, ContourError::Digest { .. }), "{err}");
        // With its own digest it gets as far as the parser.
        let err = parse_manifest(garbage, Path::new("/x.yaml"), &sha256_hex(garbage)).unwrap_err();
        assert!(matches!(err, ContourError::Parse { .. }), "{err}");
        assert!(!err.to_string().contains('\n'), "{err}");
    }

    #[test]
    fn empty_documents_are_skipped_and_non_objects_refused() {
        let bytes = fixture("with-empty-documents.yaml");
        let objects = parse_manifest(&bytes, Path::new("/f"), &sha256_hex(&bytes)).unwrap();
        let names: Vec<String> = objects.iter().map(describe).collect();
        assert_eq!(
            names,
            [
                "Namespace projectcontour",
                "ServiceAccount projectcontour/envoy"
            ]
        );

        let bytes =
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n- just\n- a list\n";
        let err = parse_manifest(bytes, Path::new("/f"), &sha256_hex(bytes)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the Contour manifest /f: document 1 is not a Kubernetes object: not a mapping"
        );
    }
}
