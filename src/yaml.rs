//! Kubernetes YAML as Kubernetes reads it.

use serde_json::Value;

/// Parses a multi-document YAML stream the way Kubernetes does (YAML 1.1,
/// sigs.k8s.io/yaml): `defaultMode: 0644` is octal 420 there; YAML 1.2 would
/// read decimal 644, an invalid mode. Errors are one line, without a snippet
/// of the document.
pub fn documents(text: &str) -> Result<Vec<Value>, String> {
    let options = serde_saphyr::options! {
        legacy_octal_numbers: true,
        with_snippet: false,
    };
    serde_saphyr::from_multiple_with_options(text, options).map_err(|e| {
        e.to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn octal_file_modes_read_as_kubernetes_reads_them() {
        let docs = super::documents("a: 0644\n---\nb: 420\n").unwrap();
        assert_eq!(docs[0]["a"], 420);
        assert_eq!(docs[1]["b"], 420);
    }
}
