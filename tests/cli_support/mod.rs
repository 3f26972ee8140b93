//! Helpers for the tests that run the built `ovaboot` binary: OVF environments
//! on disk, a hermetic render, the openssl CLI as the judge, and a real PKI.

#![allow(dead_code)] // each test file uses a different part

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

pub mod appliance;

pub const FQDN: &str = "appliance7.corp.example.net";
pub const SHORT: &str = "appliance7";
pub const IP: &str = "192.168.40.17";

/// The pinned Contour manifest, read in place (never copied into the repository).
pub fn contour_manifest() -> PathBuf {
    match std::env::var_os("OVABOOT_CONTOUR_MANIFEST") {
        Some(path) => PathBuf::from(path),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/contour/contour-v1.33.6.yaml")
        }
    }
}

pub fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cli");
    path.join(name).to_str().unwrap().to_owned()
}

pub fn ovaboot_with_manifest(args: &[&str], manifest: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ovaboot"))
        .args(args)
        .env_remove("OVABOOT_LOG")
        .env("OVABOOT_CONTOUR_MANIFEST", manifest)
        .output()
        .expect("the ovaboot binary runs")
}

pub fn ovaboot(args: &[&str]) -> Output {
    ovaboot_with_manifest(args, &contour_manifest())
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

pub fn xml_escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
}

/// The endpoint password the fixtures give (the default routes are protected).
pub const ENDPOINT_PASSWORD: &str = "fixture endpoint pw";

/// An ESXi-style OVF environment with the static network of the fixtures and
/// the endpoint password, plus `extra` (which may give the password itself),
/// written to `dir/ovf-env.xml`.
pub fn environment(dir: &Path, extra: &[(&str, &str)]) -> String {
    let mut properties = vec![
        ("guestinfo.hostname", FQDN),
        ("guestinfo.ipaddress", IP),
        ("guestinfo.netmask", "24"),
        ("guestinfo.gateway", "192.168.40.1"),
    ];
    properties.extend_from_slice(extra);
    environment_with(&dir.join("ovf-env.xml"), &properties)
}

/// An ESXi-style OVF environment with `properties`, written to `path`, and
/// the fixtures' endpoint password unless they give it (the default routes
/// are protected; a test of its absence gives it blank).
pub fn environment_with(path: &Path, properties: &[(&str, &str)]) -> String {
    let mut properties = properties.to_vec();
    if !properties
        .iter()
        .any(|(k, _)| *k == "guestinfo.endpoint_password")
    {
        properties.push(("guestinfo.endpoint_password", ENDPOINT_PASSWORD));
    }
    let props: String = properties
        .iter()
        .map(|(k, v)| {
            format!(
                "  <Property oe:key=\"{k}\" oe:value=\"{}\"/>\n",
                xml_escape(v)
            )
        })
        .collect();
    let xml = format!(
        "<?xml version=\"1.0\"?>\n<Environment xmlns=\"http://schemas.dmtf.org/ovf/environment/1\" \
         xmlns:oe=\"http://schemas.dmtf.org/ovf/environment/1\"><PropertySection>\n{props}</PropertySection></Environment>\n"
    );
    std::fs::write(path, xml).unwrap();
    path.to_str().unwrap().to_owned()
}

/// `firstboot --phase host` on `root` with the environment file `env` and
/// the default config.
pub fn firstboot_host(root: &Path, env: &str) -> Output {
    firstboot_host_with_config(root, env, &fixture("defaults-only.toml"))
}

/// `firstboot --phase host` on `root` with the environment file `env` and
/// the config file `config`.
pub fn firstboot_host_with_config(root: &Path, env: &str, config: &str) -> Output {
    ovaboot_with_manifest(
        &[
            "firstboot",
            "--phase",
            "host",
            "--root",
            root.to_str().unwrap(),
            "--config",
            config,
            "--ovf-env",
            env,
        ],
        &contour_manifest(),
    )
}

