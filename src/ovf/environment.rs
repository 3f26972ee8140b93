//! Reading the OVF environment: transports in order, the first that delivers
//! wins, its document parsed and its overrides applied.

use std::fmt;

use super::document::{self, DocumentError};
use super::transport::{Fetched, Transport, TransportError};
use super::{OvfEnvironment, Properties};

/// What one transport did when it did not deliver.
#[derive(Debug)]
pub struct Attempt {
    pub transport: &'static str,
    pub outcome: Outcome,
}

#[derive(Debug)]
pub enum Outcome {
    Skipped(String),
    Failed(TransportError),
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Outcome::Skipped(why) => write!(f, "{} skipped ({why})", self.transport),
            Outcome::Failed(e) => write!(f, "{} transport: {e}", self.transport),
        }
    }
}

/// The attempts as one line.
#[derive(Debug)]
pub struct Attempts(pub Vec<Attempt>);

impl fmt::Display for Attempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no transport was tried");
        }
        for (i, attempt) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{attempt}")?;
        }
        Ok(())
    }
}

/// Why no OVF environment could be read.
#[derive(Debug, thiserror::Error)]
pub enum OvfError {
    /// Every transport was skipped: this machine was given no OVF environment.
    #[error("no OVF environment found: {0}")]
    NotFound(Attempts),
    /// None delivered and at least one that applied failed.
    #[error("the OVF environment could not be read: {0}")]
    Failed(Attempts),
    /// A transport delivered a document that is not a valid OVF environment.
    #[error("the OVF environment from {transport} ({origin}) is invalid: {source}")]
    Document {
        transport: &'static str,
        origin: String,
        source: DocumentError,
    },
}

/// Tries `transports` in order and returns the first environment delivered;
/// secret keys are classified by the embedded descriptor.
pub fn read_environment(transports: &[Box<dyn Transport>]) -> Result<OvfEnvironment, OvfError> {
    read_environment_with(transports, super::descriptor::is_secret_key)
}

