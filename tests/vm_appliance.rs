//! The whole appliance in QEMU: the disk image packer/build-image makes from
//! the real .deb, booted by its own bootloader with real systemd, the OVF
//! environment on a CD labelled `OVF ENV` as vSphere's ISO transport presents
//! it. Each boot runs on a copy-on-write overlay; the test reads the serial
//! console and, after the guest powered off, the overlay's file system and
//! journal (tests/vm/appliance/vm.sh does the effects).
//!
//! The guest powers itself off through a test-only unit put into a copy of
//! the image (tests/vm/appliance/ovaboot-vmtest*), never into the image.
//!
//! Slow (an image build and five boots), so it runs only with
//! `OVABOOT_VM_TESTS=1`, as root. The .deb is `OVABOOT_APPLIANCE_DEB`, or
//! the one `cargo deb` builds (see README "VM tests").

mod cli_support;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Condvar, Mutex, OnceLock};

use cli_support::{ca, environment_with, key_needles, leaf, openssl, openssl_fingerprint};
use time::Duration;

/// VMs running now. TCG runs a guest on one host thread, so two guests on a
/// 2-core machine take about as long as one; more would only slow each down.
static RUNNING: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

/// How many guests may run at once: `OVABOOT_VM_PARALLEL`, default 2.
fn parallel_vms() -> usize {
    std::env::var("OVABOOT_VM_PARALLEL")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(2)
}

/// A place among the running VMs, given back on drop.
struct VmSlot;

impl VmSlot {
    fn take() -> VmSlot {
        let (count, freed) = &RUNNING;
        let mut running = count.lock().unwrap_or_else(|p| p.into_inner());
        while *running >= parallel_vms() {
            running = freed.wait(running).unwrap_or_else(|p| p.into_inner());
        }
        *running += 1;
        VmSlot
    }
}

impl Drop for VmSlot {
    fn drop(&mut self) {
        let (count, freed) = &RUNNING;
        *count.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        freed.notify_one();
    }
}

const FQDN: &str = "appliance.vmtest.example.org";
const SHORT: &str = "appliance";
/// QEMU's user network: the guest's static address, gateway and DNS.
const IP: &str = "10.0.2.15";
const GATEWAY: &str = "10.0.2.2";
const DNS: &str = "10.0.2.3";
/// The password in the proxy URL: a secret that must show nowhere.
const PROXY_PASSWORD: &str = "VmApplianceProxyPassw0rd";
/// The test copy of the image writes this for the cluster phase (see ovaboot-cluster-vmtest.conf).
const KUBECONFIG_WAIT: &str = "waiting for k3s to write /etc/rancher/k3s/k3s.yaml";

fn vm_tests_enabled(test: &str) -> bool {
    if std::env::var("OVABOOT_VM_TESTS").as_deref() == Ok("1") {
        return true;
    }
    let _ = writeln!(
        std::io::stderr(),
        "skipping {test}: set OVABOOT_VM_TESTS=1 to build the appliance image and boot it (root; needs mmdebstrap, extlinux, qemu-system-x86, qemu-utils, xorriso)"
    );
    false
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(what: &str, command: &mut Command) {
    let status = command.status().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(status.success(), "{what} failed: {status}");
}

/// The .deb to install: OVABOOT_APPLIANCE_DEB, else `cargo deb` builds it.
fn appliance_deb() -> PathBuf {
    if let Some(deb) = std::env::var_os("OVABOOT_APPLIANCE_DEB") {
        return PathBuf::from(deb);
    }
    run(
        "cargo deb",
        Command::new(env!("CARGO"))
            .args(["deb", "--locked"])
            .current_dir(repo()),
    );
    let version = env!("CARGO_PKG_VERSION");
    let dir = repo().join("target/debian");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(&format!("ovaboot_{version}")) && name.ends_with("_amd64.deb")
        })
        .unwrap_or_else(|| {
            panic!(
                "cargo deb left no ovaboot_{version}*.deb in {}",
                dir.display()
            )
        })
}

