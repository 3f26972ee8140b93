//! `ovaboot images`: the pinned release's container images and, while a
//! route is protected, the auth server's, for pre-pulling them into the
//! appliance image.

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
    let mut expected = images_by_scanning(&manifest);
    assert!(
        expected.len() >= 2,
        "contour and envoy at least: {expected:?}"
    );
    // The default routes are protected: the auth server runs too.
    expected.insert(ovaboot::auth::config::DEFAULT_IMAGE.to_owned());

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

#[test]
fn images_leave_out_the_auth_server_when_no_route_is_protected() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("open.toml");
    std::fs::write(
        &config,
        "[[routes]]\nprefix = \"/\"\nservice = \"ui\"\nport = 80\nauth = \"none\"\n",
    )
    .unwrap();
    let out = ovaboot(&["images", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("contour-authserver"));
}
