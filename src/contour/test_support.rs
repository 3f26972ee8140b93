//! Test helpers: the real pinned manifest is read in place (never copied into
//! the repository); hand-written fixtures live in tests/fixtures/contour/.

use std::path::PathBuf;

use super::{Object, parse_manifest, pin::sha256_hex};

/// `OVABOOT_CONTOUR_MANIFEST`, else `../shared/contour/contour-v1.33.6.yaml`
/// relative to the crate root.
pub(crate) fn real_manifest_path() -> PathBuf {
    match std::env::var_os("OVABOOT_CONTOUR_MANIFEST") {
        Some(path) => PathBuf::from(path),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/contour/contour-v1.33.6.yaml")
        }
    }
}

/// The real manifest, parsed (digest checked against the default pin).
pub(crate) fn real_objects() -> Vec<Object> {
    let path = real_manifest_path();
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("the pinned Contour manifest {}: {e}", path.display()));
    parse_manifest(&bytes, &path, super::pin::DEFAULT_SHA256).unwrap()
}

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/contour")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A hand-written fixture manifest, parsed against its own digest.
pub(crate) fn fixture_objects(name: &str) -> Vec<Object> {
    let bytes = fixture(name);
    parse_manifest(&bytes, name.as_ref(), &sha256_hex(&bytes)).unwrap()
}
