//! Where the OVF environment document comes from. One small trait, one file
//! per transport; [`super::read_environment`] tries them in order.
//!
//! A transport that does not apply here (no VMware, no CD-ROM drive, no
//! fw_cfg entry) answers [`Fetched::Skipped`] at once: nothing waits for a
//! device that is not there.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::secret::Secret;

pub mod file;
pub mod fw_cfg;
pub mod guestinfo;
pub mod iso;
pub mod sample;

pub use file::FileTransport;
pub use fw_cfg::FwCfgTransport;
pub use guestinfo::{GuestInfo, GuestInfoError, GuestInfoTransport, MemoryGuestInfo};
pub use iso::IsoTransport;
pub use sample::SampleTransport;

/// A source of the OVF environment.
pub trait Transport {
    /// As shown to people: `file`, `guestinfo`, `iso`, `fw_cfg`.
    fn name(&self) -> &'static str;
    /// Reads the environment, or says quickly why this transport does not apply.
    fn fetch(&self) -> Result<Fetched, TransportError>;
}

/// What a transport found.
#[derive(Debug)]
pub enum Fetched {
    Found(Delivery),
    /// Does not apply here; the reason is for the log and the final error.
    Skipped(String),
}

/// What a transport delivered. Both parts may hold secrets, so both are
/// wrapped: the `Debug` output shows neither.
#[derive(Debug)]
pub struct Delivery {
    /// Where exactly it came from (`/dev/sr0`, `guestinfo.ovfEnv via backdoor`, a path).
    pub origin: String,
    /// The `ovf-env.xml` bytes; `None` when only overrides were found.
    pub document: Option<Secret<Vec<u8>>>,
    /// Values set directly for declared keys (guestinfo only); they win over
    /// the document's. Unclassified, hence all wrapped as secret here.
    pub overrides: BTreeMap<String, Secret>,
}

impl Delivery {
    /// A delivery of just a document.
    pub fn document(origin: impl Into<String>, bytes: Vec<u8>) -> Self {
        Delivery {
            origin: origin.into(),
            document: Some(Secret::new(bytes)),
            overrides: BTreeMap::new(),
        }
    }
}

/// Why a transport that applies could not deliver.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Said after "could not be read" ([`super::OvfError::Failed`]): the path and why.
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{} is not a regular file", path.display())]
    NotAFile { path: PathBuf },
    #[error("{key} could not be read via {via}: {message}")]
    GuestInfo {
        key: String,
        via: &'static str,
        message: String,
    },
    #[error("{key} is not UTF-8 (read via {via})")]
    GuestInfoNotUtf8 { key: String, via: &'static str },
    #[error("cannot mount {} (iso9660, read-only): {source}", device.display())]
    Mount { device: PathBuf, source: io::Error },
    #[error(
        "{} is labelled \"OVF ENV\" but holds none of ovf-env.xml, OVF-ENV.XML, ovf_env.xml, OVF_ENV.XML",
        device.display()
    )]
    IsoWithoutDocument { device: PathBuf },
}

/// Reads at most one byte more than the document limit, so that an oversized
/// source is refused by the parser without being read whole. Opened without
/// blocking and refused unless a regular file ([`crate::root::open_local`]):
/// a FIFO on an ISO (Rock Ridge has them) or in `--ovf-env` never hangs the boot.
pub(crate) fn read_capped(path: &Path, follow_symlinks: bool) -> Result<Vec<u8>, TransportError> {
    use crate::root::{Links, ReadFileError, open_local};
    let links = if follow_symlinks {
        Links::Follow
    } else {
        Links::Refuse
    };
    let err = |source| TransportError::Read {
        path: path.to_owned(),
        source,
    };
    let file = match open_local(path, links) {
        Ok(Some(file)) => file,
        Ok(None) => return Err(err(crate::root::not_found())),
        Err(ReadFileError::NotRegular { .. }) => {
            return Err(TransportError::NotAFile {
                path: path.to_owned(),
            });
        }
        Err(e) => return Err(err(e.into_io_error())),
    };
    let limit = super::document::MAX_DOCUMENT_BYTES as u64 + 1;
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes).map_err(err)?;
    Ok(bytes)
}

/// The transports in their default order: an explicit file alone when given,
/// else guestinfo, iso, fw_cfg, probing the real machine.
pub fn default_transports(ovf_env_file: Option<&Path>) -> Vec<Box<dyn Transport>> {
    if let Some(path) = ovf_env_file {
        return vec![Box::new(FileTransport::new(path))];
    }
    vec![
        Box::new(GuestInfoTransport::detect()),
        Box::new(IsoTransport::new()),
        Box::new(FwCfgTransport::new()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ovf::document::MAX_DOCUMENT_BYTES;

    #[test]
    fn delivery_debug_shows_no_document_or_override_value() {
        let mut delivery =
            Delivery::document("test", b"<Environment oe:value=\"DOCSECRET\"/>".to_vec());
        delivery.overrides.insert(
            "guestinfo.tls_key".into(),
            Secret::new("OVERRIDESECRET".into()),
        );
        let debug = format!("{delivery:?}");
        assert!(
            !debug.contains("DOCSECRET") && !debug.contains("OVERRIDESECRET"),
            "{debug}"
        );
        assert!(debug.contains("guestinfo.tls_key"));
    }

    #[test]
    fn capped_read_stops_one_byte_past_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.xml");
        std::fs::write(&path, vec![b' '; MAX_DOCUMENT_BYTES * 2]).unwrap();
        assert_eq!(
            read_capped(&path, true).unwrap().len(),
            MAX_DOCUMENT_BYTES + 1
        );
    }

    #[test]
    fn capped_read_refuses_symlinks_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.xml");
        std::fs::write(&target, b"<x/>").unwrap();
        let link = dir.path().join("ovf-env.xml");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(
            read_capped(&link, false),
            Err(TransportError::Read { .. })
        ));
        assert_eq!(read_capped(&link, true).unwrap(), b"<x/>");
    }

    #[test]
    fn capped_read_refuses_a_fifo_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("ovf-env.xml");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let err = crate::root::test_support::returns("reading a FIFO ovf-env.xml", move || {
            read_capped(&fifo, true)
        });
        assert!(
            matches!(err, Err(TransportError::NotAFile { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn capped_read_refuses_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_capped(dir.path(), true),
            Err(TransportError::NotAFile { .. })
        ));
    }

    #[test]
    fn explicit_file_is_the_only_transport() {
        let transports = default_transports(Some(Path::new("/nonexistent/ovf-env.xml")));
        let names: Vec<&str> = transports.iter().map(|t| t.name()).collect();
        assert_eq!(names, ["file"]);
        let names: Vec<&str> = default_transports(None).iter().map(|t| t.name()).collect();
        assert_eq!(names, ["guestinfo", "iso", "fw_cfg"]);
    }
}