/// The test copy of the image (built or reused by packer/build-image, cached
/// under target/appliance-image keyed on its inputs), made once per run.
fn test_disk() -> &'static Path {
    static DISK: OnceLock<PathBuf> = OnceLock::new();
    DISK.get_or_init(|| {
        let image_dir = repo().join("target/appliance-image");
        run(
            "packer/build-image",
            Command::new(repo().join("packer/build-image"))
                .arg("--out")
                .arg(&image_dir)
                .arg("--deb")
                .arg(appliance_deb())
                .arg("--contour-manifest")
                .arg(cli_support::contour_manifest()),
        );
        let disk = Path::new(env!("CARGO_TARGET_TMPDIR")).join("appliance-vmtest.raw");
        vm_sh(&[
            "prepare",
            "--image",
            image_dir.join("appliance.raw").to_str().unwrap(),
            "--out",
            disk.to_str().unwrap(),
        ]);
        disk
    })
}

fn vm_sh(args: &[&str]) -> std::process::ExitStatus {
    Command::new("bash")
        .arg(repo().join("tests/vm/appliance/vm.sh"))
        .args(args)
        .status()
        .expect("bash runs tests/vm/appliance/vm.sh")
}

/// What one boot left: the console, the unit states the test unit printed,
/// and the disk afterwards.
struct Boot {
    name: &'static str,
    dir: PathBuf,
    console: String,
    journal: String,
    /// `@@vmtest show UNIT KEY=VALUE` lines.
    units: BTreeMap<(String, String), String>,
    /// `@@vmtest NAME VALUE` lines other than show.
    facts: Vec<(String, String)>,
    /// stat.txt: path -> "mode uid gid mtime sha256".
    stat: BTreeMap<String, String>,
}

impl Boot {
    fn unit(&self, unit: &str, key: &str) -> &str {
        self.units
            .get(&(unit.to_owned(), key.to_owned()))
            .unwrap_or_else(|| {
                panic!(
                    "{}: the guest printed no {key} for {unit}; console:\n{}",
                    self.name, self.console
                )
            })
    }
    fn monotonic(&self, unit: &str, key: &str) -> u64 {
        self.unit(unit, key).parse().unwrap()
    }
    fn fact(&self, name: &str) -> Vec<&str> {
        self.facts
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    fn file(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join("disk/files").join(path)).ok()
    }
    fn file_exists(&self, path: &str) -> bool {
        self.dir.join("disk/files").join(path).exists()
    }
    /// The console lines that contain `needle`.
    fn console_lines(&self, needle: &str) -> Vec<&str> {
        self.console
            .lines()
            .filter(|l| l.contains(needle))
            .collect()
    }
    fn assert_no_secret(&self, secrets: &[String]) {
        for secret in secrets {
            assert!(
                !self.console.contains(secret.as_str()),
                "{}: a secret is on the console",
                self.name
            );
            assert!(
                !self.journal.contains(secret.as_str()),
                "{}: a secret is in the journal",
                self.name
            );
        }
    }
}

