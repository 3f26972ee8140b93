//! Finds the recorded kube-apiserver responses, which tests read in place.

use std::path::PathBuf;

use serde_json::Value;

/// `$OVABOOT_KUBE_API_RECORDINGS`, else `../shared/kube-api` beside the crate.
pub(crate) fn recordings() -> PathBuf {
    let dir = std::env::var_os("OVABOOT_KUBE_API_RECORDINGS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/kube-api"));
    assert!(
        dir.join("index.json").is_file(),
        "kube-api recordings not found at {}: set OVABOOT_KUBE_API_RECORDINGS",
        dir.display()
    );
    dir
}

/// A recorded JSON file, by its path under the recordings folder.
pub(crate) fn recorded(rel: &str) -> Value {
    let path = recordings().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
