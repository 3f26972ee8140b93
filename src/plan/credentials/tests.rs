//! The credentials plan: the shadow line, idempotence, length, keys.

use sha_crypt::{PasswordVerifier, ShaCrypt};

use super::*;

const SHADOW: &str = "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nadmin:$y$j9T$abc$def:19001:0:99999:7:::\n";
const PASSWORD: &str = "correct horse battery";

fn creds(password: Option<&str>, keys: &[&str]) -> Credentials {
    Credentials {
        root_password: password.map(|p| Secret::new(p.to_owned())),
        ssh_authorized_keys: keys.iter().map(|k| k.to_string()).collect(),
    }
}

fn present(text: &str) -> ShadowFacts {
    ShadowFacts::Present {
        text: Secret::new(text.to_owned()),
        mode: 0o640,
    }
}

fn shadow_text(file: &PlannedFile) -> String {
    String::from_utf8(file.contents.expose().unwrap().to_vec()).unwrap()
}

fn plan_one(password: &str, shadow: &ShadowFacts) -> PlannedFile {
    let files = plan(
        &creds(Some(password), &[]),
        &CredentialsConfig::default(),
        shadow,
        Path::new("/root"),
        20_000,
    )
    .unwrap();
    assert_eq!(files.len(), 1);
    files.into_iter().next().unwrap()
}

#[test]
fn the_root_line_gets_a_sha512_crypt_hash_and_every_other_line_stays() {
    let file = plan_one(PASSWORD, &present(SHADOW));
    assert_eq!(file.path, Path::new(SHADOW_PATH));
    assert_eq!(file.mode, 0o640, "the file's mode is kept");
    assert!(file.keep_owner, "and its owner");
    assert!(file.contents.is_secret());
    let text = shadow_text(&file);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(&lines[1..], &SHADOW.lines().collect::<Vec<_>>()[1..]);
    let fields: Vec<&str> = lines[0].split(':').collect();
    assert_eq!(fields[0], "root");
    assert!(fields[1].starts_with("$6$rounds=100000$"), "{}", fields[1]);
    assert_eq!(fields[2], "20000", "last change: today");
    assert_eq!(&fields[3..], &["0", "99999", "7", "", "", ""]);
    ShaCrypt::default()
        .verify_password(PASSWORD.as_bytes(), fields[1])
        .expect("the hash verifies the password");
    assert!(!text.contains(PASSWORD));
    assert!(!format!("{file:?}").contains("horse"));
}

#[test]
fn a_rerun_with_the_same_password_plans_the_file_unchanged() {
    let first = shadow_text(&plan_one(PASSWORD, &present(SHADOW)));
    let again = shadow_text(&plan_one(PASSWORD, &present(&first)));
    assert_eq!(
        again, first,
        "no new salt: the writer leaves the file alone"
    );
    let other = shadow_text(&plan_one("another long password", &present(&first)));
    assert_ne!(other, first);
}

#[test]
fn two_hashes_of_one_password_use_different_salts() {
    let a = shadow_text(&plan_one(PASSWORD, &present(SHADOW)));
    let b = shadow_text(&plan_one(PASSWORD, &present(SHADOW)));
    assert_ne!(a, b);
}

#[test]
fn a_short_password_is_refused_naming_the_property_and_the_config_key() {
    let err = plan(
        &creds(Some("short"), &[]),
        &CredentialsConfig::default(),
        &present(SHADOW),
        Path::new("/root"),
        1,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "guestinfo.root_password: is 5 characters long; at least 12 are required ([credentials] min_password_length)"
    );
    let relaxed = CredentialsConfig {
        min_password_length: 8,
    };
    assert!(check(&creds(Some("shortish"), &[]), &relaxed).is_ok());
}

#[test]
fn no_usable_shadow_file_is_an_error_without_the_password() {
    for (shadow, says) in [
        (ShadowFacts::Missing, "/etc/shadow does not exist"),
        (
            ShadowFacts::Unreadable("Permission denied".into()),
            "/etc/shadow cannot be read (Permission denied)",
        ),
        (
            present("daemon:*:1:0:99999:7:::\n"),
            "/etc/shadow has no line for root",
        ),
    ] {
        let err = plan(
            &creds(Some(PASSWORD), &[]),
            &CredentialsConfig::default(),
            &shadow,
            Path::new("/root"),
            1,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("guestinfo.root_password: cannot be set: "),
            "{err}"
        );
        assert!(err.contains(says), "{err}");
        assert!(!err.contains("horse"), "{err}");
    }
}

#[test]
fn nothing_given_plans_nothing_and_needs_no_shadow_file() {
    let files = plan(
        &creds(None, &[]),
        &CredentialsConfig::default(),
        &ShadowFacts::Missing,
        Path::new("/root"),
        1,
    )
    .unwrap();
    assert!(files.is_empty());
}

#[test]
fn keys_go_to_roots_authorized_keys_0600_in_a_0700_directory() {
    let files = plan(
        &creds(None, &["ssh-ed25519 AAAA a", "ssh-ed25519 BBBB b"]),
        &CredentialsConfig::default(),
        &ShadowFacts::Missing,
        Path::new("/var/root"),
        1,
    )
    .unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].path, Path::new("/var/root/.ssh/authorized_keys"));
    assert_eq!(files[0].mode, 0o600);
    assert_eq!(files[0].dir_mode, Some(0o700));
    assert_eq!(
        files[0].contents.expose(),
        Some(&b"ssh-ed25519 AAAA a\nssh-ed25519 BBBB b\n"[..])
    );
}

/// Every other line stays byte for byte, CRs included: a CRLF shadow file
/// used to lose them.
#[test]
fn a_crlf_shadow_keeps_every_other_lines_bytes_and_its_own_line_end() {
    let crlf = "daemon:*:19000:0:99999:7:::\r\nroot:*:19000:0:99999:7:::\r\nadmin:$y$j9T$abc$def:19001:0:99999:7:::\r\nlast-without-end";
    let text = shadow_text(&plan_one(PASSWORD, &present(crlf)));
    let lines: Vec<&str> = text.split('\n').collect();
    let before: Vec<&str> = crlf.split('\n').collect();
    assert_eq!(lines.len(), before.len(), "{text:?}");
    for index in [0, 2, 3] {
        assert_eq!(lines[index], before[index], "line {index}");
    }
    assert!(lines[1].starts_with("root:$6$rounds=100000$"), "{text:?}");
    assert!(lines[1].ends_with(":20000:0:99999:7:::\r"), "{text:?}");
    // And the same password again changes no byte.
    let again = shadow_text(&plan_one(PASSWORD, &present(&text)));
    assert_eq!(again, text);
}

/// The hash already in /etc/shadow names its own cost: one of more rounds
/// than ovaboot makes is replaced, never checked (up to 999 999 999 rounds).
#[test]
fn an_existing_hash_of_more_rounds_than_ours_is_replaced_unchecked() {
    let costly = "root:$6$rounds=999999999$saltsalt$3wzSWZfbq6rdZ6p5CqzqvBVQnPB3Z.94Xr0s1j8I5jT1xnRcPhD7lVGD45xCHT4J4X9CnmN1uGzjOGMgpCjl6.:19000:0:99999:7:::\n";
    let shadow = present(costly);
    let text = crate::root::test_support::returns("checking a costly hash", move || {
        shadow_text(&plan_one(PASSWORD, &shadow))
    });
    assert!(text.starts_with("root:$6$rounds=100000$"), "{text}");
    assert_eq!(rounds("$6$saltsalt$x"), Some(5_000));
    assert_eq!(rounds("$y$j9T$abc$def"), None);
}
