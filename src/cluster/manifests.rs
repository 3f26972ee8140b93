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

/// The most one manifest file may hold (Contour's CRDs are 570 KB in all).
pub const MANIFEST_FILE_LIMIT: u64 = 16 * 1024 * 1024;

/// A manifest file's text: never blocking, capped ([`crate::root::read_local`]).
fn read_text(path: &Path) -> std::io::Result<String> {
    use crate::root::{Links, read_local};
    let bytes = read_local(path, MANIFEST_FILE_LIMIT, Links::Follow)
        .map_err(crate::root::ReadFileError::into_io_error)?
        .ok_or_else(crate::root::not_found)?
        .bytes;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
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
    let texts: Vec<String> = files
        .iter()
        .map(|path| read_text(path).map_err(read_err(path)))
        .collect::<Result<_, _>>()?;
    // Parsing is most of the load (~20 ms for Contour's 570 KB of CRDs): the files are
    // split by size between this thread and one more, while the machine's second core
    // has nothing else to do yet. Errors are reported for the first bad file in order.
    let (mine, theirs) = halves(&texts);
    let parse = |set: &[usize]| -> Vec<(usize, Result<Vec<Value>, ManifestError>)> {
        set.iter()
            .map(|&i| (i, parse_file(&files[i], &texts[i])))
            .collect()
    };
    let mut parsed: Vec<(usize, Result<Vec<Value>, ManifestError>)> = std::thread::scope(|scope| {
        let other = scope.spawn(|| parse(&theirs));
        let mut parsed = parse(&mine);
        parsed.extend(
            other
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p)),
        );
        parsed
    });
    parsed.sort_by_key(|(i, _)| *i);
    let mut objects = Vec::new();
    for (_, docs) in parsed {
        objects.extend(docs?);
    }
    Ok(objects)
}

/// The indexes of `texts` in two sets of about equal size (largest first, each to
/// the lighter set).
fn halves(texts: &[String]) -> (Vec<usize>, Vec<usize>) {
    let mut by_size: Vec<usize> = (0..texts.len()).collect();
    by_size.sort_by_key(|&i| std::cmp::Reverse(texts[i].len()));
    let (mut a, mut b) = ((Vec::new(), 0), (Vec::new(), 0));
    for i in by_size {
        let lighter = if a.1 <= b.1 { &mut a } else { &mut b };
        lighter.0.push(i);
        lighter.1 += texts[i].len();
    }
    (a.0, b.0)
}

/// The objects of one file, in document order (empty documents skipped).
fn parse_file(path: &Path, text: &str) -> Result<Vec<Value>, ManifestError> {
    let docs: Vec<Value> = crate::yaml::documents(text).map_err(|message| ManifestError::Yaml {
        path: path.to_owned(),
        message,
    })?;
    let mut objects = Vec::new();
    for (index, doc) in docs.into_iter().enumerate() {
        match doc {
            Value::Null => continue,
            Value::Object(ref m) if m.contains_key("apiVersion") && m.contains_key("kind") => {
                objects.push(doc)
            }
            _ => {
                return Err(ManifestError::NotAnObject {
                    path: path.to_owned(),
                    index,
                });
            }
        }
    }
    Ok(objects)
}

#[cfg(test)]
mod tests;
