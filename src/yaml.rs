//! Kubernetes YAML as Kubernetes reads it.

use serde_json::Value;

/// Parses a multi-document YAML stream the way Kubernetes does (YAML 1.1,
/// sigs.k8s.io/yaml): `defaultMode: 0644` is octal 420 there; YAML 1.2 would
/// read decimal 644, an invalid mode. Errors are one line, without a snippet
/// of the document.
pub fn documents(text: &str) -> Result<Vec<Value>, String> {
    serde_saphyr::from_multiple_with_options(text, options()).map_err(|e| one_line(&e))
}

/// One YAML document into `T`, with the same rules. The error never quotes
/// the document, which may hold keys (a kubeconfig's `client-key-data`).
pub fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_saphyr::from_str_with_options(text, options()).map_err(|e| one_line(&e))
}

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        legacy_octal_numbers: true,
        with_snippet: false,
    }
}

fn one_line(e: &impl std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn octal_file_modes_read_as_kubernetes_reads_them() {
        let docs = super::documents("a: 0644\n---\nb: 420\n").unwrap();
        assert_eq!(docs[0]["a"], 420);
        assert_eq!(docs[1]["b"], 420);
    }

    #[test]
    fn errors_do_not_quote_the_document() {
        let text = "users:\n- name: admin\n  user:\n    client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0t\n    token: [S3cretT0ken\n";
        let err = super::from_str::<serde_json::Value>(text).unwrap_err();
        assert!(
            !err.contains("LS0tLS1CRUdJTi") && !err.contains("S3cretT0ken"),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }
}
