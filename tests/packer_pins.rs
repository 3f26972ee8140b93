//! packer/provision installs the Contour manifest the agent will read and
//! checks it against a digest of its own: both must be the agent's pin, or
//! the image would ship a manifest that first boot refuses.

use std::path::Path;

use ovaboot::contour::pin::{DEFAULT_SHA256, DEFAULT_VERSION, MANIFEST_DIR};

fn provision() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packer/provision");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The value of `NAME=value` at the start of a line of the script.
fn assignment(script: &str, name: &str) -> String {
    let prefix = format!("{name}=");
    let line = script
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("packer/provision sets no {name}"));
    line[prefix.len()..].to_owned()
}

#[test]
fn provision_installs_and_checks_the_manifest_the_agent_pins() {
    let script = provision();
    assert_eq!(assignment(&script, "CONTOUR_SHA256"), DEFAULT_SHA256);
    assert_eq!(
        assignment(&script, "CONTOUR_MANIFEST_NAME"),
        format!("contour-{DEFAULT_VERSION}.yaml")
    );
    assert!(
        script.contains(&format!("{MANIFEST_DIR}/$CONTOUR_MANIFEST_NAME")),
        "provision does not install into {MANIFEST_DIR}"
    );
}

#[test]
fn provision_starts_k3s_without_traefik_and_servicelb_and_with_encrypted_secrets() {
    let script = provision();
    let exec = script
        .lines()
        .find(|l| l.starts_with("ExecStart=/usr/local/bin/k3s server"))
        .expect("k3s.service's ExecStart");
    assert!(exec.contains("--disable=traefik,servicelb"), "{exec}");
    assert!(exec.contains("--secrets-encryption"), "{exec}");
    assert!(
        script.contains("After=network-online.target ovaboot-host.service"),
        "k3s is not ordered after ovaboot-host.service"
    );
}

#[test]
fn the_offline_build_brings_every_package_provision_installs() {
    // provision's apt-get runs in the chroot, which may not reach Debian's
    // archive (here it cannot resolve its name): build-image's mmdebstrap,
    // which fetches with the host's setup, must have brought them all.
    let script = provision();
    let wanted = assignment(&script, "PACKAGES");
    let wanted = wanted
        .split('#')
        .next()
        .unwrap()
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')');
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packer/build-image");
    let build = std::fs::read_to_string(&path).unwrap();
    let included = build
        .lines()
        .find_map(|l| l.strip_prefix("packages="))
        .expect("packer/build-image sets packages=");
    let included: Vec<&str> = included.split(',').collect();
    for package in wanted.split_whitespace() {
        assert!(
            included.contains(&package),
            "packer/provision installs {package}, which packer/build-image does not --include"
        );
    }
}

#[test]
fn provision_checks_every_unit_the_package_enables() {
    // cargo-deb enables each shipped unit with an [Install] section (the
    // renewal timer, not the service it starts): provision must find each
    // one enabled in the image.
    let script = provision();
    let checked = script
        .lines()
        .find_map(|l| l.strip_prefix("for unit in "))
        .and_then(|l| l.strip_suffix("; do"))
        .expect("provision's loop over the units it checks");
    let checked: Vec<&str> = checked.split_whitespace().collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd");
    let mut enabled = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if text.lines().any(|l| l.trim() == "[Install]") {
            enabled.push(path.file_name().unwrap().to_str().unwrap().to_owned());
        }
    }
    enabled.sort();
    assert!(enabled.contains(&"ovaboot-renew.timer".to_owned()));
    assert!(!enabled.contains(&"ovaboot-renew.service".to_owned()));
    let mut checked: Vec<String> = checked.iter().map(|u| u.to_string()).collect();
    checked.sort();
    assert_eq!(checked, enabled);
}
