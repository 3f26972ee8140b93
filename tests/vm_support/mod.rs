//! The harness of the appliance's VM tests (tests/vm_appliance/,
//! tests/vm_powercut.rs): the .deb and the image, the test copy of it, one
//! boot of an overlay (tests/vm/appliance/vm.sh does the effects) and what it
//! left: console, unit states, files and journal. Also the kubeconfig a guest
//! uses to reach a control plane on the host; [`appliance`] holds what the
//! boots share.

#![allow(dead_code)]

pub mod appliance;

use std::collections::BTreeMap;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Condvar, Mutex, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

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
pub struct VmSlot;

impl VmSlot {
    pub fn take() -> VmSlot {
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

/// Checks what the VM tests need on the host before anything else, and
/// fails naming each part that is missing (run with `--ignored` without
/// them: a clear failure, never a pass).
pub fn require_vm_parts() {
    let mut missing = Vec::new();
    if !running_as_root() {
        missing.push("root (the image build and the disk reads use loop devices)".to_owned());
    }
    let mut tools = vec![
        ("qemu-system-x86_64", "qemu-system-x86"),
        ("qemu-img", "qemu-utils"),
        ("xorriso", "xorriso"),
        ("mmdebstrap", "mmdebstrap"),
        ("extlinux", "extlinux"),
        ("sfdisk", "fdisk"),
        ("losetup", "util-linux"),
        ("journalctl", "systemd"),
    ];
    if std::env::var_os("OVABOOT_APPLIANCE_DEB").is_none() {
        tools.push((
            "cargo-deb",
            "cargo install cargo-deb, or set OVABOOT_APPLIANCE_DEB",
        ));
    }
    for (tool, from) in tools {
        if !on_path(tool) {
            missing.push(format!("{tool} ({from})"));
        }
    }
    assert!(
        missing.is_empty(),
        "the VM tests need what is missing here: {}",
        missing.join(", ")
    );
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    // /proc/self belongs to the process's effective user.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where each boot keeps what it left.
pub fn work_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
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
pub fn test_disk() -> &'static Path {
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
                .arg(crate::cli_support::contour_manifest()),
        );
        let disk = work_dir("appliance-vmtest.raw");
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

pub fn vm_sh<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> std::process::ExitStatus {
    Command::new("bash")
        .arg(repo().join("tests/vm/appliance/vm.sh"))
        .args(args)
        .status()
        .expect("bash runs tests/vm/appliance/vm.sh")
}

/// Writes `from` into the raw disk `disk` at `path` (mode 0644).
pub fn put(disk: &Path, path: &str, from: &Path) {
    let status = vm_sh(&[
        "put",
        "--disk",
        disk.to_str().unwrap(),
        "--file",
        path,
        "--from",
        from.to_str().unwrap(),
    ]);
    assert!(status.success(), "vm.sh put {path}: {status}");
}

/// What the guest gets besides its disk.
#[derive(Default, Clone, Copy)]
pub struct Guest<'a> {
    /// On the CD labelled OVF ENV; none: an empty CD drive.
    pub ovf_env: Option<&'a Path>,
    /// For the cluster phase, written where k3s writes its own once the
    /// phase has waited for it (see tests/vm/appliance/ovaboot-vmtest).
    pub kubeconfig: Option<&'a Path>,
    /// The guest's clock at power-on (UTC, `2029-02-10T12:00:00`); none: now.
    pub clock: Option<&'a str>,
    /// The config ovaboot's units read in the test copy (see
    /// tests/vm/appliance/ovaboot-vmtest-early); none: the test copy's own.
    pub config: Option<&'a Path>,
}

/// What one boot left: the console, the unit states the test unit printed,
/// and the disk afterwards.
pub struct Boot {
    pub name: String,
    pub dir: PathBuf,
    pub console: String,
    pub journal: String,
    /// `@@vmtest show UNIT KEY=VALUE` lines.
    units: BTreeMap<(String, String), String>,
    /// `@@vmtest NAME VALUE` lines other than show.
    facts: Vec<(String, String)>,
    /// stat.txt: path -> "mode uid gid mtime sha256".
    pub stat: BTreeMap<String, String>,
}

impl Boot {
    pub fn unit(&self, unit: &str, key: &str) -> &str {
        self.units
            .get(&(unit.to_owned(), key.to_owned()))
            .unwrap_or_else(|| {
                panic!(
                    "{}: the guest printed no {key} for {unit}; console:\n{}",
                    self.name, self.console
                )
            })
    }
    pub fn monotonic(&self, unit: &str, key: &str) -> u64 {
        self.unit(unit, key).parse().unwrap()
    }
    pub fn fact(&self, name: &str) -> Vec<&str> {
        self.facts
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn file(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join("disk/files").join(path)).ok()
    }
    pub fn file_exists(&self, path: &str) -> bool {
        self.dir.join("disk/files").join(path).exists()
    }
    /// The raw disk as the guest left it (`vm.sh boot` converts the overlay).
    pub fn disk_after(&self) -> PathBuf {
        self.dir.join("after.raw")
    }
    /// The console lines that contain `needle`.
    pub fn console_lines(&self, needle: &str) -> Vec<&str> {
        self.console
            .lines()
            .filter(|l| l.contains(needle))
            .collect()
    }
    /// `unit` ran and succeeded: its result, and its main process exited 0.
    pub fn assert_unit_succeeded(&self, unit: &str) {
        assert_eq!(
            self.unit(unit, "Result"),
            "success",
            "{}: {unit}; console:\n{}",
            self.name,
            self.console
        );
        assert_eq!(
            self.unit(unit, "ExecMainStatus"),
            "0",
            "{}: {unit}",
            self.name
        );
    }
    /// `unit` was skipped by its condition: checked (at a non-zero time),
    /// false, and the unit never started.
    pub fn assert_unit_skipped(&self, unit: &str) {
        assert_ne!(
            self.unit(unit, "ConditionTimestampMonotonic"),
            "0",
            "{}: {unit}; console:\n{}",
            self.name,
            self.console
        );
        assert_eq!(
            self.unit(unit, "ConditionResult"),
            "no",
            "{}: {unit}",
            self.name
        );
        assert_eq!(
            self.unit(unit, "ActiveState"),
            "inactive",
            "{}: {unit}",
            self.name
        );
        self.assert_unit_never_started(unit);
    }
    /// `unit` never left the inactive state in this boot.
    pub fn assert_unit_never_started(&self, unit: &str) {
        assert_eq!(
            self.unit(unit, "InactiveExitTimestampMonotonic"),
            "0",
            "{}: {unit} ran",
            self.name
        );
    }
    pub fn assert_no_secret(&self, secrets: &[String]) {
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

/// Boots an overlay of `backing` (a raw disk, or another boot's
/// `overlay.qcow2`) with what `guest` says; what it left is in
/// `target/tmp/appliance-NAME/`.
pub fn boot(name: &str, backing: &Path, guest: Guest) -> Boot {
    let _slot = VmSlot::take();
    let dir = work_dir(&format!("appliance-{name}"));
    let status = vm_sh(&vm_sh_args("boot", backing, &dir, &guest));
    Boot::read(name, dir, status)
}

/// `vm.sh COMMAND` arguments for a boot of `backing` into `dir`.
pub fn vm_sh_args(command: &str, backing: &Path, dir: &Path, guest: &Guest) -> Vec<String> {
    let mut args = vec![
        command.to_owned(),
        "--disk".into(),
        backing.to_str().unwrap().into(),
        "--out".into(),
        dir.to_str().unwrap().into(),
    ];
    if let Some(env) = guest.ovf_env {
        args.extend(["--ovf-env".into(), env.to_str().unwrap().into()]);
    }
    if let Some(kubeconfig) = guest.kubeconfig {
        args.extend(["--kubeconfig".into(), kubeconfig.to_str().unwrap().into()]);
    }
    if let Some(clock) = guest.clock {
        args.extend(["--clock".into(), clock.into()]);
    }
    if let Some(config) = guest.config {
        args.extend(["--config".into(), config.to_str().unwrap().into()]);
    }
    args
}

impl Boot {
    /// What the boot into `dir` left, once `vm.sh boot` exited with `status`.
    fn read(name: &str, dir: PathBuf, status: std::process::ExitStatus) -> Boot {
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
            name: name.to_owned(),
            dir,
            console,
            journal,
            units,
            facts,
            stat,
        }
    }
}

/// QEMU's user network: the guest reaches the host's loopback at this address.
pub const HOST_FROM_GUEST: &str = "10.0.2.2";

/// The control plane's kubeconfig (`host`, whose API server listens on the
/// host's loopback) as the guest must see it: the server at
/// [`HOST_FROM_GUEST`], same port, its certificate still verified for the
/// loopback name the host uses (`tls-server-name`, which kube-rs honours), and
/// every certificate and key inline (the guest has none of the host's files),
/// as k3s writes its own. Written to `out` (0600). Returns the client keys'
/// PEM, which must show nowhere.
pub fn guest_kubeconfig(host: &Path, out: &Path) -> Vec<String> {
    let config = kube::config::Kubeconfig::read_from(host)
        .unwrap_or_else(|e| panic!("{}: {e}", host.display()));
    let mut config = serde_json::to_value(config).unwrap();
    let read = |path: &Value| {
        let path = path.as_str().unwrap();
        std::fs::read(path).unwrap_or_else(|e| panic!("{path} (named in {}): {e}", host.display()))
    };
    let inline = |object: &mut Value, file: &str| {
        if let Some(path) = object.as_object_mut().unwrap().remove(file) {
            object[format!("{file}-data")] = STANDARD.encode(read(&path)).into();
        }
    };
    for cluster in config["clusters"].as_array_mut().unwrap() {
        let cluster = &mut cluster["cluster"];
        let server: http::Uri = cluster["server"].as_str().unwrap().parse().unwrap();
        let host_name = server.host().unwrap().trim_matches(['[', ']']).to_owned();
        let loopback = host_name == "localhost"
            || host_name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        assert!(
            loopback,
            "{}: the guest reaches only the host's loopback, not {server}",
            host.display()
        );
        cluster["server"] = format!(
            "https://{HOST_FROM_GUEST}:{}",
            server.port_u16().unwrap_or(443)
        )
        .into();
        if cluster.get("tls-server-name").is_none() {
            cluster["tls-server-name"] = host_name.into();
        }
        inline(cluster, "certificate-authority");
    }
    let mut keys = Vec::new();
    for user in config["users"].as_array_mut().unwrap() {
        let user = &mut user["user"];
        inline(user, "client-certificate");
        inline(user, "client-key");
        if let Some(key) = user["client-key-data"].as_str() {
            keys.push(String::from_utf8(STANDARD.decode(key).unwrap()).unwrap());
        }
    }
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    // JSON is YAML; the file carries a client key: 0600 from the start.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(out)
        .unwrap();
    serde_json::to_writer_pretty(file, &config).unwrap();
    std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o600)).unwrap();
    keys
}
