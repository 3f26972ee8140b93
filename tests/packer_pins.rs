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
