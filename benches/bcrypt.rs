//! The endpoint password's bcrypt line at each cost `[auth] bcrypt_cost`
//! accepts (`ovaboot::auth::login::line`): what a first boot (or a new
//! password) adds, and what the auth server spends on every protected
//! request, since it verifies the same hash each time (go-htpasswd's
//! `golang.org/x/crypto/bcrypt` does the same work per request).
//!
//! `cargo bench --bench bcrypt`

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};

use ovaboot::auth::config::{MAX_BCRYPT_COST, MIN_BCRYPT_COST};
use ovaboot::auth::login::line;
use ovaboot::secret::Secret;

fn benches(c: &mut Criterion) {
    let password = Secret::new("correct horse battery staple".to_owned());
    let mut group = c.benchmark_group("bcrypt_line");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    for cost in MIN_BCRYPT_COST..=MAX_BCRYPT_COST {
        group.measurement_time(Duration::from_secs(
            u64::from(cost - MIN_BCRYPT_COST + 1) * 3,
        ));
        group.bench_function(BenchmarkId::from_parameter(cost), |b| {
            b.iter(|| line("admin", &password, cost, None).expect("hashes"))
        });
    }
    group.finish();
}

criterion_group!(bcrypt, benches);
criterion_main!(bcrypt);