/// Runs the openssl CLI; its stdout, or a panic with its stderr.
pub fn openssl(args: &[&str], input: &[u8]) -> String {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl CLI runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A successful render into `<fresh tempdir>/rendered`, with a hermetic root and config.
pub struct Rendered {
    _parent: tempfile::TempDir,
    pub dir: PathBuf,
    pub stdout: String,
    pub stderr: String,
}

impl Rendered {
    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }
    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap()
    }
    pub fn plan(&self) -> Value {
        serde_json::from_str(&self.read("plan.json")).unwrap()
    }
}

pub fn render(env_args: &[&str], root: &str) -> Rendered {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("rendered");
    let config = fixture("defaults-only.toml");
    let mut args = vec![
        "render",
        "--out",
        dir.to_str().unwrap(),
        "--root",
        root,
        "--config",
        &config,
    ];
    args.extend_from_slice(env_args);
    let out = ovaboot(&args);
    assert!(out.status.success(), "render failed: {}", text(&out.stderr));
    Rendered {
        _parent: parent,
        dir,
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
    }
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found.sort();
    found
}

pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// A rendered manifest: a comment line, then the object.
pub fn manifest_object(path: &Path) -> Value {
    let body: String = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Strings that give the key away: its PEM body lines and the base64 the Secret carries.
pub fn key_needles(key_pem: &str) -> Vec<String> {
    let mut needles: Vec<String> = key_pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .map(str::to_owned)
        .collect();
    assert!(!needles.is_empty(), "the key has a body");
    needles.push(STANDARD.encode(key_pem.as_bytes()));
    needles
}

/// The key is only in tls.key and the Secret manifest: not on the console,
/// not in plan.json, not in any other file.
pub fn assert_key_only_where_it_belongs(r: &Rendered) {
    let key_pem = r.read("rootfs/etc/ovaboot/tls/tls.key");
    let needles = key_needles(&key_pem);
    let leaks = |what: &str, haystack: &str| {
        for needle in &needles {
            assert!(
                !haystack.contains(needle.as_str()),
                "the private key is in {what}"
            );
        }
    };
    leaks("stdout", &r.stdout);
    leaks("stderr", &r.stderr);
    let key_path = r.path("rootfs/etc/ovaboot/tls/tls.key");
    let mut secret_manifests = 0;
    for file in files_under(&r.dir) {
        // The TLS Secret; the xDS ones (contourcert, envoycert) and the auth
        // server's (its CA, its pair, the login) carry other things and must
        // not carry this key.
        let is_secret_manifest = file.parent().unwrap().ends_with("manifests")
            && manifest_object(&file)["kind"] == "Secret"
            && ![
                "contourcert",
                "envoycert",
                "htpasswd-ca",
                "htpasswd-tls",
                "endpoint-login",
            ]
            .contains(
                &manifest_object(&file)["metadata"]["name"]
                    .as_str()
                    .unwrap_or(""),
            );
        if file == key_path {
            continue;
        }
        if is_secret_manifest {
            secret_manifests += 1;
            // The check above can see a key: the Secret really carries this one.
            let secret = manifest_object(&file);
            let carried = STANDARD
                .decode(secret["data"]["tls.key"].as_str().unwrap())
                .unwrap();
            assert_eq!(text(&carried), key_pem);
            continue;
        }
        leaks(
            &file.display().to_string(),
            &std::fs::read_to_string(&file).unwrap(),
        );
    }
    assert_eq!(secret_manifests, 1);
}

/// SHA-256 fingerprint as openssl prints it (`AB:CD:…`).
pub fn openssl_fingerprint(cert_pem: &[u8]) -> String {
    let line = openssl(&["x509", "-noout", "-fingerprint", "-sha256"], cert_pem);
    line.trim().split_once('=').unwrap().1.to_owned()
}

pub fn assert_key_matches_cert(key_pem: &[u8], cert_pem: &[u8]) {
    let from_key = openssl(&["pkey", "-pubout"], key_pem);
    let from_cert = openssl(&["x509", "-noout", "-pubkey"], cert_pem);
    assert_eq!(
        from_key, from_cert,
        "tls.key is not the key of tls.crt's leaf"
    );
}

pub struct Ca {
    pub pem: String,
    pub der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

pub fn ca_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(365);
    params.not_after = now + Duration::days(3650);
    params
}

pub fn ca(cn: &str, parent: Option<&Ca>) -> Ca {
    let key = KeyPair::generate().unwrap();
    let params = ca_params(cn);
    let cert = match parent {
        None => params.self_signed(&key).unwrap(),
        Some(parent) => params.signed_by(&key, &parent.issuer).unwrap(),
    };
    Ca {
        pem: cert.pem(),
        der: cert.der().to_vec(),
        issuer: Issuer::new(params, key),
    }
}

/// A server certificate for `dns`, valid from `from` until `until` (relative to now).
pub fn leaf(
    issuer: &Ca,
    dns: &str,
    key: &KeyPair,
    from: Duration,
    until: Duration,
) -> (String, Vec<u8>) {
    leaf_edited(issuer, dns, key, from, until, |_| {})
}

/// [`leaf`], with `edit` applied to its parameters before signing (a usage
/// taken away, a CA flag, an extension added).
pub fn leaf_edited(
    issuer: &Ca,
    dns: &str,
    key: &KeyPair,
    from: Duration,
    until: Duration,
    edit: impl FnOnce(&mut CertificateParams),
) -> (String, Vec<u8>) {
    let mut params = CertificateParams::new(vec![dns.to_owned()]).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, dns);
    params.distinguished_name = dn;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let now = OffsetDateTime::now_utc();
    params.not_before = now + from;
    params.not_after = now + until;
    edit(&mut params);
    let cert = params.signed_by(key, &issuer.issuer).unwrap();
    (cert.pem(), cert.der().to_vec())
}

