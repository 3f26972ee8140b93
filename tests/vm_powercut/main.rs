//! Power lost at any instant: the appliance image (as tests/vm_appliance/
//! boots it, the OVF environment on the ISO transport, the cluster phase
//! against the test control plane) is killed with SIGKILL at a random instant
//! of its first boot's host or cluster phase, or of a day-2 run (a new
//! certificate, root password, SSH key, NTP and DNS servers), then booted
//! again cleanly; that boot must converge: first boot done, root's one shadow
//! line verifying the final password, every file ovaboot writes whole and
//! holding the final values, the key the certificate's, every record
//! parsing, the Secret the pair on disk, the completion record written once
//! and only after everything (round.rs, checks.rs, cluster.rs say each).
//!
//! During a cut boot the disk's writes are throttled (QEMU's
//! `throttling.iops-write`), so that ovaboot's writes take seconds and the
//! cuts land inside them; a test-only unit traces ovaboot's fsyncs, renames
//! and exits on the serial console, which the host stamps with its clock, so
//! each cut is placed among them (cut.rs).
//!
//! The instants come from a seed the test prints; `OVABOOT_POWERCUT_SEED`
//! replays one. `OVABOOT_POWERCUT_RUNS` cuts (default 4: two rounds of a
//! first-boot cut and a day-2 cut), two rounds at a time.
//! `OVABOOT_POWERCUT_KEEP=1` keeps every round's disks (else only a failed
//! round's). Ignored unless run with `--ignored`, as root, with
//! `OVABOOT_TEST_KUBECONFIG` naming a control plane (tests/controlplane/up).

#[path = "../cli_support/mod.rs"]
mod cli_support;
#[path = "../controlplane_support/mod.rs"]
mod controlplane_support;
#[path = "../vm_support/mod.rs"]
mod vm_support;

mod checks;
mod cluster;
mod cut;
mod round;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use cut::Landed;
use round::{Outcome, Plan, Stage};
use vm_support::appliance::ControlPlane;
use vm_support::{require_vm_parts, test_disk};

/// Cuts when `OVABOOT_POWERCUT_RUNS` is not set: what CI runs on every change.
const DEFAULT_CUTS: usize = 4;

#[test]
#[ignore = "needs QEMU, root and the test control plane (OVABOOT_TEST_KUBECONFIG): cuts the appliance's power under TCG"]
fn power_lost_at_any_instant_the_next_boot_converges() {
    require_vm_parts();
    let kubeconfig = std::env::var_os("OVABOOT_TEST_KUBECONFIG")
        .map(PathBuf::from)
        .expect("the power-cut test needs OVABOOT_TEST_KUBECONFIG: a control plane (tests/controlplane/up)");
    let seed = seed();
    let cuts = cuts();
    eprintln!("power cut: seed {seed} (OVABOOT_POWERCUT_SEED={seed} replays it), {cuts} cuts");
    let plans = plans(seed, cuts);
    test_disk();
    let cp = ControlPlane::at(kubeconfig);
    let started = Instant::now();
    let outcomes = run_two_at_a_time(&plans, &cp);
    let summary = summary(seed, &outcomes, started.elapsed().as_secs_f64());
    eprintln!("{summary}");
    let _ = std::fs::write(vm_support::work_dir("powercut-summary.txt"), &summary);
    let failed: Vec<String> = outcomes
        .iter()
        .filter_map(|o| {
            let failure = o.failure.as_ref()?;
            Some(format!(
                "round {} ({} cut {} ms in): {failure}",
                o.round,
                o.stage.name(),
                o.delay_ms
            ))
        })
        .collect();
    assert!(
        failed.is_empty(),
        "seed {seed}: did not converge:\n{}",
        failed.join("\n")
    );
    assert_eq!(outcomes.len(), cuts, "seed {seed}: not every cut ran");
}