/// Boots an overlay of `backing` with `env` on the OVF ENV CD (none: no CD).
fn boot(name: &'static str, backing: &Path, env: Option<&Path>) -> Boot {
    let _slot = VmSlot::take();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("appliance-{name}"));
    let mut args = vec![
        "boot".to_owned(),
        "--disk".into(),
        backing.to_str().unwrap().into(),
        "--out".into(),
        dir.to_str().unwrap().into(),
    ];
    if let Some(env) = env {
        args.extend(["--ovf-env".into(), env.to_str().unwrap().into()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let status = vm_sh(&args);
    // The console is a terminal's: CRLF and the odd escape sequence.
    let console = std::fs::read_to_string(dir.join("serial.log"))
        .unwrap_or_default()
        .replace('\r', "");
    assert!(
        status.success(),
        "{name}: vm.sh boot failed ({status}; 124 = the VM timed out); console:\n{console}"
    );
    let mut units = BTreeMap::new();
    let mut facts = Vec::new();
    for line in console.lines() {
        // Console lines from units carry the kernel's time and the unit's name first.
        let Some((_, rest)) = line.split_once("@@vmtest ") else {
            continue;
        };
        if let Some(show) = rest.strip_prefix("show ") {
            let (unit, kv) = show.split_once(' ').unwrap();
            let (key, value) = kv.split_once('=').unwrap();
            units.insert((unit.to_owned(), key.to_owned()), value.to_owned());
        } else {
            let (fact, value) = rest.split_once(' ').unwrap_or((rest, ""));
            facts.push((fact.to_owned(), value.to_owned()));
        }
    }
    assert!(
        facts.iter().any(|(f, _)| f == "done"),
        "{name}: the test unit did not report; console:\n{console}"
    );
    assert!(
        facts.iter().all(|(f, _)| f != "gave-up"),
        "{name}: ovaboot's units never settled; console:\n{console}"
    );
    let journal = std::fs::read_to_string(dir.join("disk/journal.txt")).unwrap();
    let stat = std::fs::read_to_string(dir.join("disk/stat.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let (path, rest) = l.split_once(' ').unwrap();
            (path.to_owned(), rest.to_owned())
        })
        .collect();
    Boot {
        name,
        dir,
        console,
        journal,
        units,
        facts,
        stat,
    }
}

/// An OVF environment with the static network and a proxy with a password.
fn write_environment(name: &str, extra: &[(&str, &str)]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("appliance-env-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let proxy = format!("http://svc-proxy:{PROXY_PASSWORD}@proxy.vmtest.example.org:3128");
    let mut properties = vec![
        ("guestinfo.hostname", FQDN),
        ("guestinfo.ipaddress", IP),
        ("guestinfo.netmask", "24"),
        ("guestinfo.gateway", GATEWAY),
        ("guestinfo.dns", DNS),
        ("guestinfo.https_proxy", proxy.as_str()),
    ];
    properties.extend_from_slice(extra);
    let path = dir.join("ovf-env.xml");
    environment_with(&path, &properties);
    path
}

const TLS_KEY: &str = "etc/ovaboot/tls/tls.key";
const TLS_CERT: &str = "etc/ovaboot/tls/tls.crt";

#[test]
fn first_boot_configures_the_appliance_and_a_second_boot_changes_nothing() {
    if !vm_tests_enabled("first_boot_configures_the_appliance_and_a_second_boot_changes_nothing") {
        return;
    }
    let env = write_environment("first", &[]);
    let first = boot("first", test_disk(), Some(&env));
    let host = "ovaboot-host.service";

    // (1) The host phase ran, succeeded, and finished before networkd,
    // timesyncd and k3s started (k3s, absent offline, is skipped by its
    // condition, which is checked only once its ordering allows it to start).
    assert_eq!(first.unit(host, "Result"), "success", "{}", first.console);
    assert_eq!(first.unit(host, "ExecMainStatus"), "0");
    let host_done = first.monotonic(host, "ActiveEnterTimestampMonotonic");
    assert!(host_done > 0);
    for unit in ["systemd-networkd.service", "systemd-timesyncd.service"] {
        let started = first.monotonic(unit, "InactiveExitTimestampMonotonic");
        assert!(
            started > host_done,
            "{unit} started at {started}, before {host} finished at {host_done}"
        );
    }
    let k3s_checked = first.monotonic("k3s.service", "ConditionTimestampMonotonic");
    assert!(
        k3s_checked > host_done,
        "k3s considered at {k3s_checked}, before {host} finished at {host_done}"
    );
    assert_eq!(first.unit("k3s.service", "ConditionResult"), "no");

    // Kernel and static host name, the static address on the NIC, /etc/hosts.
    assert_eq!(first.fact("kernel-hostname"), [FQDN]);
    assert_eq!(first.file("etc/hostname").unwrap().trim(), FQDN);
    let addrs = first.fact("addr");
    assert!(
        addrs
            .iter()
            .any(|a| a.contains(&format!("inet {IP}/24")) && !a.contains(" lo ")),
        "{addrs:?}"
    );
    let hosts = first.file("etc/hosts").unwrap();
    assert!(hosts.contains("127.0.0.1\tlocalhost"), "{hosts}");
    assert!(
        hosts
            .lines()
            .any(|l| l.starts_with(IP) && l.contains(FQDN) && l.contains(SHORT)),
        "{hosts}"
    );

    // The TLS pair: the key 0600 root, the certificate for the FQDN, the
    // short name and the address; its key is the pair's.
    let key_stat = &first.stat[TLS_KEY];
    assert!(key_stat.starts_with("600 0 0 "), "{TLS_KEY}: {key_stat}");
    let cert_stat = &first.stat[TLS_CERT];
    assert!(cert_stat.starts_with("644 0 0 "), "{TLS_CERT}: {cert_stat}");
    let cert = first.file(TLS_CERT).unwrap();
    let key = first.file(TLS_KEY).unwrap();
    cli_support::assert_key_matches_cert(key.as_bytes(), cert.as_bytes());
    let sans = openssl(
        &["x509", "-noout", "-ext", "subjectAltName"],
        cert.as_bytes(),
    );
    for san in [
        format!("DNS:{FQDN}"),
        format!("DNS:{SHORT}"),
        format!("IP Address:{IP}"),
    ] {
        assert!(sans.contains(&san), "{san} not in {sans}");
    }

    // The console tells the admin where to go and what certificate to expect.
    let fingerprint = openssl_fingerprint(cert.as_bytes());
    let banner = first.console_lines(&format!("https://{FQDN}/"));
    assert!(
        banner.iter().any(|l| l.contains(&fingerprint)),
        "no console line with the URL and fingerprint {fingerprint}; console:\n{}",
        first.console
    );

    // The console banner agetty shows: URL, fingerprint, the host phase done.
    let issue = first.file("etc/issue.d/ovaboot.issue").unwrap();
    assert!(
        issue.contains(&format!("https://{FQDN}/")) && issue.contains(&fingerprint),
        "{issue}"
    );

    // No secret on the console or in the journal: the proxy password, the key.
    let mut secrets = key_needles(&key);
    secrets.push(PROXY_PASSWORD.to_owned());
    first.assert_no_secret(&secrets);

    // (2) No Kubernetes offline: the cluster phase says what it waits for,
    // gives up (exit 1) and is retried; no completion record.
    let cluster = "ovaboot-cluster.service";
    assert!(
        first.monotonic(cluster, "NRestarts") >= 1,
        "{cluster} was not retried; console:\n{}",
        first.console
    );
    assert!(
        !first.console_lines(KUBECONFIG_WAIT).is_empty(),
        "the console does not say what the cluster phase waits for; console:\n{}",
        first.console
    );
    assert!(
        first
            .console_lines("ovaboot: error: no Kubernetes client configuration")
            .iter()
            .any(
                |l| l.contains("/etc/rancher/k3s/k3s.yaml did not appear in time")
                    && !l.contains("Permission denied")
            ),
        "the console does not say why the cluster phase gave up; console:\n{}",
        first.console
    );
    assert!(!first.file_exists("var/lib/ovaboot/firstboot.json"));

    // (3) Second boot. Offline the cluster phase cannot finish, so the test
    // writes the completion record it would have written, from the disk's
    // own certificate, into the first boot's disk; then boots that again.
    let record = first.dir.join("firstboot.json");
    let fingerprint_record = serde_json::json!({
        "ovaboot_version": env!("CARGO_PKG_VERSION"),
        "completed_at": "2026-11-30T12:00:00Z",
        "hostname": FQDN,
        "certificate_sha256": fingerprint,
    });
    std::fs::write(&record, fingerprint_record.to_string()).unwrap();
    let after_first = first.dir.join("after.raw");
    let status = vm_sh(&[
        "put",
        "--disk",
        after_first.to_str().unwrap(),
        "--file",
        "/var/lib/ovaboot/firstboot.json",
        "--from",
        record.to_str().unwrap(),
    ]);
    assert!(status.success());
    let second = boot("second", &after_first, Some(&env));
    for unit in [host, cluster] {
        // Its condition was checked, and was false: the completion record is there.
        assert_ne!(
            second.unit(unit, "ConditionTimestampMonotonic"),
            "0",
            "{unit}: {}",
            second.console
        );
        assert_eq!(second.unit(unit, "ConditionResult"), "no", "{unit}");
        assert_eq!(second.unit(unit, "ActiveState"), "inactive", "{unit}");
        assert_eq!(
            second.unit(unit, "InactiveExitTimestampMonotonic"),
            "0",
            "{unit} ran"
        );
    }
    // Every file the first boot wrote is as it was: same content, mode, mtime.
    for (path, line) in &first.stat {
        if path.starts_with("var/lib/ovaboot") {
            continue;
        }
        assert_eq!(
            second.stat.get(path),
            Some(line),
            "{path} changed on the second boot"
        );
    }
    assert_eq!(second.fact("kernel-hostname"), [FQDN]);
    second.assert_no_secret(&secrets);

    // (4) Day 2 on that boot: the reconfigure units ran; with no digest yet
    // every property was applied again, which changed no file (above), and
    // the cluster part, the certificate unchanged, recorded the digest.
    let reconfigure = "ovaboot-reconfigure.service";
    let reconfigure_cluster = "ovaboot-reconfigure-cluster.service";
    assert_eq!(
        second.unit(reconfigure, "Result"),
        "success",
        "{}",
        second.console
    );
    assert_eq!(
        second.unit(reconfigure_cluster, "Result"),
        "success",
        "{}",
        second.console
    );
    assert!(second.stat.contains_key("var/lib/ovaboot/properties.json"));

    // (5) The admin renews the certificate (their own, for the same FQDN) and
    // reboots: the host part installs it before networkd starts; the Secret
    // waits for k3s (absent offline: retried), so the digest stays as it was.
    let issuer = ca("VM Test Lab CA", None);
    let new_key = rcgen::KeyPair::generate().unwrap();
    let (new_cert, _) = leaf(
        &issuer,
        FQDN,
        &new_key,
        -Duration::days(1),
        Duration::days(90),
    );
    let chain = format!("{new_cert}{}", issuer.pem);
    let key_pem = new_key.serialize_pem();
    let renewed_env = write_environment(
        "renewed",
        &[
            ("guestinfo.tls_cert", &chain),
            ("guestinfo.tls_key", &key_pem),
        ],
    );
    let third = boot("renewed", &second.dir.join("after.raw"), Some(&renewed_env));
    assert_eq!(
        third.unit(reconfigure, "Result"),
        "success",
        "{}",
        third.console
    );
    let done = third.monotonic(reconfigure, "ActiveEnterTimestampMonotonic");
    let networkd = third.monotonic("systemd-networkd.service", "InactiveExitTimestampMonotonic");
    assert!(
        networkd > done,
        "networkd started before the host part finished"
    );
    assert_eq!(
        openssl_fingerprint(third.file(TLS_CERT).unwrap().as_bytes()),
        openssl_fingerprint(new_cert.as_bytes()),
        "the renewed certificate is installed"
    );
    assert_eq!(third.file(TLS_KEY).unwrap(), key_pem);
    assert!(
        third.stat[TLS_KEY].starts_with("600 0 0 "),
        "{}",
        third.stat[TLS_KEY]
    );
    assert!(
        third.monotonic(reconfigure_cluster, "NRestarts") >= 1,
        "the Secret's part was not retried; console:\n{}",
        third.console
    );
    assert_eq!(
        third.stat.get("var/lib/ovaboot/properties.json"),
        second.stat.get("var/lib/ovaboot/properties.json"),
        "the digest is recorded only once the Secret has the pair"
    );
    assert_eq!(third.fact("kernel-hostname"), [FQDN]);
    let mut secrets = key_needles(&key_pem);
    secrets.push(PROXY_PASSWORD.to_owned());
    third.assert_no_secret(&secrets);
}

#[test]
fn a_certificate_for_another_host_stops_first_boot_before_anything_is_applied() {
    if !vm_tests_enabled(
        "a_certificate_for_another_host_stops_first_boot_before_anything_is_applied",
    ) {
        return;
    }
    let issuer = ca("VM test CA", None);
    let key = rcgen::KeyPair::generate().unwrap();
    let (cert, _) = leaf(
        &issuer,
        "other-host.vmtest.example.org",
        &key,
        Duration::days(-1),
        Duration::days(90),
    );
    let key_pem = key.serialize_pem();
    let chain = format!("{cert}{}", issuer.pem);
    let env = write_environment(
        "bad-cert",
        &[
            ("guestinfo.tls_cert", &chain),
            ("guestinfo.tls_key", &key_pem),
        ],
    );
    let vm = boot("bad-cert", test_disk(), Some(&env));
    let host = "ovaboot-host.service";
    // Exit 2 (bad input) and no restart.
    assert_eq!(vm.unit(host, "ActiveState"), "failed", "{}", vm.console);
    assert_eq!(vm.unit(host, "ExecMainStatus"), "2");
    assert_eq!(vm.unit(host, "NRestarts"), "0");
    // The console names the property and what to do about it.
    let lines = vm.console_lines("guestinfo.tls_cert");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("ovaboot: error:") && l.contains(FQDN)),
        "no error line naming guestinfo.tls_cert and {FQDN}; console:\n{}",
        vm.console
    );
    // Nothing past validation: no host name, no network, no TLS files.
    assert_eq!(vm.fact("kernel-hostname"), ["appliance"]);
    assert_eq!(vm.file("etc/hostname").unwrap().trim(), "appliance");
    assert!(!vm.file_exists("etc/ovaboot/tls"), "{:?}", vm.stat);
    assert!(!vm.file_exists("etc/systemd/network/10-ovaboot.network"));
    // k3s did not start: its requirement failed.
    assert_eq!(vm.unit("k3s.service", "ActiveState"), "inactive");
    assert_eq!(
        vm.unit("k3s.service", "InactiveExitTimestampMonotonic"),
        "0"
    );
    assert!(
        vm.journal.contains("Dependency failed for") && vm.journal.contains("k3s"),
        "the journal does not say k3s's dependency failed"
    );
    let mut secrets = key_needles(&key_pem);
    secrets.push(PROXY_PASSWORD.to_owned());
    vm.assert_no_secret(&secrets);
}

#[test]
fn without_an_ovf_environment_nothing_is_applied() {
    if !vm_tests_enabled("without_an_ovf_environment_nothing_is_applied") {
        return;
    }
    let vm = boot("no-env", test_disk(), None);
    // The environment may still appear (a CD attached late): the phase retries
    // it up to [host] retry_timeout_secs (5 s in the test config), then exits 1
    // with one error line; the unit is not restarted (k3s's start has failed).
    assert!(
        vm.journal
            .contains("ovaboot-host.service: Main process exited, code=exited, status=1/FAILURE"),
        "the host unit did not exit 1; console:\n{}",
        vm.console
    );
    let host = "ovaboot-host.service";
    assert_eq!(vm.unit(host, "NRestarts"), "0", "{}", vm.console);
    let lines = vm.console_lines("no OVF environment found");
    assert!(
        lines.iter().any(|l| l.contains("trying again in"))
            && lines
                .iter()
                .filter(|l| l.contains("ovaboot: error:"))
                .count()
                == 1
            && lines
                .iter()
                .all(|l| l.contains("ovaboot: error:") || l.contains("trying again in")),
        "no retries and one clear console line; console:\n{}",
        vm.console
    );
    let state = vm.file("var/lib/ovaboot/state.json").unwrap();
    assert!(state.contains("\"outcome\": \"failed\""), "{state}");
    let banner = vm.file("etc/issue.d/ovaboot.issue").unwrap();
    assert!(banner.contains("STOPPED: "), "{banner}");
    assert_eq!(vm.fact("kernel-hostname"), ["appliance"]);
    assert_eq!(vm.file("etc/hostname").unwrap().trim(), "appliance");
    assert!(!vm.file_exists("etc/ovaboot/tls"));
    assert!(!vm.file_exists("etc/systemd/network/10-ovaboot.network"));
    assert_eq!(
        vm.unit("k3s.service", "InactiveExitTimestampMonotonic"),
        "0"
    );
}
