//! One round on a fresh copy of the test disk: first boot, its power cut in
//! the host or the cluster phase, the next boot (which must converge); then
//! day 2 (a new certificate, root password, SSH key, NTP and DNS servers),
//! its power cut, and the next boot (which must converge again).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use time::Duration;

use crate::checks::{
    Disk, Expected, assert_each_file_whole, assert_files_final, disk_of, json_object,
};
use crate::cli_support::{ca, environment_with, key_needles, leaf};
use crate::cluster::{Names, assert_cluster_holds_the_pair, assert_completed_once, remove_objects};
use crate::cut::{Cut, Landed, cut};
use crate::vm_support::appliance::{
    ControlPlane, DIGEST, DNS, ENDPOINT_PASSWORD, GATEWAY, IP, RECORD, STATE, TLS_KEY,
    environment_secrets, proxy_url,
};
use crate::vm_support::{Boot, Guest, boot, test_disk, work_dir};

/// The disk's writes during a cut boot: few enough that ovaboot's ~20 files
/// take seconds, so that a cut lands inside them.
pub const IOPS_WRITE: u32 = 10;

/// Root's SSH keys: one on the first boot, another on day 2 (public keys, not secrets).
const KEY_FIRST: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPm/PDBMxUaztCmCll//2zd74V8Kw5/e6UlpeTFku7BF admin@example.com";
const KEY_DAY2: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGJRZcjTxUnlgXNahUAgKfDwRrdLjj7Ktgi9XIJsAl4yf1qQJBSfwldQjB/Uq/8WSgmcAJQ1eix9Fhje7Os+riQ= day2@example.com";

/// Where in the appliance's life a cut falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// First boot's host phase (timed from ovaboot's first traced write).
    Host,
    /// First boot's cluster phase, once the guest has its kubeconfig.
    Cluster,
    /// Day 2: reconfigure's host part, then its cluster part.
    Day2,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Host => "host phase",
            Stage::Cluster => "cluster phase",
            Stage::Day2 => "day 2",
        }
    }
    /// The console line the cut's delay counts from.
    fn trigger(self) -> &'static str {
        match self {
            Stage::Host | Stage::Day2 => "@@trace ",
            Stage::Cluster => "@@vmtest kubeconfig-written",
        }
    }
    /// The delays drawn (milliseconds after the trigger, uniformly below
    /// this): a little longer than the stage writes and waits under TCG
    /// with the throttled disk (measured: the host phase writes for about
    /// 12 s from its first write; the cluster phase applies and writes its
    /// records within about 7 s of getting its kubeconfig; day 2's host
    /// part writes for 5 s, its cluster part from 15 to 25 s), so that
    /// most cuts land inside it.
    pub fn span_ms(self) -> u64 {
        match self {
            Stage::Host => 16_000,
            Stage::Cluster => 12_000,
            Stage::Day2 => 30_000,
        }
    }
}

/// What a round does, drawn from the seed.
#[derive(Debug, Clone)]
pub struct Plan {
    pub index: usize,
    /// Names the round's objects in the cluster and its host name.
    pub tag: String,
    pub first_stage: Stage,
    pub first_delay_ms: u64,
    /// None: the round ends after the first cut (an odd number of cuts).
    pub day2_delay_ms: Option<u64>,
    pub passwords: [String; 2],
}

/// One cut and what followed it.
#[derive(Debug)]
pub struct Outcome {
    pub round: usize,
    pub stage: Stage,
    pub delay_ms: u64,
    pub landed: Landed,
    /// The cut boot and the next boot, wall time.
    pub seconds: f64,
    /// Why the appliance did not converge, if it did not.
    pub failure: Option<String>,
}

/// Runs `plan`'s cuts; a cut whose next boot did not converge ends the round.
pub fn run(plan: &Plan, cp: &ControlPlane) -> Vec<Outcome> {
    let round = Round::new(plan, cp);
    let mut outcomes = Vec::new();
    let (after_first, outcome) =
        round.attempt(plan.first_stage, plan.first_delay_ms, Round::first_boot);
    outcomes.push(outcome);
    if let (Some(delay), Some(after_first)) = (plan.day2_delay_ms, after_first) {
        let (_, outcome) =
            round.attempt(Stage::Day2, delay, |r, landed| r.day2(&after_first, landed));
        outcomes.push(outcome);
    }
    if outcomes.iter().all(|o| o.failure.is_none())
        && std::env::var_os("OVABOOT_POWERCUT_KEEP").is_none()
    {
        // The overlays; consoles and what was read from the disks stay.
        for dir in &round.dirs() {
            let _ = std::fs::remove_file(dir.join("overlay.qcow2"));
        }
    }
    outcomes
}

