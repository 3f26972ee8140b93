use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use super::*;

/// Guestinfo held in memory: the hypervisor side cannot run here.
#[derive(Default)]
struct Memory {
    values: BTreeMap<String, Vec<u8>>,
    broken: bool,
}

impl Memory {
    fn with(pairs: &[(&str, &str)]) -> Self {
        Memory {
            values: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect(),
            broken: false,
        }
    }
}

impl GuestInfo for Memory {
    fn via(&self) -> &'static str {
        if self.broken { "broken" } else { "memory" }
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, GuestInfoError> {
        if self.broken {
            return Err(GuestInfoError("erpc open failed".into()));
        }
        Ok(self.values.get(key).cloned())
    }
}

fn transport(readers: Vec<Memory>) -> GuestInfoTransport {
    GuestInfoTransport::with_readers(
        readers
            .into_iter()
            .map(|m| Box::new(m) as Box<dyn GuestInfo>)
            .collect(),
    )
}

fn found(t: &GuestInfoTransport) -> Delivery {
    match t.fetch().unwrap() {
        Fetched::Found(d) => d,
        Fetched::Skipped(why) => panic!("skipped: {why}"),
    }
}

const DOC: &str = "<Environment/>";

#[test]
fn ovf_env_document_is_delivered() {
    let d = found(&transport(vec![Memory::with(&[(OVF_ENV_KEY, DOC)])]));
    assert_eq!(d.document.unwrap().expose(), DOC.as_bytes());
    assert_eq!(d.origin, "guestinfo.ovfEnv via memory");
    assert!(d.overrides.is_empty());
}

#[test]
fn declared_keys_set_directly_are_overrides_and_others_are_not() {
    let memory = Memory::with(&[
        (OVF_ENV_KEY, DOC),
        ("guestinfo.hostname", "direct.example.com"),
        ("guestinfo.tls_key", "DIRECT-KEY"),
        ("guestinfo.ntp", ""),
        ("guestinfo.undeclared", "x"),
    ]);
    let d = found(&transport(vec![memory]));
    let keys: Vec<&str> = d.overrides.keys().map(String::as_str).collect();
    // Empty values do not override; undeclared keys are not read at all.
    assert_eq!(keys, ["guestinfo.hostname", "guestinfo.tls_key"]);
    assert_eq!(
        d.overrides["guestinfo.hostname"].expose(),
        "direct.example.com"
    );
}

#[test]
fn overrides_alone_are_delivered_without_a_document() {
    let d = found(&transport(vec![Memory::with(&[(
        "guestinfo.hostname",
        "only.example.com",
    )])]));
    assert!(d.document.is_none());
    assert_eq!(d.overrides.len(), 1);
}

#[test]
fn nothing_set_is_skipped() {
    let Fetched::Skipped(why) = transport(vec![Memory::default()]).fetch().unwrap() else {
        panic!()
    };
    assert_eq!(
        why,
        "guestinfo.ovfEnv is not set (read via memory) and no declared key is set directly"
    );
}

#[test]
fn blank_ovf_env_counts_as_not_set() {
    let t = transport(vec![Memory::with(&[(OVF_ENV_KEY, " \n")])]);
    assert!(matches!(t.fetch().unwrap(), Fetched::Skipped(_)));
}

#[test]
fn failing_reader_falls_back_to_the_next() {
    let broken = Memory {
        broken: true,
        ..Memory::default()
    };
    let d = found(&transport(vec![
        broken,
        Memory::with(&[(OVF_ENV_KEY, DOC)]),
    ]));
    assert_eq!(d.origin, "guestinfo.ovfEnv via memory");
}

#[test]
fn all_readers_failing_is_an_error_naming_the_key() {
    let broken = || Memory {
        broken: true,
        ..Memory::default()
    };
    let err = transport(vec![broken(), broken()]).fetch().unwrap_err();
    assert_eq!(
        err.to_string(),
        "guestinfo.ovfEnv could not be read via broken: broken: erpc open failed; broken: erpc open failed"
    );
}

#[test]
fn non_utf8_override_is_refused_naming_the_key() {
    let mut memory = Memory::with(&[(OVF_ENV_KEY, DOC)]);
    memory
        .values
        .insert("guestinfo.domain".into(), vec![0xfc, b'x']);
    let err = transport(vec![memory]).fetch().unwrap_err();
    assert_eq!(
        err.to_string(),
        "guestinfo.domain is not UTF-8 (read via memory)"
    );
}

#[test]
fn off_vmware_detection_skips_without_touching_the_backdoor() {
    if cpuid_says_vmware() {
        eprintln!("skipped: this machine is a VMware VM");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let t = GuestInfoTransport::detect_with_root(root.path());
    assert!(t.readers().is_empty());
    let Fetched::Skipped(why) = t.fetch().unwrap() else {
        panic!()
    };
    assert!(why.starts_with("not running on VMware"), "{why}");
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn dmi_vendor_alone_detects_vmware_and_prefers_the_backdoor() {
    let root = tempfile::tempdir().unwrap();
    let dmi = root.path().join("sys/class/dmi/id");
    std::fs::create_dir_all(&dmi).unwrap();
    std::fs::write(dmi.join("sys_vendor"), "VMware, Inc.\n").unwrap();
    // Detection only: fetching would execute the backdoor instruction here.
    let t = GuestInfoTransport::detect_with_root(root.path());
    assert_eq!(t.readers().first(), Some(&"backdoor"));
}

/// A script honouring vmware-rpctool's command-line contract (the real tool
/// needs a VMware hypervisor): value + newline on stdout, or exit 1 with
/// "No value found" on stderr.
fn rpctool_script(dir: &Path) -> Rpctool {
    let path = dir.join("vmware-rpctool");
    std::fs::write(
        &path,
        "#!/bin/sh\ncase \"$1\" in\n  'info-get guestinfo.ovfEnv') printf '<Environment/>\\n' ;;\n  \
         'info-get guestinfo.broken') echo 'Failed sending message to VMware.' >&2; exit 255 ;;\n  \
         *) echo 'No value found' >&2; exit 1 ;;\nesac\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    Rpctool::at(path)
}

#[test]
fn rpctool_contract_value_absent_and_failure() {
    let dir = tempfile::tempdir().unwrap();
    let rpctool = rpctool_script(dir.path());
    assert_eq!(
        rpctool.get(OVF_ENV_KEY).unwrap(),
        Some(b"<Environment/>".to_vec())
    );
    assert_eq!(rpctool.get("guestinfo.hostname").unwrap(), None);
    let err = rpctool.get("guestinfo.broken").unwrap_err();
    assert!(
        err.0.contains("exit status: 255") && err.0.contains("Failed sending message"),
        "{err}"
    );
}

#[test]
fn missing_rpctool_binary_is_an_error() {
    let err = Rpctool::at("/nonexistent/vmware-rpctool")
        .get(OVF_ENV_KEY)
        .unwrap_err();
    assert!(
        err.0.starts_with("cannot run /nonexistent/vmware-rpctool"),
        "{err}"
    );
}

/// The real open-vm-tools binary, when installed, off VMware: it must come back
/// as an error (not "absent", not a crash).
#[test]
#[ignore = "needs vmware-rpctool (open-vm-tools)"]
fn real_rpctool_off_vmware_is_an_error() {
    let rpctool =
        Rpctool::find().expect("needs vmware-rpctool (open-vm-tools): it is not installed");
    if cpuid_says_vmware() {
        eprintln!("skipped: this machine is a VMware VM");
        return;
    }
    let err = rpctool.get(OVF_ENV_KEY).unwrap_err();
    assert!(err.0.contains("VMware"), "{err}");
}
