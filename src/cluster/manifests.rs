//! `ovaboot apply --from DIR`: the objects of a rendered plan, read back from
//! `DIR/manifests/NN-name.yaml` in file-name order (the NN prefix is the apply order).

use std::path::{Path, PathBuf};

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not valid YAML: {message}", path.display())]
    Yaml { path: PathBuf, message: String },
    #[error("{}: document {index} is not a Kubernetes object (a mapping with apiVersion and kind)", path.display())]
    NotAnObject { path: PathBuf, index: usize },
    #[error("{}: no *.yaml files", path.display())]
    Empty { path: PathBuf },
}

/// Every object of `dir/manifests/*.yaml` (multi-document files allowed; empty
/// documents skipped), files in name order, documents in file order.
pub fn load_manifests(dir: &Path) -> Result<Vec<Value>, ManifestError> {
    let folder = dir.join("manifests");
    let read_err = |path: &Path| {
        let path = path.to_owned();
        move |source| ManifestError::Read { path, source }
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .map_err(read_err(&folder))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read_err(&folder))?;
    files.retain(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"));
    files.sort();
    if files.is_empty() {
        return Err(ManifestError::Empty { path: folder });
    }
    let mut objects = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(read_err(&path))?;
        let docs: Vec<Value> =
            crate::yaml::documents(&text).map_err(|message| ManifestError::Yaml {
                path: path.clone(),
                message,
            })?;
        for (index, doc) in docs.into_iter().enumerate() {
            match doc {
                Value::Null => continue,
                Value::Object(ref m) if m.contains_key("apiVersion") && m.contains_key("kind") => {
                    objects.push(doc)
                }
                _ => return Err(ManifestError::NotAnObject { path, index }),
            }
        }
    }
    Ok(objects)
}

#[cfg(test)]
mod tests;