pub fn pem_blocks_der(pem: &str) -> Vec<Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes())
        .map(|block| block.unwrap().contents)
        .collect()
}

/// The completion record the cluster phase writes, for a root whose host
/// phase ran (there is no cluster in these tests): the host name it set, the
/// installed certificate's fingerprint.
pub fn record_first_boot_completed(root: &Path) {
    let cert = std::fs::read(root.join("etc/ovaboot/tls/tls.crt")).unwrap();
    // The host name the host phase set (the tests' FQDN unless they chose another).
    let hostname = std::fs::read_to_string(root.join("etc/hostname")).unwrap();
    let hostname = hostname.trim();
    let record = root.join("var/lib/ovaboot/firstboot.json");
    std::fs::create_dir_all(record.parent().unwrap()).unwrap();
    std::fs::write(
        &record,
        format!(
            r#"{{"ovaboot_version":"0.1.0","completed_at":"2026-11-27T10:00:00Z","hostname":"{hostname}","certificate_sha256":"{}"}}"#,
            openssl_fingerprint(&cert)
        ),
    )
    .unwrap();
    record_xds_applied(root);
}

/// What the cluster phase records once `contourcert` and `envoycert` hold
/// the xDS pairs the host phase kept under `root`.
pub fn record_xds_applied(root: &Path) {
    let now = time::OffsetDateTime::now_utc();
    let kept = ovaboot::xds::renew::read_kept(root);
    let plan = ovaboot::xds::plan(&kept, &ovaboot::xds::XdsConfig::default(), now).unwrap();
    assert!(
        plan.minted.is_empty(),
        "the host phase kept them: {:?}",
        plan.minted
    );
    ovaboot::xds::record::store(root, &plan, now).unwrap();
}

/// A kubeconfig for loopback port 9 (discard; nothing listens there), and a
/// config with a 1 s deadline, written into `work`: (kubeconfig, config).
pub fn unreachable_cluster(work: &Path) -> (String, String) {
    let kubeconfig = work.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:9\n\
         contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user: {}\n",
    )
    .unwrap();
    let config = work.join("ovaboot.toml");
    std::fs::write(&config, "[kube]\napi_server_timeout_secs = 1\n").unwrap();
    (
        kubeconfig.to_str().unwrap().to_owned(),
        config.to_str().unwrap().to_owned(),
    )
}
