//! `ovaboot render` as an appliance builder runs it: the built binary, real OVF
//! environments on disk, real certificates, and the openssl CLI as the judge.

mod cli_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{KeyPair, RsaKeySize};
use serde_json::Value;
use time::Duration;

use cli_support::*;

#[test]
fn self_signed_render_round_trip() {
    let root = tempfile::tempdir().unwrap();
    let r = render(
        &["--ovf-env", &fixture("static-network-without-tls.xml")],
        root.path().to_str().unwrap(),
    );
    let crt = std::fs::read(r.path("rootfs/etc/ovaboot/tls/tls.crt")).unwrap();
    let key = std::fs::read(r.path("rootfs/etc/ovaboot/tls/tls.key")).unwrap();

    // The certificate, as openssl sees it.
    let sans = openssl(&["x509", "-noout", "-ext", "subjectAltName"], &crt);
    for san in [
        format!("DNS:{FQDN}"),
        format!("DNS:{SHORT}"),
        format!("IP Address:{IP}"),
    ] {
        assert!(sans.contains(&san), "{san} missing from {sans}");
    }
    let check = openssl(&["x509", "-noout", "-checkhost", FQDN], &crt);
    assert!(check.contains("does match"), "{check}");
    assert_key_matches_cert(&key, &crt);

    // Modes: the key and the Secret are the owner's only.
    for file in files_under(&r.dir) {
        let name = file.file_name().unwrap().to_str().unwrap();
        let private = name.ends_with(".key")
            || name == "htpasswd"
            || (name.contains("secret") && name.ends_with(".yaml"));
        let expected = if private { 0o600 } else { 0o644 };
        assert_eq!(mode(&file), expected, "{}", file.display());
    }

    // plan.json says what was written.
    let plan = r.plan();
    assert_eq!(plan["hostname"], FQDN);
    assert_eq!(plan["network"]["mode"], "static");
    assert_eq!(plan["network"]["address"], format!("{IP}/24"));
    let cert = &plan["certificate"];
    assert_eq!(cert["source"], "self-signed");
    assert_eq!(cert["sha256"].as_str().unwrap(), openssl_fingerprint(&crt));
    assert_eq!(cert["sans"], serde_json::json!([FQDN, SHORT, IP]));
    let end = openssl(
        &["x509", "-noout", "-enddate", "-dateopt", "iso_8601"],
        &crt,
    );
    assert_eq!(
        end.trim().trim_start_matches("notAfter="),
        cert["not_after"].as_str().unwrap().replace('T', " ")
    );
    assert_eq!(cert["chain_length"], 1);
    // Every host file listed is under rootfs with its mode, and nothing else is.
    let listed: BTreeMap<PathBuf, u32> = plan["host_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let path = ovaboot::root::under(&r.path("rootfs"), f["path"].as_str().unwrap());
            (
                path,
                u32::from_str_radix(f["mode"].as_str().unwrap(), 8).unwrap(),
            )
        })
        .collect();
    let on_disk: BTreeMap<PathBuf, u32> = files_under(&r.path("rootfs"))
        .into_iter()
        .map(|p| (p.clone(), mode(&p)))
        .collect();
    assert_eq!(listed, on_disk);

    // Manifests: numbered in apply order, as plan.json lists them.
    let files = files_under(&r.path("manifests"));
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(serde_json::json!(names), plan["manifests"]);
    let objects: Vec<Value> = files.iter().map(|f| manifest_object(f)).collect();
    for (index, (name, object)) in names.iter().zip(&objects).enumerate() {
        let kind = object["kind"].as_str().unwrap().to_ascii_lowercase();
        let obj_name = object["metadata"]["name"].as_str().unwrap();
        assert_eq!(name, &format!("{index:02}-{kind}-{obj_name}.yaml"));
    }
    assert_eq!(objects[0]["kind"], "Namespace", "a namespace comes first");
    let position = |kind: &str| objects.iter().position(|o| o["kind"] == kind);
    let namespace_index = |ns: &str| {
        objects
            .iter()
            .position(|o| o["kind"] == "Namespace" && o["metadata"]["name"] == ns)
    };
    // Each namespace the plan creates is created before anything in it.
    for (index, object) in objects.iter().enumerate() {
        if let Some(ns) = object["metadata"]["namespace"].as_str()
            && let Some(created) = namespace_index(ns)
        {
            assert!(
                created < index,
                "{} comes before its namespace",
                names[index]
            );
        }
    }
    let secret_at = objects
        .iter()
        .position(|o| {
            o["kind"] == "Secret"
                && o["type"] == "kubernetes.io/tls"
                && o["metadata"]["namespace"] != "projectcontour"
                && o["metadata"]["namespace"] != "projectcontour-auth"
        })
        .expect("the TLS Secret");
    // The xDS Secrets precede the pods that mount them, and no certgen Job runs.
    let at = |kind: &str, name: &str| {
        objects
            .iter()
            .position(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{kind} {name}"))
    };
    assert!(at("Secret", "contourcert") < at("Deployment", "contour"));
    assert!(at("Secret", "envoycert") < at("DaemonSet", "envoy"));
    assert_eq!(position("Job"), None);
    let secret = &objects[secret_at];
    assert_eq!(secret["type"], "kubernetes.io/tls");
    let proxies: Vec<usize> = (0..objects.len())
        .filter(|&i| objects[i]["kind"] == "HTTPProxy")
        .collect();
    assert!(!proxies.is_empty());
    assert!(
        proxies.iter().all(|&p| p > secret_at),
        "the Secret precedes every HTTPProxy"
    );
    let root_proxy = proxies
        .iter()
        .map(|&p| &objects[p])
        .find(|o| o["spec"]["virtualhost"].is_object())
        .expect("a root HTTPProxy");
    assert_eq!(root_proxy["spec"]["virtualhost"]["fqdn"], FQDN);
    assert_eq!(
        root_proxy["spec"]["virtualhost"]["tls"]["secretName"],
        secret["metadata"]["name"]
    );
    assert_eq!(
        root_proxy["metadata"]["namespace"],
        secret["metadata"]["namespace"]
    );
    let carried = STANDARD
        .decode(secret["data"]["tls.crt"].as_str().unwrap())
        .unwrap();
    assert_eq!(carried, crt, "the Secret carries the chain of tls.crt");

    assert_key_only_where_it_belongs(&r);
}