/// [`read_environment`] with a classifier of secret keys.
pub fn read_environment_with(
    transports: &[Box<dyn Transport>],
    is_secret: impl Fn(&str) -> bool,
) -> Result<OvfEnvironment, OvfError> {
    let mut attempts = Vec::new();
    for transport in transports {
        let name = transport.name();
        let delivery = match transport.fetch() {
            Ok(Fetched::Found(delivery)) => delivery,
            Ok(Fetched::Skipped(why)) => {
                tracing::info!(transport = name, reason = %why, "OVF transport skipped");
                attempts.push(Attempt {
                    transport: name,
                    outcome: Outcome::Skipped(why),
                });
                continue;
            }
            Err(e) => {
                // Reported in the final error, or warned about below when a later one delivers.
                tracing::info!(transport = name, error = %e, "OVF transport failed; trying the next");
                attempts.push(Attempt {
                    transport: name,
                    outcome: Outcome::Failed(e),
                });
                continue;
            }
        };
        for earlier in attempts
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::Failed(_)))
        {
            tracing::warn!(
                transport = name,
                "using {name} although an earlier transport failed: {earlier}"
            );
        }
        let mut properties = match &delivery.document {
            Some(bytes) => document::parse_with(bytes.expose(), &is_secret).map_err(|source| {
                OvfError::Document {
                    transport: name,
                    origin: delivery.origin.clone(),
                    source,
                }
            })?,
            None => Properties::new(),
        };
        for (key, value) in &delivery.overrides {
            let replaced = properties
                .insert(
                    key.clone(),
                    document::classify(key, value.expose().clone(), &is_secret),
                )
                .is_some();
            tracing::info!(transport = name, key = %key, replaced, "property set directly, overriding the document");
        }
        tracing::info!(
            transport = name,
            origin = %delivery.origin,
            properties = properties.len(),
            "OVF environment read"
        );
        return Ok(OvfEnvironment {
            transport: name.to_owned(),
            properties,
        });
    }
    let attempts = Attempts(attempts);
    if attempts
        .0
        .iter()
        .any(|a| matches!(a.outcome, Outcome::Failed(_)))
    {
        Err(OvfError::Failed(attempts))
    } else {
        Err(OvfError::NotFound(attempts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ovf::PropertyValue;
    use crate::ovf::transport::{
        FileTransport, FwCfgTransport, GuestInfoTransport, IsoTransport, MemoryGuestInfo,
    };

    const VCENTER: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ovf-env/vcenter-with-ve-namespace.xml"
    );

    fn guestinfo(memory: MemoryGuestInfo) -> Box<dyn Transport> {
        Box::new(GuestInfoTransport::with_readers(vec![Box::new(memory)]))
    }

    /// iso and fw_cfg pointed at empty roots: both skip.
    fn absent(root: &std::path::Path) -> Vec<Box<dyn Transport>> {
        vec![
            Box::new(IsoTransport::new().with_roots(root.join("sys"), root.join("dev"))),
            Box::new(FwCfgTransport::with_root(root)),
        ]
    }

    #[test]
    fn explicit_file_is_read_and_named() {
        let env = read_environment(&[Box::new(FileTransport::new(VCENTER))]).unwrap();
        assert_eq!(env.transport, "file");
        assert_eq!(
            env.properties["guestinfo.hostname"].expose(),
            "veba01.lab.example.com"
        );
        assert!(env.properties["guestinfo.tls_key"].is_secret());
    }

    #[test]
    fn guestinfo_overrides_win_over_the_document_and_are_classified() {
        let memory = MemoryGuestInfo::new()
            .set("guestinfo.ovfEnv", std::fs::read(VCENTER).unwrap())
            .set("guestinfo.hostname", "override.example.com")
            .set("guestinfo.tls_key", "OVERRIDE-KEY-MATERIAL");
        let env = read_environment(&[guestinfo(memory)]).unwrap();
        assert_eq!(env.transport, "guestinfo");
        assert_eq!(
            env.properties["guestinfo.hostname"],
            PropertyValue::Plain("override.example.com".into())
        );
        assert!(env.properties["guestinfo.tls_key"].is_secret());
        assert_eq!(
            env.properties["guestinfo.tls_key"].expose(),
            "OVERRIDE-KEY-MATERIAL"
        );
        // Keys not overridden keep the document's value.
        assert_eq!(env.properties["guestinfo.gateway"].expose(), "10.0.0.1");
        assert!(!format!("{env:?}").contains("OVERRIDE-KEY-MATERIAL"));
    }

    #[test]
    fn later_transport_is_used_when_earlier_ones_skip() {
        let root = tempfile::tempdir().unwrap();
        let raw = root
            .path()
            .join("sys/firmware/qemu_fw_cfg/by_name/opt/ovaboot/ovf-env/raw");
        std::fs::create_dir_all(raw.parent().unwrap()).unwrap();
        std::fs::copy(VCENTER, &raw).unwrap();
        let mut transports = vec![guestinfo(MemoryGuestInfo::new())];
        transports.extend(absent(root.path()));
        let env = read_environment(&transports).unwrap();
        assert_eq!(env.transport, "fw_cfg");
    }

    #[test]
    fn nothing_found_lists_every_transport_and_why() {
        let root = tempfile::tempdir().unwrap();
        let mut transports = vec![guestinfo(MemoryGuestInfo::new())];
        transports.extend(absent(root.path()));
        let err = read_environment(&transports).unwrap_err();
        assert!(matches!(err, OvfError::NotFound(_)));
        assert_eq!(
            err.to_string(),
            "no OVF environment found: guestinfo skipped (guestinfo.ovfEnv is not set (read via memory) and no \
             declared key is set directly); iso skipped (no CD-ROM drive); fw_cfg skipped (no QEMU fw_cfg in \
             sysfs (not QEMU, or qemu_fw_cfg not loaded))"
        );
    }

    #[test]
    fn failed_transport_is_named_with_its_error() {
        let err = read_environment(&[Box::new(FileTransport::new("/nonexistent/ovf-env.xml"))])
            .unwrap_err();
        assert!(matches!(err, OvfError::Failed(_)));
        assert!(
            err.to_string().starts_with(
                "the OVF environment could not be read: file transport: /nonexistent/ovf-env.xml: "
            ),
            "{err}"
        );
    }

    #[test]
    fn invalid_document_names_the_transport_and_never_the_secret() {
        let memory = MemoryGuestInfo::new().set(
            "guestinfo.ovfEnv",
            r#"<Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" xmlns:oe="http://schemas.dmtf.org/ovf/environment/1"><PropertySection><Property oe:key="guestinfo.tls_key" oe:value="LEAKY&SECRET"/></PropertySection></Environment>"#,
        );
        let err = read_environment(&[guestinfo(memory)]).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(
            shown.starts_with(
                "the OVF environment from guestinfo (guestinfo.ovfEnv via memory) is invalid: "
            ),
            "{shown}"
        );
        assert!(
            !shown.contains("LEAKY") && !shown.contains("SECRET"),
            "{shown}"
        );
    }
}
