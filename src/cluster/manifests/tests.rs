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
