//! The record's pure parts: digest, which entries hold, what is written.

use super::*;

fn crd(name: &str) -> ObjectRef {
    ObjectRef {
        api_version: "apiextensions.k8s.io/v1".into(),
        kind: "CustomResourceDefinition".into(),
        namespace: None,
        name: name.into(),
    }
}

fn entry(name: &str, rv: &str) -> Entry {
    Entry {
        api_version: "apiextensions.k8s.io/v1".into(),
        kind: "CustomResourceDefinition".into(),
        namespace: None,
        name: name.into(),
        uid: format!("uid-{name}"),
        resource_version: rv.into(),
        digest: digest(name.as_bytes()),
    }
}

fn stored(server: &str, by: &str, objects: Vec<Entry>) -> String {
    serde_json::to_string(&Stored {
        format: FORMAT,
        server_version: server.into(),
        applied_by: by.into(),
        objects,
    })
    .unwrap()
}

#[test]
fn the_digest_is_sha256_of_the_bytes() {
    assert_eq!(
        digest(b""),
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn only_crds_are_recorded() {
    assert!(recordable(&crd("a.example.com")));
    let secret = ObjectRef {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: Some("ns".into()),
        name: "tls".into(),
    };
    assert!(!recordable(&secret));
}

#[test]
fn entries_hold_only_for_this_server_version_format_and_ovaboot() {
    let text = stored("v1.33.1", &applied_by(), vec![entry("a", "1")]);
    assert_eq!(usable(&text, "v1.33.1"), Some(vec![entry("a", "1")]));
    assert_eq!(usable(&text, "v1.33.2"), None, "another server version");
    let older = stored("v1.33.1", "ovaboot 0.0.1", vec![entry("a", "1")]);
    assert_eq!(usable(&older, "v1.33.1"), None, "another ovaboot");
    let other_format = text.replace("\"format\":1", "\"format\":2");
    assert_eq!(usable(&other_format, "v1.33.1"), None);
    assert_eq!(usable("{not json", "v1.33.1"), None);
    assert_eq!(usable("", "v1.33.1"), None);
}

#[test]
fn a_candidate_needs_the_same_object_and_digest() {
    let known = Known {
        server_version: "v1".into(),
        entries: vec![entry("a", "1")],
        text: None,
        live: HashMap::new(),
    };
    let d = digest(b"a");
    assert_eq!(known.candidate(&crd("a"), &d), Some(&entry("a", "1")));
    assert_eq!(known.candidate(&crd("a"), &digest(b"other body")), None);
    assert_eq!(known.candidate(&crd("b"), &d), None);
}

#[test]
fn the_next_record_replaces_the_plans_entries_keeps_the_others_and_is_written_only_if_new() {
    let text = stored("v1", &applied_by(), vec![entry("a", "1"), entry("z", "5")]);
    let known = Known {
        server_version: "v1".into(),
        entries: usable(&text, "v1").unwrap(),
        text: Some(text.clone()),
        live: HashMap::new(),
    };
    let (a, b) = (crd("a"), crd("b"));
    // The same entries again: nothing to write.
    assert_eq!(known.next(&[&a], vec![entry("a", "1")]), None);
    // `a` re-applied at a new version, `b` new, `z` not in this plan: kept; sorted.
    let next = known.next(&[&a, &b], vec![entry("b", "2"), entry("a", "3")]);
    assert_eq!(
        next,
        Some(stored(
            "v1",
            &applied_by(),
            vec![entry("a", "3"), entry("b", "2"), entry("z", "5")]
        ))
    );
    // `a` planned but not ready as answered: its old entry is dropped.
    assert_eq!(
        known.next(&[&a], vec![]),
        Some(stored("v1", &applied_by(), vec![entry("z", "5")]))
    );
}

#[test]
fn a_record_of_another_server_version_is_replaced_whole() {
    let text = stored("v0", &applied_by(), vec![entry("z", "5")]);
    let known = Known {
        server_version: "v1".into(),
        entries: usable(&text, "v1").unwrap_or_default(),
        text: Some(text),
        live: HashMap::new(),
    };
    assert_eq!(
        known.next(&[&crd("a")], vec![entry("a", "1")]),
        Some(stored("v1", &applied_by(), vec![entry("a", "1")]))
    );
}

#[test]
fn unchanged_needs_the_live_object_at_the_recorded_uid_and_version() {
    const CRDS: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    let live = |uid: &str, rv: &str| ObjectMeta {
        name: Some("a".into()),
        uid: Some(uid.into()),
        resource_version: Some(rv.into()),
        ..Default::default()
    };
    let known = |meta: Option<ObjectMeta>| Known {
        server_version: "v1".into(),
        entries: vec![entry("a", "7")],
        text: None,
        live: meta
            .into_iter()
            .map(|m| ((CRDS.to_owned(), "a".to_owned()), m))
            .collect(),
    };
    let d = digest(b"a");
    let same = known(Some(live("uid-a", "7")));
    assert_eq!(
        same.unchanged(&crd("a"), CRDS, &d).map(|(e, _)| e),
        Some(&entry("a", "7"))
    );
    assert!(
        same.unchanged(&crd("a"), CRDS, &digest(b"b")).is_none(),
        "digest"
    );
    assert!(
        same.unchanged(&crd("a"), "/other", &d).is_none(),
        "collection"
    );
    let written = known(Some(live("uid-a", "8")));
    assert!(
        written.unchanged(&crd("a"), CRDS, &d).is_none(),
        "resourceVersion"
    );
    let remade = known(Some(live("uid-other", "7")));
    assert!(remade.unchanged(&crd("a"), CRDS, &d).is_none(), "UID");
    assert!(known(None).unchanged(&crd("a"), CRDS, &d).is_none(), "gone");
}
