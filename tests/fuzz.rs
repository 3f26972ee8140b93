//! The fuzz targets of issue #17 §3, on stable Rust (tests/fuzz_support):
//! each replays its corpus and regressions, then mutates for
//! `OVABOOT_FUZZ_SECS` seconds (2 by default; `.ci/run` gives each longer).
//! `OVABOOT_FUZZ_SEED` replays a run's seed.

mod fuzz_support;

use std::path::Path;

use fuzz_support::{run, targets};

/// Tokens that make the parsers' interesting cases: line breaks of every
/// form, escapes, credentials in their usual shapes, the markers and names
/// the parsers look for.
const COMMON: &[&str] = &[
    "\r",
    "\n",
    "\r\n",
    "\u{85}",
    "\u{2028}",
    "\u{202e}",
    "\u{1b}[2J",
    "\0",
    "\t",
    " ",
    ",",
    "@",
    ":",
    "://",
    "%",
    "%2F",
    "[",
    "]",
    "/",
    "..",
    "user:",
    "Pa ss@",
    "svc:Hunter2@",
    targets::ROOT_PASSWORD,
];

fn with(extra: &[&'static str]) -> Vec<&'static str> {
    COMMON.iter().chain(extra).copied().collect()
}

#[test]
fn ovf_document() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ovf-env");
    run(
        "ovf_document",
        targets::ovf_document,
        &with(&[
            "<Property oe:key=\"guestinfo.hostname\" oe:value=\"",
            "<Property oe:key=\"guestinfo.ntp\" oe:value=\"",
            "<Property oe:key=\"guestinfo.ssh_authorized_keys\" oe:value=\"",
            "\"/>",
            "&#13;",
            "&#10;",
            "&#x1b;",
            "&#x85;",
            "&#x2028;",
            "&amp;",
            "<!DOCTYPE x>",
            "</PropertySection>",
            "xmlns:oe=\"http://schemas.dmtf.org/ovf/environment/1\"",
        ]),
        &[&fixtures],
    );
}

#[test]
fn network_values() {
    run(
        "network_values",
        targets::network_values,
        &with(&[
            "10.0.0.",
            "fe80::1",
            "24 (255.255.255.0)",
            "http://",
            "https://proxy.example.com:3128",
            ".example.com",
            "*.",
            "/8",
            "ntp.example.com",
        ]),
        &[],
    );
}

#[test]
fn ssh_keys() {
    run(
        "ssh_keys",
        targets::ssh_keys,
        &with(&[
            "ssh-ed25519 ",
            "ssh-rsa ",
            "ssh-dss ",
            "ecdsa-sha2-nistp256 ",
            "AAAAC3NzaC1lZDI1NTE5AAAA",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            " admin@example.com",
        ]),
        &[],
    );
}

#[test]
fn pem_repair() {
    run(
        "pem_repair",
        targets::pem_repair,
        &with(&[
            "-----BEGIN CERTIFICATE-----",
            "-----END CERTIFICATE-----",
            "-----BEGIN PRIVATE KEY-----",
            "-----END PRIVATE KEY-----",
            "-----BEGIN EC PRIVATE KEY-----",
            "-----END EC PRIVATE KEY-----",
            "Proc-Type: 4,ENCRYPTED\n",
            "\n====\n",
            "MII",
            "=",
        ]),
        &[],
    );
}

#[test]
fn config() {
    run(
        "config",
        targets::config,
        &with(&[
            "[host]\n",
            "[tls]\n",
            "[[routes]]\n",
            "[credentials]\n",
            "proxy_env_file = \"",
            "network_file = \"",
            "timesyncd_file = \"",
            "min_password_length = ",
            "proxy_units = [\"k3s.service\"]\n",
            "\"\n",
            "/etc/passwd",
            "/etc/systemd/network/",
            "ovaboot",
            "= 0\n",
            "= \"x\"\n",
        ]),
        &[],
    );
}

#[test]
fn shadow() {
    run(
        "shadow",
        targets::shadow,
        &with(&[
            "root:",
            "$6$rounds=",
            "$6$",
            "$y$j9T$",
            ":19000:0:99999:7:::",
            "::::::",
        ]),
        &[],
    );
}
