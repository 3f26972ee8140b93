use super::*;

#[test]
fn control_separator_and_bidi_characters_are_escaped_and_the_rest_kept() {
    assert_eq!(escaped("veba01.example.com"), "veba01.example.com");
    assert!(matches!(escaped("plain C:\\path"), Cow::Borrowed(_)));
    assert_eq!(
        escaped("a\u{1b}[31mred\r\nb\u{85}c\u{2028}d\u{202e}e\u{7f}\t"),
        "a\\u{1b}[31mred\\r\\nb\\u{85}c\\u{2028}d\\u{202e}e\\u{7f}\\t"
    );
    // Letters of any script stay readable.
    assert_eq!(escaped("zürich-ü.example"), "zürich-ü.example");
    assert_eq!(quoted("say \"hi\"\u{1b}"), "\"say \\\"hi\\\"\\u{1b}\"");
}

#[test]
fn nothing_unsafe_is_left_in_what_escaped_returns() {
    let every: String = (0u32..0x3000).filter_map(char::from_u32).collect();
    assert!(!escaped(&every).chars().any(is_unsafe));
    assert!(!quoted(&every).chars().any(is_unsafe));
}

#[test]
fn credentials_in_their_usual_shapes_are_recognised() {
    for value in [
        "user:Hunter2@ntp.example.com",
        "http://user:Hunter2 pass@ntp.example.com",
        "http://user:Hunter2",
        "admin:Hunter2",
        "ntp.example.com admin:Hunter2",
        "password=Hunter2",
        "MyPassword1",
        "api-token-1234",
        "-----BEGIN PRIVATE KEY-----",
        "TOKEN@proxy",
    ] {
        assert!(looks_like_credential(value), "{value}");
    }
}

#[test]
fn addresses_names_and_ports_are_not_taken_for_credentials() {
    for value in [
        "pool.ntp.org",
        "10.0.0.1, 10.0.0.2",
        "fe80::1",
        "fe80::1%eth0",
        "[2001:db8::1]:123",
        "2001:db8:0:0:0:0:0:1",
        "10.0.0.1:123",
        "ntp.example.com:123",
        "http://proxy.example.com:3128",
        "fe80::1::2",
        "lab.example.com example.com",
    ] {
        assert!(!looks_like_credential(value), "{value}");
    }
}

#[test]
fn a_token_is_quoted_unless_its_whole_value_or_a_secret_says_otherwise() {
    assert_eq!(
        quoted_unless_credential("pool.ntp.org bad_name", "bad_name", []),
        "\"bad_name\""
    );
    // The password's space split the URL: the first piece alone looks harmless.
    let whole = "http://user:Hunter2 pass@ntp.example.com";
    assert_eq!(
        quoted_unless_credential(whole, "http://user:Hunter2", []),
        WITHHELD
    );
    // root's password pasted into another field.
    assert_eq!(
        quoted_unless_credential("Correct-Horse9", "Correct-Horse9", ["Correct-Horse9"]),
        WITHHELD
    );
    // Too short to be told from ordinary text.
    assert_eq!(quoted_unless_credential("ab_c", "ab_c", ["ab"]), "\"ab_c\"");
}

#[test]
fn json_escapes_what_serde_json_leaves_raw_and_stays_the_same_value() {
    let value =
        serde_json::json!({"v": "a\u{7f}b\u{85}c\u{9b}d\u{2028}e\u{202e}f\u{1b}g", "w": "zürich"});
    let text = json(&value);
    assert!(!text.chars().any(|c| c != '\n' && is_unsafe(c)), "{text:?}");
    assert!(text.contains("zürich"), "{text}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text).unwrap(),
        value
    );
}
