//! `ovaboot images`: the pinned release's container images, for pre-pulling
//! them into the appliance image.

mod cli_support;

use std::collections::BTreeSet;

use cli_support::*;

/// Every `image:` value in the manifest, found by reading lines (independent
/// of how ovaboot walks the objects). An `image:` with nothing after it is a
/// field of a CRD schema, not an image.
fn images_by_scanning(manifest: &str) -> BTreeSet<String> {
    manifest
        .lines()
        .map(|line| line.trim_start().trim_start_matches("- "))
        .filter_map(|line| line.strip_prefix("image:"))
        .map(|value| {
            value
                .trim()
                .trim_matches(|c| c == '"' || c == '\'')
                .to_owned()
        })
        .filter(|image| !image.is_empty())
        .collect()
}

#[test]
fn images_prints_the_release_images_one_per_line_sorted() {
    let manifest = std::fs::read_to_string(contour_manifest()).unwrap();
    let expected = images_by_scanning(&manifest);
    assert!(
        expected.len() >= 2,
        "contour and envoy at least: {expected:?}"
    );

    let out = ovaboot(&["images", "--config", &fixture("defaults-only.toml")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let printed = text(&out.stdout);
    assert!(printed.ends_with('\n'), "{printed:?}");
    let lines: Vec<&str> = printed.lines().collect();
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(
        lines, expected,
        "exactly the release's images, sorted, once each"
    );
}

#[test]
fn images_without_the_manifest_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("contour-v1.33.6.yaml");
    let out = ovaboot_with_manifest(
        &["images", "--config", &fixture("defaults-only.toml")],
        &missing,
    );
    assert!(!out.status.success());
    assert_eq!(text(&out.stdout), "", "no partial list");
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("ovaboot: error: "), "{err}");
    assert!(
        err.contains(missing.to_str().unwrap()),
        "{err:?} should name the file"
    );
    assert!(
        err.contains("point OVABOOT_CONTOUR_MANIFEST or [contour] manifest at"),
        "{err:?} should say how to point at it"
    );
}
