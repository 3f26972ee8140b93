//! The OVF transports in a real VM: a Debian kernel booted in QEMU (TCG) runs
//! the built `ovaboot` binary from an initramfs (tests/vm/boot.sh builds it,
//! tests/vm/init.sh is its /init). This proves what the unit tests cannot see
//! on the build host: the real `qemu_fw_cfg` sysfs, a real CD-ROM mounted as
//! iso9660, and the kernel host name and sysctl set by `firstboot`.
//!
//! Slow (a VM boot each), so ignored unless run with `--ignored`.
//! Needs qemu-system-x86, xorriso, cpio and apt-get (the guest kernel and
//! busybox are fetched with `apt-get download`, never installed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

/// One VM at a time: the machine has few cores and TCG is slow.
static ONE_VM_AT_A_TIME: Mutex<()> = Mutex::new(());

const FW_CFG_FQDN: &str = "fwcfg-guest.vmtest.example.org";
const ISO_FQDN: &str = "isocd-guest.vmtest.example.org";
/// The password in the fw_cfg fixture's proxy URL.
const FW_CFG_PROXY_PASSWORD: &str = "FwCfgProxyPassw0rd";
/// The endpoint passwords of the two fixtures (the default routes require one).
const FW_CFG_ENDPOINT_PASSWORD: &str = "FwCfgEndpointPassw0rd";
const ISO_ENDPOINT_PASSWORD: &str = "IsoCdEndpointPassw0rd";
/// The built-in sample's host name (`--sample`).
const SAMPLE_FQDN: &str = "veba01.lab.example.com";

/// One command the guest ran: its output lines and exit status.
#[derive(Debug, Default)]
struct Step {
    stdout: Vec<String>,
    stderr: Vec<String>,
    rc: Option<i32>,
}

impl Step {
    fn stdout(&self) -> String {
        self.stdout.join("\n")
    }
    fn stderr(&self) -> String {
        self.stderr.join("\n")
    }
}

/// What a VM boot left on its serial console.
struct Vm {
    scenario: &'static str,
    log: String,
    steps: BTreeMap<String, Step>,
    /// QEMU's trace of its VMware backdoor port (`vmport_*` events).
    vmport_trace: String,
}

impl Vm {
    fn step(&self, name: &str) -> &Step {
        let Some(step) = self.steps.get(name) else {
            panic!(
                "{}: the guest ran no step {name:?}; serial console:\n{}",
                self.scenario, self.log
            )
        };
        assert!(
            step.rc.is_some(),
            "{}: step {name:?} did not finish; serial console:\n{}",
            self.scenario,
            self.log
        );
        step
    }
}

/// Parses init.sh's markers out of the console (kernel lines are ignored).
fn parse_console(log: &str) -> (BTreeMap<String, Step>, bool) {
    let mut steps = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut done = false;
    for line in log.lines().map(|l| l.trim_end_matches('\r')) {
        if let Some(rest) = line.strip_prefix("@@vm begin ") {
            let name = rest.split(':').next().unwrap_or(rest).to_owned();
            steps.insert(name.clone(), Step::default());
            current = Some(name);
        } else if let Some(rest) = line.strip_prefix("@@vm end ") {
            let (name, rc) = rest.rsplit_once(" rc=").expect("end marker has rc=");
            let step = steps.get_mut(name).expect("end marker after begin");
            step.rc = Some(rc.parse().expect("rc is a number"));
            current = None;
        } else if line == "@@vm done" {
            done = true;
        } else if let Some(current) = &current {
            let step = steps.get_mut(current).expect("current step exists");
            if let Some(text) = line.strip_prefix("out| ") {
                step.stdout.push(text.to_owned());
            } else if let Some(text) = line.strip_prefix("err| ") {
                step.stderr.push(text.to_owned());
            } else if line == "out|" {
                step.stdout.push(String::new());
            } else if line == "err|" {
                step.stderr.push(String::new());
            }
        }
    }
    (steps, done)
}

/// What these tests need on the host, checked first: a run with
/// `--ignored` without it fails naming each missing tool, never passes.
fn require_vm_parts() {
    let missing: Vec<String> = [
        ("qemu-system-x86_64", "qemu-system-x86"),
        ("xorriso", "xorriso"),
        ("cpio", "cpio"),
        ("apt-get", "apt"),
    ]
    .into_iter()
    .filter(|(tool, _)| {
        !std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
    })
    .map(|(tool, package)| format!("{tool} ({package})"))
    .collect();
    assert!(
        missing.is_empty(),
        "the VM transport tests need what is missing here: {}",
        missing.join(", ")
    );
}

