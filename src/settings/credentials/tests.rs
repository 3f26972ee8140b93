//! `guestinfo.root_password` and `guestinfo.ssh_authorized_keys` parsing.

use super::*;
use crate::ovf::PropertyValue;

const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPm/PDBMxUaztCmCll//2zd74V8Kw5/e6UlpeTFku7BF admin@example.com";
const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGJRZcjTxUnlgXNahUAgKfDwRrdLjj7Ktgi9XIJsAl4yf1qQJBSfwldQjB/Uq/8WSgmcAJQ1eix9Fhje7Os+riQ=";
const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCj9qx/qVNC3I69N6U0siUGmWrBhXDUqYm6KvoufmG6eIW18zJIX2KziyhGNmLucKBGOSt7m8+J8WkzWBXl9JTM2dvqnmp6FMG/oQ9w3u0HIRaFm/2q6QUHmzYOOMyLaklzD79QsGgcCGH/V6oi1QjcX+vAWDMoTGB9NxMsyo3UyjcmV0Xxzj6iKsV3VaIMNcCyS8vqcv7mbxbiAqhLatiDynbiwZAbbmAKMWqo8Hu6gtSdeIJvop+6D1TG0Lty26/z2VK8XlkJJVcv7Uaxu1nqHR6+Ej7jjeLe96GBWp14rSIlUG8/bfaDI+qCSOgmF6ASSpC7fCJ0+PkSnvIw9Lnn ops key";

fn props(pairs: &[(&str, &str)]) -> Properties {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), PropertyValue::Plain(v.to_string())))
        .collect()
}

#[test]
fn blank_properties_leave_the_account_alone() {
    let c = Credentials::from_properties(&props(&[
        (KEY_ROOT_PASSWORD, "  "),
        (KEY_SSH_AUTHORIZED_KEYS, "\n ,"),
    ]))
    .unwrap();
    assert!(c.root_password.is_none());
    assert!(c.ssh_authorized_keys.is_empty());
    assert!(
        Credentials::from_properties(&props(&[]))
            .unwrap()
            .root_password
            .is_none()
    );
}

#[test]
fn the_password_is_kept_secret() {
    let c = Credentials::from_properties(&props(&[(KEY_ROOT_PASSWORD, "correct horse battery")]))
        .unwrap();
    let password = c.root_password.as_ref().unwrap();
    assert_eq!(password.expose(), "correct horse battery");
    let debug = format!("{c:?}");
    assert!(!debug.contains("horse"), "{debug}");
}

#[test]
fn keys_separated_by_newlines_or_commas_are_each_parsed() {
    let value = format!("{ED25519}\r\n\n{ECDSA} , ");
    let c = Credentials::from_properties(&props(&[(KEY_SSH_AUTHORIZED_KEYS, &value)])).unwrap();
    assert_eq!(
        c.ssh_authorized_keys,
        vec![ED25519.to_owned(), ECDSA.to_owned()]
    );
    let comma = format!("{ECDSA},{ED25519},{RSA}");
    let c = Credentials::from_properties(&props(&[(KEY_SSH_AUTHORIZED_KEYS, &comma)])).unwrap();
    assert_eq!(
        c.ssh_authorized_keys,
        vec![ECDSA.to_owned(), ED25519.to_owned(), RSA.to_owned()]
    );
}

#[test]
fn an_invalid_key_is_refused_by_its_position_without_quoting_it() {
    let broken = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAInotbase64secretish== bob";
    let value = format!("{ED25519}\n{broken}");
    let err =
        Credentials::from_properties(&props(&[(KEY_SSH_AUTHORIZED_KEYS, &value)])).unwrap_err();
    let line = err.to_string();
    assert!(
        line.starts_with("guestinfo.ssh_authorized_keys: key 2 is not an OpenSSH public key"),
        "{line}"
    );
    assert!(!line.contains("notbase64"), "{line}");
    assert!(!line.contains('\n'), "one line: {line}");
}

