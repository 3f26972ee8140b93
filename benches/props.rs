//! Reading the OVF properties: parsing a ~60 KiB vCenter environment (a PEM
//! chain, its key, a CA bundle and the usual wizard properties), validating it
//! into `Settings`, and the whole `ovaboot props --ovf-env <file>` process.
//!
//! `cargo bench --bench props`; `OVABOOT_BENCH_SAVE_OVF_ENV=<file>` also
//! writes the generated document there.

use std::hint::black_box;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

use ovaboot::ovf::document;
use ovaboot::settings::Settings;

/// guestinfo carries at most 64 KiB by default; this is a document near that limit.
const TARGET_BYTES: usize = 60 * 1024;
const MIN_BYTES: usize = 58 * 1024;
const MAX_BYTES: usize = 62 * 1024;

const HOSTNAME: &str = "veba01.lab.example.com";

/// A CA that signs the chain and the trust bundle (ECDSA: fast to make, so
/// `cargo test --benches` stays quick).
struct Authority {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca_params(org: &str, cn: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "US");
    dn.push(DnType::OrganizationName, org);
    dn.push(DnType::OrganizationalUnitName, "Infrastructure PKI");
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

fn p384() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("P-384 key")
}

impl Authority {
    fn root(org: &str, cn: &str) -> Authority {
        let key = p384();
        let params = ca_params(org, cn);
        let cert = params.self_signed(&key).expect("root CA");
        Authority {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    fn intermediate(&self, org: &str, cn: &str) -> Authority {
        let key = p384();
        let params = ca_params(org, cn);
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("intermediate CA");
        Authority {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }
}

/// The leaf for the appliance: its PEM and its key's PKCS#8 PEM.
fn leaf(issuer: &Authority) -> (String, String) {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 key");
    let mut params =
        CertificateParams::new(vec![HOSTNAME.to_owned(), "veba01".to_owned()]).expect("SANs");
    params
        .subject_alt_names
        .push(SanType::IpAddress("10.0.0.20".parse().expect("IP")));
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Example Corp");
    dn.push(DnType::CommonName, HOSTNAME);
    params.distinguished_name = dn;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let cert = params.signed_by(&key, &issuer.issuer).expect("leaf");
    (cert.pem(), key.serialize_pem())
}

/// As vCenter writes attribute values: newlines become `&#10;`.
fn xml_escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\n', "&#10;")
}

fn render(properties: &[(String, String)]) -> String {
    let mut props: Vec<&(String, String)> = properties.iter().collect();
    // vCenter lists properties sorted by key.
    props.sort();
    let mut xml = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Environment
     xmlns="http://schemas.dmtf.org/ovf/environment/1"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     xmlns:oe="http://schemas.dmtf.org/ovf/environment/1"
     xmlns:ve="http://www.vmware.com/schema/ovfenv"
     oe:id=""
     ve:vCenterId="vm-4711">
   <PlatformSection>
      <Kind>VMware ESXi</Kind>
      <Version>8.0.3</Version>
      <Vendor>VMware, Inc.</Vendor>
      <Locale>en</Locale>
   </PlatformSection>
   <PropertySection>
"#,
    );
    for (key, value) in props {
        xml.push_str(&format!(
            "         <Property oe:key=\"{key}\" oe:value=\"{}\"/>\n",
            xml_escape(value)
        ));
    }
    xml.push_str(
        r#"   </PropertySection>
   <ve:EthernetAdapterSection>
      <ve:Adapter ve:mac="00:50:56:9a:12:34" ve:network="VM Network" ve:unitNumber="7"/>
      <ve:Adapter ve:mac="00:50:56:9a:12:35" ve:network="Storage" ve:unitNumber="8"/>
   </ve:EthernetAdapterSection>
</Environment>
"#,
    );
    xml
}

/// A vCenter-shaped environment of about [`TARGET_BYTES`]: the appliance's
/// chain (leaf, issuing CA, root) and key, the network, proxy and vCenter
/// properties, and an enterprise CA bundle grown until the target is reached.
fn vcenter_environment() -> String {
    let root = Authority::root("Example Corp", "Example Corp Root CA G2");
    let issuing = root.intermediate("Example Corp", "Example Corp Issuing CA 01");
    let (leaf_pem, key_pem) = leaf(&issuing);
    let chain = format!("{leaf_pem}{}{}", issuing.pem, root.pem);

    let fixed: Vec<(&str, String)> = vec![
        ("guestinfo.hostname", HOSTNAME.into()),
        ("guestinfo.ipaddress", "10.0.0.20".into()),
        ("guestinfo.netmask", "24 (255.255.255.0)".into()),
        ("guestinfo.gateway", "10.0.0.1".into()),
        ("guestinfo.dns", "10.0.0.53, 10.0.0.54".into()),
        ("guestinfo.domain", "lab.example.com".into()),
        (
            "guestinfo.ntp",
            "ntp1.lab.example.com ntp2.lab.example.com".into(),
        ),
        (
            "guestinfo.http_proxy",
            "http://proxy.lab.example.com:3128".into(),
        ),
        (
            "guestinfo.https_proxy",
            "http://proxy.lab.example.com:3128".into(),
        ),
        (
            "guestinfo.no_proxy",
            "localhost,127.0.0.1,.lab.example.com,10.0.0.0/8".into(),
        ),
        ("guestinfo.tls_cert", chain),
        ("guestinfo.tls_key", key_pem),
        ("guestinfo.root_password", "Sup3r-S3cret-R00t!".into()),
        ("guestinfo.vcenter_server", "vcsa01.lab.example.com".into()),
        (
            "guestinfo.vcenter_username",
            "svc-veba@vsphere.local".into(),
        ),
        ("guestinfo.vcenter_password", "Vc-S3rvice-Passw0rd".into()),
        ("guestinfo.vcenter_disable_tls_verification", "False".into()),
        (
            "guestinfo.syslog_server_hostname",
            "syslog.lab.example.com".into(),
        ),
        ("guestinfo.syslog_server_port", "514".into()),
        ("guestinfo.syslog_server_protocol", "TCP".into()),
        ("guestinfo.syslog_server_format", "RFC5424".into()),
        ("guestinfo.pod_network_cidr", "10.10.0.0/16".into()),
        ("guestinfo.docker_network_cidr", "172.17.0.1/16".into()),
        ("guestinfo.debug", "False".into()),
        ("guestinfo.webhook_enabled", "True".into()),
        ("guestinfo.webhook_username", "webhook".into()),
        ("guestinfo.webhook_password", "W3bh00k-Passw0rd".into()),
        (
            "guestinfo.deployment_note",
            "Deployed by the infrastructure team for the event router pilot".into(),
        ),
    ];
    let mut properties: Vec<(String, String)> =
        fixed.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();

    // The enterprise trust bundle the agent may be told to trust; grown one
    // issuing CA at a time so the document lands just under the target.
    const BUNDLE: &str = "guestinfo.custom_tls_ca_cert";
    let mut bundle = root.pem.clone();
    properties.push((BUNDLE.to_owned(), bundle.clone()));
    let mut n = 0;
    loop {
        let xml = render(&properties);
        if xml.len() >= TARGET_BYTES - 1024 {
            return xml;
        }
        n += 1;
        let ca = root.intermediate(
            &format!("Example Corp Division {n:02}"),
            &format!("Example Corp Division {n:02} Issuing CA"),
        );
        bundle.push_str(&ca.pem);
        properties.last_mut().expect("the bundle").1 = bundle.clone();
    }
}

fn ovaboot_binary() -> &'static Path {
    // Cargo builds the binary with the same profile as the bench.
    Path::new(env!("CARGO_BIN_EXE_ovaboot"))
}