fn contour_manifest() -> PathBuf {
    match std::env::var_os("OVABOOT_CONTOUR_MANIFEST") {
        Some(path) => PathBuf::from(path),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/contour/contour-v1.33.6.yaml")
        }
    }
}

/// Boots one scenario with tests/vm/boot.sh and waits for QEMU to exit
/// (boot.sh kills it after its time-out).
fn boot(scenario: &'static str) -> Vm {
    let _one = ONE_VM_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let out = tmp.join(format!("vm-{scenario}"));
    let cache = std::env::var_os("OVABOOT_VM_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.join("vm-cache"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vm/boot.sh");
    let status = Command::new("bash")
        .arg(&script)
        .args(["--scenario", scenario])
        .args(["--ovaboot", env!("CARGO_BIN_EXE_ovaboot")])
        .arg("--out")
        .arg(&out)
        .arg("--cache")
        .arg(&cache)
        .arg("--contour-manifest")
        .arg(contour_manifest())
        .status()
        .expect("bash runs tests/vm/boot.sh");
    let log = std::fs::read_to_string(out.join("serial.log")).unwrap_or_default();
    assert!(
        status.success(),
        "{scenario}: boot.sh failed ({status}; 124 = the VM timed out); serial console:\n{log}"
    );
    let (steps, done) = parse_console(&log);
    assert!(
        done,
        "{scenario}: the guest's init did not finish; serial console:\n{log}"
    );
    let vmport_trace = std::fs::read_to_string(out.join("vmport-trace.log")).unwrap_or_default();
    Vm {
        scenario,
        log,
        steps,
        vmport_trace,
    }
}

/// QEMU emulates the VMware backdoor port; off VMware ovaboot must never use it.
fn assert_backdoor_untouched(vm: &Vm) {
    // Its commands were registered at start-up, so the trace is live.
    assert!(
        vm.vmport_trace.contains("vmport_register"),
        "{}: no live vmport trace: {}",
        vm.scenario,
        vm.vmport_trace
    );
    assert!(
        !vm.vmport_trace.contains("vmport_command"),
        "{}: the guest used the VMware backdoor: {}",
        vm.scenario,
        vm.vmport_trace
    );
}

fn props_json(vm: &Vm) -> Value {
    let step = vm.step("props");
    assert_eq!(
        step.rc,
        Some(0),
        "{}: ovaboot props failed: {}",
        vm.scenario,
        step.stderr()
    );
    serde_json::from_str(&step.stdout()).unwrap_or_else(|e| {
        panic!(
            "{}: props --json printed no JSON ({e}): {}",
            vm.scenario,
            step.stdout()
        )
    })
}

#[test]
#[ignore = "needs QEMU: boots a Debian kernel under TCG (qemu-system-x86, xorriso, cpio, apt-get)"]
fn fw_cfg_item_delivers_the_environment_in_a_qemu_guest() {
    require_vm_parts();
    let vm = boot("fw_cfg");
    let props = props_json(&vm);
    assert_eq!(props["transport"], "fw_cfg", "{props}");
    let p = &props["properties"];
    assert_eq!(p["guestinfo.hostname"], FW_CFG_FQDN, "{props}");
    assert_eq!(p["guestinfo.ipaddress"], "192.0.2.41", "{props}");
    assert_eq!(p["guestinfo.gateway"], "192.0.2.1", "{props}");
    assert_eq!(
        p["guestinfo.https_proxy"], "http://svc-proxy:***@proxy.vmtest.example.org:3128",
        "only the password masked: {props}"
    );
    // The log says why the transports before it did not apply here.
    let stderr = vm.step("props").stderr();
    assert!(stderr.contains("not running on VMware"), "{stderr}");
    assert!(stderr.contains("no CD-ROM drive"), "{stderr}");
    // The proxy password travelled through fw_cfg but never reached the console.
    assert!(!vm.log.contains(FW_CFG_PROXY_PASSWORD), "{}", vm.log);
    assert!(!vm.log.contains(FW_CFG_ENDPOINT_PASSWORD), "{}", vm.log);
    assert_backdoor_untouched(&vm);
}