#[test]
fn a_pasted_private_key_is_refused_and_never_shown() {
    let value = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----";
    let err = Credentials::from_properties(&props(&[(KEY_SSH_AUTHORIZED_KEYS, value)]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds a private key"), "{err}");
    assert!(!err.contains("b3BlbnNz"), "{err}");
}

#[test]
fn settings_consume_both_properties() {
    let mut p = props(&[
        ("guestinfo.hostname", "veba01.example.com"),
        (KEY_SSH_AUTHORIZED_KEYS, ED25519),
    ]);
    p.insert(
        KEY_ROOT_PASSWORD.to_owned(),
        PropertyValue::Plain("correct horse battery".into()),
    );
    let settings = crate::settings::Settings::from_properties(&p).unwrap();
    assert_eq!(settings.credentials.ssh_authorized_keys.len(), 1);
    assert!(!settings.other.contains_key(KEY_ROOT_PASSWORD));
    assert!(!settings.other.contains_key(KEY_SSH_AUTHORIZED_KEYS));
    assert!(!format!("{settings:?}").contains("horse"));
}

/// Debian's crypt() cannot verify a SHA-512-crypt hash of 512 bytes or more
/// (root could never log in), and hashing grows with the length: refused
/// here, where the value is first read, before any hashing.
#[test]
fn a_root_password_too_long_to_verify_is_refused_before_any_hashing() {
    let fits = "p".repeat(511);
    let c = Credentials::from_properties(&props(&[(KEY_ROOT_PASSWORD, &fits)])).unwrap();
    assert_eq!(c.root_password.unwrap().expose().len(), 511);
    for length in [512, 64 * 1024] {
        let long = "Pw".repeat(length / 2);
        let err = Credentials::from_properties(&props(&[(KEY_ROOT_PASSWORD, &long)])).unwrap_err();
        assert_eq!(err.key(), KEY_ROOT_PASSWORD);
        assert_eq!(
            err.to_string(),
            format!(
                "guestinfo.root_password: is {length} bytes long; SHA-512-crypt takes at most 511 (the system's crypt() refuses longer ones, so the account could never log in)"
            )
        );
    }
}

/// A DSA key (`ssh-keygen -t dsa`): OpenSSH has refused them by default since
/// 7.0 and dropped them in 9.8.
const DSA: &str = "ssh-dss AAAAB3NzaC1kc3MAAACBANBf16K1MQJvnZvJgP3qJaBvr5eiqxt3p60zlX2dsmAPCNdGu5qozkel+7auqEmCX72pl5IM6A8YWFexH4mrEKTHtyQlcA6wVxPBcVkYMtpfOz3TmDLsphcbwhFyJd/H4/+TMH2qYRaDfNxvtpz/HXwFouZtjUiFfA75GRlqC0RLAAAAFQCFE3q00eddlDZzoCPrfDg8t9+FuQAAAIB2V1uTlyXO6HFtxaIMv3dUdNyTJpriXkRfte05j5wyY2ohT2LO26H853oRqt/EeCQlDHRUjgnopY0QYD0MZeU7FgJZgUEYLkt8+azJ8uxyLfLIPZ1x188Izx/Xv2kbkrCgKV5V4xluFUiJGhLxskB4NrnDEMtcl94/im5gmwRPlgAAAIAessTynYs5FHryBs+pEOReY/82urqTJY14PD4Zk0t3op6OE7R1sL51qe3zEWku54g1FKsEvxN1IE3zEEmzJFO49metFWT5IsGGHwUfN2ybgHKPvRNj3HZMCr72z4YbAh+s3bJTEHQ0m3L+4D011EwkMmOC6UEpJskBEozECgg+lQ== dsa@example.com";

/// Every line-break form a paste can carry separates keys: a lone CR used to
/// make two keys one line, the second in the first one's comment.
#[test]
fn keys_split_on_every_line_break_form_and_none_is_dropped() {
    for separator in [
        "\r", "\r\n", "\n", "\u{85}", "\u{2028}", "\u{2029}", "\u{0b}", "\u{0c}",
    ] {
        let value = format!("{ED25519}{separator}{ECDSA}{separator}{RSA}");
        let c = Credentials::from_properties(&props(&[(KEY_SSH_AUTHORIZED_KEYS, &value)]))
            .unwrap_or_else(|e| panic!("{separator:?}: {e}"));
        assert_eq!(
            c.ssh_authorized_keys,
            vec![ED25519.to_owned(), ECDSA.to_owned(), RSA.to_owned()],
            "{separator:?}"
        );
    }
}

#[test]
fn a_comment_with_a_control_character_is_refused_by_its_position() {
    for comment in [
        "ops\u{1b}[2Jkey",
        "ops\u{7f}",
        "ops\u{9b}31m",
        "ops\u{202e}yek",
    ] {
        let value = format!(
            "{ECDSA}\n{} {comment}",
            &ED25519[..ED25519.rfind(' ').unwrap()]
        );
        let err = Credentials::from_properties(&props(&[(KEY_SSH_AUTHORIZED_KEYS, &value)]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "guestinfo.ssh_authorized_keys: key 2's comment has a control character"
            ),
            "{comment:?}: {err}"
        );
        assert!(!err.contains("ops"), "{err}");
    }
    // A tab is whitespace, kept as written.
    let tabbed = format!("{} ops\tkey", &ED25519[..ED25519.rfind(' ').unwrap()]);
    let c = Credentials::from_properties(&props(&[(KEY_SSH_AUTHORIZED_KEYS, &tabbed)])).unwrap();
    assert_eq!(c.ssh_authorized_keys.len(), 1);
}

#[test]
fn a_dsa_key_is_refused_naming_its_type() {
    let value = format!("{ED25519}\n{DSA}");
    let err = Credentials::from_properties(&props(&[(KEY_SSH_AUTHORIZED_KEYS, &value)]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "guestinfo.ssh_authorized_keys: key 2 is an ssh-dss (DSA) key, which OpenSSH no longer accepts; use an ed25519, ECDSA or RSA key"
    );
}