struct Round<'a> {
    plan: &'a Plan,
    cp: &'a ControlPlane,
    names: Names,
    config: PathBuf,
    envs: [(PathBuf, Expected); 2],
}

/// After the first cut's next boot: the disk to go on from and its record.
struct Converged {
    overlay: PathBuf,
    record: String,
    digest: String,
}

impl<'a> Round<'a> {
    fn new(plan: &'a Plan, cp: &'a ControlPlane) -> Round<'a> {
        let names = Names::for_tag(&plan.tag);
        remove_objects(cp, &names);
        let dir = work_dir(&format!("powercut-{}", plan.tag));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("ovaboot.toml");
        std::fs::write(&config, names.config()).unwrap();
        let first = Expected {
            fqdn: names.fqdn.clone(),
            root_password: plan.passwords[0].clone(),
            ssh_keys: vec![KEY_FIRST.to_owned()],
            ntp: vec![GATEWAY.to_owned()],
            dns: vec![DNS.to_owned()],
            proxy: proxy_url(),
            admin_tls: None,
        };
        let (leaf_pem, key_pem, chain) = admin_certificate(&names.fqdn);
        let day2 = Expected {
            root_password: plan.passwords[1].clone(),
            ssh_keys: vec![KEY_FIRST.to_owned(), KEY_DAY2.to_owned()],
            ntp: vec![GATEWAY.to_owned(), "127.0.0.1".to_owned()],
            dns: vec![DNS.to_owned(), GATEWAY.to_owned()],
            admin_tls: Some((leaf_pem, key_pem.clone())),
            ..first.clone()
        };
        let envs = [
            (write_env(&dir.join("first.xml"), &first, None), first),
            (
                write_env(&dir.join("day2.xml"), &day2, Some((&chain, &key_pem))),
                day2,
            ),
        ];
        Round {
            plan,
            cp,
            names,
            config,
            envs,
        }
    }

    fn guest(&self, day: usize) -> Guest<'_> {
        Guest {
            ovf_env: Some(&self.envs[day].0),
            kubeconfig: Some(&self.cp.guest_kubeconfig),
            config: Some(&self.config),
            ..Guest::default()
        }
    }

    fn name(&self, what: &str) -> String {
        format!("powercut-{}-{what}", self.plan.tag)
    }

    fn dirs(&self) -> Vec<PathBuf> {
        ["cut1", "next1", "cut2", "next2"]
            .iter()
            .map(|what| work_dir(&format!("appliance-{}", self.name(what))))
            .collect()
    }

    /// Runs one cut and the boot after it (`steps`, which says where the cut
    /// landed as soon as it knows), timing them and keeping a failure as
    /// the outcome's.
    fn attempt<T>(
        &self,
        stage: Stage,
        delay_ms: u64,
        steps: impl FnOnce(&Self, &mut Landed) -> T,
    ) -> (Option<T>, Outcome) {
        let started = Instant::now();
        let mut landed = Landed::NotCut;
        let result = catch_unwind(AssertUnwindSafe(|| steps(self, &mut landed)));
        let failure = result.as_ref().err().map(|panic| {
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default()
        });
        let outcome = Outcome {
            round: self.plan.index,
            stage,
            delay_ms,
            landed,
            seconds: started.elapsed().as_secs_f64(),
            failure,
        };
        (result.ok(), outcome)
    }

    /// First boot cut in `plan.first_stage`, then the next boot.
    fn first_boot(&self, landed: &mut Landed) -> Converged {
        let stage = self.plan.first_stage;
        let expected = &self.envs[0].1;
        let cut1 = cut(
            &self.name("cut1"),
            test_disk(),
            &self.guest(0),
            stage.trigger(),
            self.plan.first_delay_ms,
            IOPS_WRITE,
        );
        *landed = cut1.landed();
        self.after_cut(&cut1, None, expected);
        let next = self.boot("next1", &cut1.overlay(), 0);
        self.assert_converged(&next, expected, &cut1);
        assert_completed_once(&cut1, &next, &self.names, self.cp, expected);
        let disk = disk_of(&next);
        Converged {
            overlay: next.dir.join("overlay.qcow2"),
            record: disk.file(RECORD).unwrap(),
            digest: disk.file(DIGEST).unwrap(),
        }
    }

    /// Day 2 from the first boot's converged disk: cut, then the next boot.
    fn day2(&self, from: &Converged, landed: &mut Landed) {
        let (_, before) = &self.envs[0];
        let (_, expected) = &self.envs[1];
        let cut2 = cut(
            &self.name("cut2"),
            &from.overlay,
            &self.guest(1),
            Stage::Day2.trigger(),
            self.plan.day2_delay_ms.unwrap(),
            IOPS_WRITE,
        );
        *landed = cut2.landed();
        self.after_cut(&cut2, Some(before), expected);
        let next = self.boot("next2", &cut2.overlay(), 1);
        next.assert_unit_succeeded("ovaboot-reconfigure.service");
        next.assert_unit_succeeded("ovaboot-reconfigure-cluster.service");
        self.assert_converged(&next, expected, &cut2);
        // First boot's record is never written again; day 2 recorded its digest.
        let disk = disk_of(&next);
        for (what, disk) in [("the cut", &cut2.disk), ("the next boot", &disk)] {
            let record = disk.file(RECORD);
            assert_eq!(
                record.as_ref(),
                Some(&from.record),
                "{what}: the completion record changed"
            );
        }
        let digest = disk.file(DIGEST).unwrap();
        assert_ne!(
            digest, from.digest,
            "day 2 did not record the new properties' digest"
        );
    }

    /// A clean boot of `backing` with day `day`'s environment.
    fn boot(&self, what: &str, backing: &Path, day: usize) -> Boot {
        let next = boot(&self.name(what), backing, self.guest(day));
        // What was read from it is in disk/; the overlay stays for the next boot.
        let _ = std::fs::remove_file(next.disk_after());
        next
    }

    /// Right after a cut: every file whole, no secret on the console.
    fn after_cut(&self, cut: &Cut, before: Option<&Expected>, after: &Expected) {
        assert_each_file_whole(&cut.disk, before, after);
        for secret in self.secrets(&cut.disk) {
            assert!(
                !cut.console.contains(&secret),
                "{}: a secret is on the console",
                cut.name
            );
        }
    }

    /// The next boot converged: files, cluster, no secret shown.
    fn assert_converged(&self, next: &Boot, expected: &Expected, cut: &Cut) {
        let disk = disk_of(next);
        assert_files_final(&disk, expected);
        assert_eq!(json_object(&disk, STATE)["outcome"], "done", "{STATE}");
        assert_cluster_holds_the_pair(self.cp, &self.names, &disk);
        let mut secrets = self.secrets(&disk);
        secrets.extend(self.secrets(&cut.disk));
        next.assert_no_secret(&secrets);
    }

    /// What must show nowhere: both root passwords, the proxy's and the
    /// endpoints', the keys on `disk` and the admin's, the control plane's
    /// client keys.
    fn secrets(&self, disk: &Disk) -> Vec<String> {
        let mut secrets = environment_secrets();
        secrets.extend(self.plan.passwords.iter().cloned());
        if let Some(key) = disk.file(TLS_KEY).filter(|k| k.contains("PRIVATE KEY")) {
            secrets.extend(key_needles(&key));
        }
        if let Some((_, key)) = &self.envs[1].1.admin_tls {
            secrets.extend(key_needles(key));
        }
        for key in &self.cp.client_keys {
            secrets.extend(key_needles(key));
        }
        secrets
    }
}

