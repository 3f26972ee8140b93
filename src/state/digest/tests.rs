use super::*;
use crate::ovf::PropertyValue;

fn props(pairs: &[(&str, &str, bool)]) -> Properties {
    pairs
        .iter()
        .map(|(k, v, secret)| {
            let value = if *secret {
                PropertyValue::Secret(Secret::new((*v).to_owned()))
            } else {
                PropertyValue::Plain((*v).to_owned())
            };
            ((*k).to_owned(), value)
        })
        .collect()
}

fn sha256_hex(value: &str) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, value.as_bytes()).as_ref())
}

#[test]
fn the_key_is_made_once_0600_and_kept() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    assert!(DigestKey::load(root.path()).unwrap().is_none());
    let key = DigestKey::load_or_create(root.path()).unwrap();
    let path = under(root.path(), KEY_PATH);
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
    assert_eq!(meta.len(), KEY_BYTES as u64);
    let again = DigestKey::load_or_create(root.path()).unwrap();
    let p = props(&[("guestinfo.ntp", "ntp.example.com", false)]);
    assert_eq!(
        key.properties(&p),
        again.properties(&p),
        "same key, same digests"
    );
}

#[test]
fn digests_tell_which_property_changed_and_ignore_blank_and_unread_ones() {
    let root = tempfile::tempdir().unwrap();
    let key = DigestKey::load_or_create(root.path()).unwrap();
    let a = key.properties(&props(&[
        ("guestinfo.hostname", "veba01.example.com", false),
        ("guestinfo.ntp", "ntp1.example.com", false),
        ("guestinfo.dns", "", false),
        ("guestinfo.other", "x", false),
    ]));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        ["guestinfo.hostname", "guestinfo.ntp"]
    );
    let b = key.properties(&props(&[
        ("guestinfo.hostname", "veba01.example.com", false),
        ("guestinfo.ntp", "ntp2.example.com", false),
        ("guestinfo.dns", "  ", false),
        ("guestinfo.other", "y", false),
        ("guestinfo.root_password", "correct horse battery", true),
    ]));
    assert_eq!(
        changed(&a, &b),
        ["guestinfo.ntp", "guestinfo.root_password"]
    );
    assert!(changed(&a, &a).is_empty());
}

#[test]
fn another_appliance_key_gives_other_digests() {
    let p = props(&[("guestinfo.ntp", "ntp.example.com", false)]);
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    let a = DigestKey::load_or_create(one.path())
        .unwrap()
        .properties(&p);
    let b = DigestKey::load_or_create(two.path())
        .unwrap()
        .properties(&p);
    assert_ne!(a, b);
}

#[test]
fn the_record_holds_no_secret_nor_its_plain_hash() {
    let root = tempfile::tempdir().unwrap();
    let key = DigestKey::load_or_create(root.path()).unwrap();
    let password = "correct horse battery staple";
    let p = props(&[
        ("guestinfo.hostname", "veba01.example.com", false),
        ("guestinfo.root_password", password, true),
        // Password-typed by key even when delivered plain (extraConfig).
        ("guestinfo.tls_key", "-----BEGIN PRIVATE KEY-----abc", false),
    ]);
    let digests = key.properties(&p);
    assert!(digests["guestinfo.root_password"].starts_with("pbkdf2:"));
    assert!(digests["guestinfo.tls_key"].starts_with("pbkdf2:"));
    assert!(digests["guestinfo.hostname"].starts_with("hmac:"));
    let record = AppliedDigest::new(
        digests,
        key.tls_pair("chain", &Secret::new("key".into())),
        time::OffsetDateTime::now_utc(),
    );
    record.store(root.path()).unwrap();
    let text = std::fs::read_to_string(under(root.path(), DIGEST_PATH))
        .unwrap()
        .to_lowercase();
    for needle in [
        password.to_owned(),
        sha256_hex(password),
        sha256_hex("-----BEGIN PRIVATE KEY-----abc"),
        "begin private key".to_owned(),
    ] {
        assert!(!text.contains(&needle.to_lowercase()), "{needle} in {text}");
    }
    assert_eq!(AppliedDigest::load(root.path()).unwrap(), Some(record));
}

#[test]
fn a_damaged_record_counts_as_none() {
    let root = tempfile::tempdir().unwrap();
    let path = under(root.path(), DIGEST_PATH);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "{\"scheme\":").unwrap();
    assert_eq!(AppliedDigest::load(root.path()).unwrap(), None);
}

/// A non-UTF-8 properties.json used to stop reconfigure with exit 2; it is
/// damage like any other (documented: every property counts as changed).
#[test]
fn a_record_that_is_not_utf8_or_not_a_file_counts_as_none_too() {
    let root = tempfile::tempdir().unwrap();
    let path = under(root.path(), DIGEST_PATH);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"{\"scheme\": \"\xff\xfe\"}").unwrap();
    assert_eq!(AppliedDigest::load(root.path()).unwrap(), None);
    std::fs::remove_file(&path).unwrap();
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let root_path = root.path().to_owned();
    let loaded = crate::root::test_support::returns("loading a FIFO digest", move || {
        AppliedDigest::load(&root_path).unwrap()
    });
    assert_eq!(loaded, None);
}
