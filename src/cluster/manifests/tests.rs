use super::*;

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir.join("manifests")).unwrap();
    std::fs::write(dir.join("manifests").join(name), text).unwrap();
}

#[test]
fn files_are_read_in_name_order_and_documents_in_file_order() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "10-routes.yaml",
        "apiVersion: projectcontour.io/v1\nkind: HTTPProxy\nmetadata: {name: veba01}\n",
    );
    write(
        dir.path(),
        "00-contour.yaml",
        "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: projectcontour\n---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: contour}\ndata:\n  contour.yaml: |\n    gateway: {}\n",
    );
    write(dir.path(), "README.txt", "not a manifest");
    let objs = load_manifests(dir.path()).unwrap();
    let names: Vec<&str> = objs
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["projectcontour", "contour", "veba01"]);
    assert_eq!(objs[1]["data"]["contour.yaml"], "gateway: {}\n");
}

#[test]
fn a_document_that_is_not_an_object_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "00-bad.yaml", "- just\n- a list\n");
    let err = load_manifests(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("00-bad.yaml") && err.contains("document 0"),
        "{err}"
    );
}

#[test]
fn a_missing_folder_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_manifests(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("manifests") && err.contains("No such file"),
        "{err}"
    );
}

#[test]
fn of_two_bad_files_the_first_in_name_order_is_named() {
    let dir = tempfile::tempdir().unwrap();
    // Of about equal size, so that each is parsed by another thread.
    write(dir.path(), "00-first.yaml", "- a\n");
    write(dir.path(), "01-second.yaml", "- b\n");
    let err = load_manifests(dir.path()).unwrap_err().to_string();
    assert!(err.contains("00-first.yaml"), "{err}");
}

#[test]
fn the_files_are_split_by_size_into_two_sets() {
    let texts: Vec<String> = [50, 10, 40, 10, 5].iter().map(|&n| "x".repeat(n)).collect();
    let (a, b) = halves(&texts);
    let size = |set: &[usize]| set.iter().map(|&i| texts[i].len()).sum::<usize>();
    let mut all: Vec<usize> = a.iter().chain(&b).copied().collect();
    all.sort();
    assert_eq!(all, [0, 1, 2, 3, 4]);
    assert_eq!((size(&a), size(&b)), (60, 55));
}