/// The admin's own certificate for `fqdn` from a lab CA: (leaf, key, chain).
fn admin_certificate(fqdn: &str) -> (String, String, String) {
    let issuer = ca("Power Cut Lab CA", None);
    let key = rcgen::KeyPair::generate().unwrap();
    let (cert, _) = leaf(&issuer, fqdn, &key, -Duration::days(1), Duration::days(90));
    let chain = format!("{cert}{}", issuer.pem);
    (cert, key.serialize_pem(), chain)
}

/// The OVF environment asking for `e` (and the admin's chain and key).
fn write_env(path: &Path, e: &Expected, tls: Option<(&str, &str)>) -> PathBuf {
    let dns = e.dns.join(" ");
    let ntp = e.ntp.join(" ");
    let keys = e.ssh_keys.join("\n");
    let mut properties = vec![
        ("guestinfo.hostname", e.fqdn.as_str()),
        ("guestinfo.ipaddress", IP),
        ("guestinfo.netmask", "24"),
        ("guestinfo.gateway", GATEWAY),
        ("guestinfo.dns", &dns),
        ("guestinfo.ntp", &ntp),
        ("guestinfo.https_proxy", &e.proxy),
        ("guestinfo.root_password", &e.root_password),
        ("guestinfo.ssh_authorized_keys", &keys),
        ("guestinfo.endpoint_password", ENDPOINT_PASSWORD),
    ];
    if let Some((chain, key)) = tls {
        properties.extend([("guestinfo.tls_cert", chain), ("guestinfo.tls_key", key)]);
    }
    environment_with(path, &properties);
    path.to_owned()
}