fn seed() -> u64 {
    match std::env::var("OVABOOT_POWERCUT_SEED") {
        Ok(seed) => seed.parse().expect("OVABOOT_POWERCUT_SEED is a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

fn cuts() -> usize {
    std::env::var("OVABOOT_POWERCUT_RUNS")
        .ok()
        .map(|n| n.parse().expect("OVABOOT_POWERCUT_RUNS is a number"))
        .unwrap_or(DEFAULT_CUTS)
        .max(1)
}

/// splitmix64: a small, well-mixed sequence from one seed.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The rounds for `cuts` cuts: each a first-boot cut (host phase in even
/// rounds, cluster phase in odd ones) and a day-2 cut, each at an instant
/// drawn from `seed`.
fn plans(seed: u64, cuts: usize) -> Vec<Plan> {
    let mut draw = Draw(seed);
    (0..cuts.div_ceil(2))
        .map(|index| {
            let first_stage = if index % 2 == 0 {
                Stage::Host
            } else {
                Stage::Cluster
            };
            let first_delay_ms = draw.below(first_stage.span_ms());
            let day2_delay_ms = (2 * index + 1 < cuts).then(|| draw.below(Stage::Day2.span_ms()));
            let mut password = |day| format!("PowerCut-{day}-{:016x}", draw.next());
            let passwords = [password("first"), password("day2")];
            Plan {
                index,
                tag: format!("pc{:04x}-{index}", seed & 0xffff),
                first_stage,
                first_delay_ms,
                day2_delay_ms,
                passwords,
            }
        })
        .collect()
}

/// Runs the rounds on two threads (TCG runs a guest on one host thread).
fn run_two_at_a_time(plans: &[Plan], cp: &ControlPlane) -> Vec<Outcome> {
    let next = Mutex::new(plans.iter());
    let outcomes = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let Some(plan) = next.lock().unwrap().next() else {
                        break;
                    };
                    eprintln!("power cut: round {} {plan:?}", plan.index);
                    let done = round::run(plan, cp);
                    for o in &done {
                        eprintln!("power cut: {}", describe(o));
                    }
                    outcomes.lock().unwrap().extend(done);
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap();
    outcomes.sort_by_key(|o| (o.round, o.stage == Stage::Day2));
    outcomes
}

fn describe(o: &Outcome) -> String {
    let landed = match o.landed {
        Landed::Outside => "outside ovaboot's writes",
        Landed::InsideWrites { in_flight: true } => "inside ovaboot's writes, an fsync in flight",
        Landed::InsideWrites { in_flight: false } => "inside ovaboot's writes",
        Landed::NotCut => "not cut (the guest powered off first)",
    };
    let verdict = if o.failure.is_none() {
        "converged"
    } else {
        "DID NOT CONVERGE"
    };
    format!(
        "round {} {} +{} ms: {landed}; {verdict} ({:.0} s)",
        o.round,
        o.stage.name(),
        o.delay_ms,
        o.seconds
    )
}

/// The figures: cuts, converged, landed inside writes, seconds per cut.
fn summary(seed: u64, outcomes: &[Outcome], wall: f64) -> String {
    let count = |f: &dyn Fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let cut = count(&|o| o.landed != Landed::NotCut);
    let converged = count(&|o| o.failure.is_none());
    let inside = count(&|o| matches!(o.landed, Landed::InsideWrites { .. }));
    let in_flight = count(&|o| o.landed == Landed::InsideWrites { in_flight: true });
    let mut lines = vec![format!(
        "power cut summary: seed {seed}: {} runs, {cut} cut, {converged} converged, \
         {inside} landed inside ovaboot's writes ({in_flight} with an fsync in flight); \
         {:.0} s wall, {:.0} s per cut (two at a time), {:.0} s per cut and its next boot",
        outcomes.len(),
        wall,
        wall / outcomes.len().max(1) as f64,
        outcomes.iter().map(|o| o.seconds).sum::<f64>() / outcomes.len().max(1) as f64,
    )];
    for stage in [Stage::Host, Stage::Cluster, Stage::Day2] {
        let of = |f: &dyn Fn(&Outcome) -> bool| count(&|o| o.stage == stage && f(o));
        lines.push(format!(
            "  {}: {} runs, {} converged, {} inside writes",
            stage.name(),
            of(&|_| true),
            of(&|o| o.failure.is_none()),
            of(&|o| matches!(o.landed, Landed::InsideWrites { .. })),
        ));
    }
    lines.extend(outcomes.iter().map(describe));
    lines.join("\n")
}
