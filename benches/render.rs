//! The whole first-boot plan: `ovaboot::plan::appliance::build` in process on
//! the built-in sample settings (its Contour part on its own too), and the
//! whole `ovaboot render --sample --out <fresh dir>` process.
//!
//! Needs the pinned Contour manifest: `OVABOOT_CONTOUR_MANIFEST`, else
//! `<crate>/../shared/contour/contour-v1.33.6.yaml`.
//!
//! `cargo bench --bench render`

use std::hint::black_box;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, criterion_group, criterion_main};
use time::OffsetDateTime;

use ovaboot::config::Config;
use ovaboot::ovf::read_environment;
use ovaboot::ovf::transport::{SampleTransport, Transport};
use ovaboot::plan::appliance::{HostFacts, build};
use ovaboot::settings::Settings;

fn contour_manifest() -> PathBuf {
    let path = std::env::var_os("OVABOOT_CONTOUR_MANIFEST")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/contour/contour-v1.33.6.yaml")
        });
    assert!(
        path.is_file(),
        "the pinned Contour manifest {} is missing; set OVABOOT_CONTOUR_MANIFEST",
        path.display()
    );
    path
}

fn benches(c: &mut Criterion) {
    let manifest = contour_manifest();

    // The inputs `ovaboot render --sample` builds (src/main.rs), with the
    // compiled-in config and a fixed host instead of this machine's.
    let transports: Vec<Box<dyn Transport>> = vec![Box::new(SampleTransport)];
    let env = read_environment(&transports).expect("the sample environment");
    let settings = Settings::from_properties(&env.properties).expect("the sample settings");
    let mut config = Config::default();
    config.contour.manifest = Some(manifest.clone());
    let facts = HostFacts {
        existing_hosts: "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n".into(),
        interface: Some("eth0".into()),
        // A first boot: nothing installed yet, so the certificate is generated.
        installed_tls: None,
        ..HostFacts::default()
    };
    let now = OffsetDateTime::now_utc();

    let mut group = c.benchmark_group("render");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(10));
    // Everything: host files, ECDSA self-signed certificate, Contour manifest
    // read + sha256 + YAML parse + transform + checks, routes, TLS Secret.
    group.bench_function("plan_build_sample", |b| {
        b.iter(|| build(black_box(&settings), &config, &facts, now).expect("the sample plans"))
    });
    // The Contour part alone, to show where the time of the plan goes.
    group.bench_function("contour_plan", |b| {
        b.iter(|| ovaboot::contour::plan(black_box(&config.contour)).expect("Contour plans"))
    });
    group.finish();

    let binary = env!("CARGO_BIN_EXE_ovaboot");
    let parent = tempfile::tempdir().expect("temporary directory");
    let mut group = c.benchmark_group("render_process");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("sample", |b| {
        b.iter_batched(
            // A fresh, absent output folder each time; removed untimed.
            || tempfile::tempdir_in(parent.path()).expect("output parent"),
            |dir| {
                let status = Command::new(binary)
                    .args(["render", "--sample", "--out"])
                    .arg(dir.path().join("out"))
                    .env("OVABOOT_CONTOUR_MANIFEST", &manifest)
                    .env_remove("OVABOOT_LOG")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::inherit())
                    .status()
                    .expect("run ovaboot render");
                assert!(status.success(), "ovaboot render --sample failed: {status}");
                dir
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(render, benches);
criterion_main!(render);
