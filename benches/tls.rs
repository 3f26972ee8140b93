//! Making the self-signed certificate, per key algorithm: key generation,
//! signing, PEM encoding and fingerprint (`ovaboot::tls::self_signed`).
//!
//! `cargo bench --bench tls`

use std::net::IpAddr;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use time::OffsetDateTime;

use ovaboot::settings::Hostname;
use ovaboot::tls::{KeyAlgorithm, TlsConfig, self_signed};

fn benches(c: &mut Criterion) {
    let hostname: Hostname = "veba01.lab.example.com".parse().expect("host name");
    let static_ip: Option<IpAddr> = Some("10.0.0.20".parse().expect("IP"));
    let now = OffsetDateTime::now_utc();

    let mut group = c.benchmark_group("tls_self_signed");
    for algorithm in KeyAlgorithm::ALL {
        let config = TlsConfig {
            key_algorithm: algorithm,
            ..TlsConfig::default()
        };
        if algorithm.is_rsa() {
            // RSA key generation searches for primes: each call takes a
            // different, long time. Few fixed-size samples keep the run short.
            group.sampling_mode(SamplingMode::Flat);
            group.sample_size(10);
            group.warm_up_time(Duration::from_secs(1));
            group.measurement_time(Duration::from_secs(match algorithm {
                KeyAlgorithm::Rsa4096 => 30,
                KeyAlgorithm::Rsa3072 => 15,
                _ => 5,
            }));
        } else {
            group.sampling_mode(SamplingMode::Auto);
            group.sample_size(100);
            group.warm_up_time(Duration::from_secs(3));
            group.measurement_time(Duration::from_secs(5));
        }
        group.bench_function(BenchmarkId::from_parameter(algorithm.as_str()), |b| {
            b.iter(|| self_signed(&hostname, static_ip, &config, now).expect("generates"))
        });
    }
    group.finish();
}

criterion_group!(tls, benches);
criterion_main!(tls);