#[test]
#[ignore = "needs QEMU: boots a Debian kernel under TCG (qemu-system-x86, xorriso, cpio, apt-get)"]
fn ovf_env_cd_is_mounted_read_and_unmounted_in_a_qemu_guest() {
    require_vm_parts();
    let vm = boot("iso");
    let props = props_json(&vm);
    assert_eq!(props["transport"], "iso", "{props}");
    let p = &props["properties"];
    assert_eq!(p["guestinfo.hostname"], ISO_FQDN, "{props}");
    assert_eq!(
        p["guestinfo.ntp"], "ntp1.vmtest.example.org ntp2.vmtest.example.org",
        "{props}"
    );
    assert!(!vm.log.contains(ISO_ENDPOINT_PASSWORD), "{}", vm.log);
    let stderr = vm.step("props").stderr();
    assert!(
        stderr.contains("/dev/sr0"),
        "the log names the drive: {stderr}"
    );
    // Afterwards nothing is mounted from the CD and the private directory is gone.
    let mounts = vm.step("mounts").stdout();
    assert!(
        !mounts.contains("iso9660") && !mounts.contains("/dev/sr0"),
        "{mounts}"
    );
    let run = vm.step("run-dir").stdout();
    assert!(!run.contains(".ovaboot-ovf-env-"), "{run}");
    assert_backdoor_untouched(&vm);
}

#[test]
#[ignore = "needs QEMU: boots a Debian kernel under TCG (qemu-system-x86, xorriso, cpio, apt-get)"]
fn no_transport_in_a_qemu_guest_fails_with_every_reason() {
    require_vm_parts();
    let vm = boot("none");
    let step = vm.step("props");
    assert_eq!(step.rc, Some(1), "{}", step.stderr());
    assert!(step.stdout.is_empty(), "{}", step.stdout());
    let line = step
        .stderr
        .iter()
        .find(|l| l.contains("no OVF environment found"))
        .unwrap_or_else(|| panic!("no 'no OVF environment found' line: {}", step.stderr()));
    assert!(
        line.contains("guestinfo skipped (not running on VMware"),
        "{line}"
    );
    assert_backdoor_untouched(&vm);
    // The empty drive is looked at and skipped, not waited for, and said to
    // be empty (a read of it would fail with EIO: the drive status says why).
    assert!(
        line.contains("iso skipped (no OVF environment CD (/dev/sr0: no medium)"),
        "{line}"
    );
    // fw_cfg is there (the module is loaded) but holds no item of ours.
    assert!(
        line.contains("fw_cfg skipped (fw_cfg has no opt/ovaboot/ovf-env item)"),
        "{line}"
    );
    assert!(
        !vm.log.contains("panicked") && !vm.log.contains("Kernel panic"),
        "{}",
        vm.log
    );
}

#[test]
#[ignore = "needs QEMU: boots a Debian kernel under TCG (qemu-system-x86, xorriso, cpio, apt-get)"]
fn firstboot_host_phase_sets_kernel_host_name_and_port_sysctl_in_a_qemu_guest() {
    require_vm_parts();
    let vm = boot("firstboot");
    // The kernel's defaults before ovaboot ran.
    assert_eq!(vm.step("hostname-before").stdout(), "(none)");
    assert_eq!(vm.step("sysctl-before").stdout(), "1024");
    let firstboot = vm.step("firstboot");
    assert_eq!(firstboot.rc, Some(0), "{}", firstboot.stderr());
    assert_eq!(vm.step("hostname").stdout(), SAMPLE_FQDN);
    assert_eq!(vm.step("sysctl").stdout(), "80");
    assert_eq!(vm.step("etc-hostname").stdout(), SAMPLE_FQDN);
    let hosts = vm.step("etc-hosts").stdout();
    assert!(hosts.contains("127.0.0.1\tlocalhost"), "{hosts}");
    assert!(
        hosts
            .lines()
            .any(|l| l.starts_with("10.0.0.20") && l.contains(SAMPLE_FQDN) && l.contains("veba01")),
        "{hosts}"
    );
    // The static address goes on the guest's virtio NIC, found in the real sysfs.
    let network = vm.step("network").stdout();
    assert!(network.contains("Name=eth0"), "{network}");
    assert!(network.contains("Address=10.0.0.20/24"), "{network}");
    let drop_in = vm.step("sysctl-drop-in").stdout();
    assert!(
        drop_in.contains("net.ipv4.ip_unprivileged_port_start = 80"),
        "{drop_in}"
    );
    assert_eq!(vm.step("tls-key-mode").stdout(), "600 0");
}

#[test]
fn console_markers_parse_into_steps() {
    let log = "[    1.0] kernel line\r\n@@vm begin props: ovaboot props --json\r\nout| {\"a\": 1}\r\nerr| warn\r\nerr|\r\n[    2.0] interleaved kernel line\r\n@@vm end props rc=1\r\n@@vm done\r\n";
    let (steps, done) = parse_console(log);
    assert!(done);
    let step = &steps["props"];
    assert_eq!(step.stdout, ["{\"a\": 1}"]);
    assert_eq!(step.stderr, ["warn", ""]);
    assert_eq!(step.rc, Some(1));
}