// ---- the admin's own chain --------------------------------------------------

enum KeyForm {
    /// RSA key as `RSA PRIVATE KEY`, everything pasted with newlines turned into spaces.
    Pkcs1PastedWithSpaces,
    /// EC key as `EC PRIVATE KEY`, everything pasted with CRLF line ends.
    Sec1PastedWithCrlf,
}

/// Pastes the chain (with or without the root, shuffled) and the key in `form`,
/// renders, and checks what is served.
fn render_admin_chain(form: KeyForm, paste_root: bool) {
    let work = tempfile::tempdir().unwrap();
    let root_ca = ca("ovaboot test root CA", None);
    let intermediate = ca("ovaboot test issuing CA", Some(&root_ca));
    let (key, key_pem, mangle): (KeyPair, String, fn(&str) -> String) = match form {
        KeyForm::Pkcs1PastedWithSpaces => {
            let key =
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048).unwrap();
            let pem = openssl(&["rsa", "-traditional"], key.serialize_pem().as_bytes());
            assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
            (key, pem, |s| s.replace('\n', " "))
        }
        KeyForm::Sec1PastedWithCrlf => {
            let key = KeyPair::generate().unwrap();
            let pem = openssl(&["ec"], key.serialize_pem().as_bytes());
            assert!(pem.starts_with("-----BEGIN EC PRIVATE KEY-----"));
            (key, pem, |s| s.replace('\n', "\r\n"))
        }
    };
    let (leaf_pem, leaf_der) = leaf(
        &intermediate,
        FQDN,
        &key,
        Duration::days(-1),
        Duration::days(90),
    );
    // Shuffled: issuers before the leaf.
    let (pasted, expected) = if paste_root {
        let pasted = format!("{}{}{}", root_ca.pem, leaf_pem, intermediate.pem);
        (
            pasted,
            vec![leaf_der, intermediate.der.clone(), root_ca.der.clone()],
        )
    } else {
        let pasted = format!("{}{}", intermediate.pem, leaf_pem);
        (pasted, vec![leaf_der, intermediate.der.clone()])
    };
    let env = environment(
        work.path(),
        &[
            ("guestinfo.tls_cert", &mangle(&pasted)),
            ("guestinfo.tls_key", &mangle(&key_pem)),
        ],
    );
    let r = render(&["--ovf-env", &env], work.path().to_str().unwrap());

    // Leaf first, then each issuer in turn.
    let chain = r.read("rootfs/etc/ovaboot/tls/tls.crt");
    assert_eq!(pem_blocks_der(&chain), expected);
    let blocks: Vec<&str> = chain
        .split_inclusive("-----END CERTIFICATE-----\n")
        .collect();
    let file = |name: &str, contents: &str| {
        let path = work.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (root_file, untrusted, leaf_file) = (
        file("root.pem", &root_ca.pem),
        file("untrusted.pem", blocks[1]),
        file("leaf.pem", blocks[0]),
    );
    let verified = openssl(
        &[
            "verify",
            "-CAfile",
            &root_file,
            "-untrusted",
            &untrusted,
            &leaf_file,
        ],
        b"",
    );
    assert!(verified.trim().ends_with(": OK"), "{verified}");

    // The key served is the admin's, in the form given.
    let served_key = r.read("rootfs/etc/ovaboot/tls/tls.key");
    assert_eq!(served_key.lines().next(), key_pem.lines().next());
    assert_key_matches_cert(served_key.as_bytes(), blocks[0].as_bytes());

    let plan = r.plan();
    assert_eq!(plan["certificate"]["source"], "user");
    assert_eq!(plan["certificate"]["chain_length"], expected.len());
    assert_eq!(
        plan["certificate"]["sha256"].as_str().unwrap(),
        openssl_fingerprint(blocks[0].as_bytes())
    );
    assert_key_only_where_it_belongs(&r);
}