fn run_props(args: &[&str]) {
    let status = Command::new(ovaboot_binary())
        .arg("props")
        .args(args)
        .env_remove("OVABOOT_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .expect("run ovaboot props");
    assert!(status.success(), "ovaboot props {args:?} failed: {status}");
}

fn benches(c: &mut Criterion) {
    let xml = vcenter_environment();
    assert!(
        (MIN_BYTES..=MAX_BYTES).contains(&xml.len()),
        "the generated environment is {} bytes, expected {MIN_BYTES}..={MAX_BYTES}",
        xml.len()
    );
    // What is measured must be the success path.
    let properties = document::parse(xml.as_bytes()).expect("the environment parses");
    assert!(properties["guestinfo.tls_key"].is_secret());
    let settings = Settings::from_properties(&properties).expect("the properties are valid");
    assert_eq!(
        settings.tls.as_ref().map(|t| t.certificates.len()),
        Some(3),
        "leaf, issuing CA and root"
    );

    // A copy to measure by hand (peak RSS with /usr/bin/time -v, see docs/performance.md).
    if let Some(copy) = std::env::var_os("OVABOOT_BENCH_SAVE_OVF_ENV") {
        std::fs::write(&copy, &xml).expect("write OVABOOT_BENCH_SAVE_OVF_ENV");
    }
    eprintln!(
        "ovf-env.xml: {} bytes, {} properties, TLS chain of 3 certificates",
        xml.len(),
        properties.len()
    );

    let mut group = c.benchmark_group("props");
    group.bench_function("settings_from_properties", |b| {
        b.iter(|| Settings::from_properties(black_box(&properties)).expect("valid"))
    });
    // Bytes of XML per second, for the benchmarks that read it.
    group.throughput(Throughput::Bytes(xml.len() as u64));
    group.bench_function("parse_60KiB", |b| {
        b.iter(|| document::parse(black_box(xml.as_bytes())).expect("parses"))
    });
    group.bench_function("parse_and_settings_60KiB", |b| {
        b.iter(|| {
            let properties = document::parse(black_box(xml.as_bytes())).expect("parses");
            Settings::from_properties(&properties).expect("valid")
        })
    });
    group.finish();

    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("ovf-env.xml");
    std::fs::write(&path, &xml).expect("write ovf-env.xml");
    let path = path.to_str().expect("a UTF-8 temporary path");

    // Whole processes: exec, dynamic loading, argument parsing, reading the
    // file, parse, validation, printing (to /dev/null).
    let mut group = c.benchmark_group("props_process");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(50);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("ovf_env_60KiB", |b| {
        b.iter(|| run_props(&["--ovf-env", path]))
    });
    group.bench_function("sample", |b| b.iter(|| run_props(&["--sample"])));
    group.finish();
}

criterion_group!(props, benches);
criterion_main!(props);
