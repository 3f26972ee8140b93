use super::*;
use crate::failure::Transience;
use crate::ovf::PropertyValue;

fn completion(hostname: &str) -> Completion {
    Completion {
        ovaboot_version: "0.1.0".into(),
        completed_at: "2026-11-27T10:00:00Z".into(),
        hostname: hostname.into(),
        certificate_sha256: "AB".into(),
    }
}

fn settings(hostname: &str) -> Settings {
    let props: Properties = [(
        keys::HOSTNAME.to_owned(),
        PropertyValue::Plain(hostname.to_owned()),
    )]
    .into_iter()
    .collect();
    Settings::from_properties(&props).unwrap()
}

#[test]
fn a_new_host_name_is_refused_naming_the_property_both_names_and_why() {
    let err = refuse_what_cannot_change(
        &completion("veba01.lab.example.com"),
        &settings("veba02.lab.example.com"),
    )
    .unwrap_err();
    assert_eq!(err.property(), Some("guestinfo.hostname"));
    assert!(!err.is_transient());
    let line = err.to_string();
    assert!(
        line.starts_with(
            "guestinfo.hostname: cannot change from veba01.lab.example.com to veba02.lab.example.com after first boot: k3s registered its node"
        ),
        "{line}"
    );
    assert!(line.ends_with("nothing was applied"), "{line}");
}

#[test]
fn the_same_host_name_in_another_case_is_no_change() {
    refuse_what_cannot_change(
        &completion("veba01.lab.example.com"),
        &settings("VEBA01.lab.example.com."),
    )
    .unwrap();
}

#[test]
fn without_a_completion_record_there_is_nothing_to_reconfigure() {
    let root = tempfile::tempdir().unwrap();
    let err = compare(root.path(), &Properties::new()).err().unwrap();
    assert!(matches!(err, ReconfigureError::NotCompleted { .. }));
    assert!(!err.is_transient());
    assert!(
        err.to_string().contains("firstboot.json is missing"),
        "{err}"
    );
}