#[test]
fn admin_chain_with_root_pasted_shuffled_with_spaces_and_a_pkcs1_key_is_served_leaf_first() {
    render_admin_chain(KeyForm::Pkcs1PastedWithSpaces, true);
}

#[test]
fn admin_chain_without_root_pasted_shuffled_with_crlf_and_a_sec1_key_is_served_leaf_first() {
    render_admin_chain(KeyForm::Sec1PastedWithCrlf, false);
}

// ---- --root -----------------------------------------------------------------

#[test]
fn root_hosts_lines_are_kept_and_the_fqdn_is_mapped() {
    let root = fixture("root-with-admin-hosts");
    let before = std::fs::read(Path::new(&root).join("etc/hosts")).unwrap();
    let r = render(
        &["--ovf-env", &fixture("static-network-without-tls.xml")],
        &root,
    );
    let hosts = r.read("rootfs/etc/hosts");
    for line in text(&before).lines().filter(|l| !l.starts_with('#')) {
        assert!(
            hosts.lines().any(|l| l == line),
            "{line:?} dropped from {hosts}"
        );
    }
    let mapped = hosts
        .lines()
        .find(|l| l.split_whitespace().skip(1).any(|name| name == FQDN));
    let fields: Vec<&str> = mapped
        .expect("the FQDN is mapped")
        .split_whitespace()
        .collect();
    assert_eq!(fields[0], IP);
    assert!(fields.contains(&SHORT), "{fields:?}");
    assert_eq!(
        std::fs::read(Path::new(&root).join("etc/hosts")).unwrap(),
        before,
        "--root untouched"
    );
}

#[test]
fn a_rerun_over_its_own_output_keeps_the_self_signed_pair() {
    let env = fixture("static-network-without-tls.xml");
    let first = render(&["--ovf-env", &env], &fixture("root-with-admin-hosts"));
    assert_eq!(first.plan()["certificate"]["reused"], false);

    // The first run's rootfs is what a power-cut first boot leaves on disk.
    let rootfs = first.path("rootfs");
    let second = render(&["--ovf-env", &env], rootfs.to_str().unwrap());
    assert_eq!(second.plan()["certificate"]["reused"], true);
    assert_eq!(
        second.plan()["certificate"]["sha256"],
        first.plan()["certificate"]["sha256"]
    );
    assert_eq!(
        second.read("rootfs/etc/ovaboot/tls/tls.key"),
        first.read("rootfs/etc/ovaboot/tls/tls.key")
    );
    assert_eq!(
        second.read("rootfs/etc/hosts"),
        first.read("rootfs/etc/hosts"),
        "planning over its own /etc/hosts changes nothing"
    );

    // A new host name is a new certificate.
    let other = tempfile::tempdir().unwrap();
    let renamed = other.path().join("ovf-env.xml");
    let xml = std::fs::read_to_string(&env).unwrap();
    assert!(xml.contains(FQDN));
    std::fs::write(&renamed, xml.replace(FQDN, "other.corp.example.net")).unwrap();
    let renamed = renamed.to_str().unwrap().to_owned();
    let third = render(&["--ovf-env", &renamed], rootfs.to_str().unwrap());
    assert_eq!(third.plan()["certificate"]["reused"], false);
    assert_ne!(
        third.plan()["certificate"]["sha256"],
        first.plan()["certificate"]["sha256"]
    );
}
