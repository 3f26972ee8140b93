//! QEMU fw_cfg: `-fw_cfg name=opt/ovaboot/ovf-env,file=ovf-env.xml` hands the
//! document to a VM without vSphere (CI, local tests). Linux exposes it, with
//! the `qemu_fw_cfg` module, under `/sys/firmware/qemu_fw_cfg/by_name/`.

use std::path::{Path, PathBuf};

use super::{Delivery, Fetched, Transport, TransportError, read_capped};

/// The fw_cfg item name (QEMU wants user items under `opt/`).
pub const FW_CFG_NAME: &str = "opt/ovaboot/ovf-env";

const FW_CFG_DIR: &str = "sys/firmware/qemu_fw_cfg";

#[derive(Debug, Clone)]
pub struct FwCfgTransport {
    root: PathBuf,
}

impl FwCfgTransport {
    pub fn new() -> Self {
        Self::with_root("/")
    }

    /// `root` stands for `/` (tests give a temporary directory).
    pub fn with_root(root: impl AsRef<Path>) -> Self {
        FwCfgTransport {
            root: root.as_ref().to_owned(),
        }
    }

    fn raw_path(&self) -> PathBuf {
        self.root
            .join(FW_CFG_DIR)
            .join("by_name")
            .join(FW_CFG_NAME)
            .join("raw")
    }
}

impl Default for FwCfgTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl Transport for FwCfgTransport {
    fn name(&self) -> &'static str {
        "fw_cfg"
    }

    fn fetch(&self) -> Result<Fetched, TransportError> {
        if !self.root.join(FW_CFG_DIR).is_dir() {
            return Ok(Fetched::Skipped(
                "no QEMU fw_cfg in sysfs (not QEMU, or qemu_fw_cfg not loaded)".into(),
            ));
        }
        let raw = self.raw_path();
        if !raw.exists() {
            return Ok(Fetched::Skipped(format!(
                "fw_cfg has no {FW_CFG_NAME} item"
            )));
        }
        let bytes = read_capped(&raw, false)?;
        Ok(Fetched::Found(Delivery::document(
            format!("fw_cfg {FW_CFG_NAME}"),
            bytes,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_without_fw_cfg_in_sysfs() {
        let root = tempfile::tempdir().unwrap();
        let Fetched::Skipped(why) = FwCfgTransport::with_root(root.path()).fetch().unwrap() else {
            panic!()
        };
        assert!(why.contains("no QEMU fw_cfg"), "{why}");
    }

    #[test]
    fn skipped_when_fw_cfg_lacks_the_item() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join(FW_CFG_DIR).join("by_name/etc")).unwrap();
        let Fetched::Skipped(why) = FwCfgTransport::with_root(root.path()).fetch().unwrap() else {
            panic!()
        };
        assert_eq!(why, "fw_cfg has no opt/ovaboot/ovf-env item");
    }

    #[test]
    fn reads_the_raw_item() {
        let root = tempfile::tempdir().unwrap();
        let transport = FwCfgTransport::with_root(root.path());
        std::fs::create_dir_all(transport.raw_path().parent().unwrap()).unwrap();
        std::fs::write(transport.raw_path(), b"<Environment/>").unwrap();
        let Fetched::Found(delivery) = transport.fetch().unwrap() else {
            panic!()
        };
        assert_eq!(delivery.document.unwrap().expose(), b"<Environment/>");
        assert_eq!(delivery.origin, "fw_cfg opt/ovaboot/ovf-env");
    }
}
