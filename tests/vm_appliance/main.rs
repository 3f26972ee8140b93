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
//! One module a scenario. The boots of one disk form a chain: the first
//! boot's disk is booted again (second boot), and the second boot's disk
//! three times more (renewed, expiring, years-later). Each boot runs once, in whichever test
//! needs it first ([`first`], [`second`]); the scenarios' tests assert on it.
//! One test binary, so that two guests run at once across the scenarios
//! (`vm_support`'s VM slots).
//!
//! Slow (an image build and seven boots), so every test is ignored unless run
//! with `--ignored`, as root. The .deb is `OVABOOT_APPLIANCE_DEB`, or the one
//! `cargo deb` builds (see docs/testing.md, "VM tests"). With `OVABOOT_TEST_KUBECONFIG`
//! (tests/controlplane/up) the first boot's cluster phase applies to that
//! control plane through QEMU's user network.

#[path = "../cli_support/mod.rs"]
mod cli_support;
#[path = "../controlplane_support/mod.rs"]
mod controlplane_support;
#[path = "../vm_support/mod.rs"]
mod vm_support;

mod bad_input;
mod expiring;
mod first_boot;
mod no_env;
mod renewed;
mod second_boot;
mod years_later;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::OnceLock;

use cli_support::{key_needles, openssl_fingerprint};
use vm_support::appliance::write_environment;
use vm_support::appliance::{ControlPlane, FQDN, RECORD, TLS_CERT, TLS_KEY, environment_secrets};
use vm_support::{Boot, Guest, boot, put, require_vm_parts, test_disk};

/// The first boot of the test disk and what it was given.
pub struct FirstBoot {
    pub boot: Boot,
    pub env: PathBuf,
    pub cp: Option<ControlPlane>,
    /// The TLS pair it left, as read from its disk.
    pub tls: TlsPair,
    /// What must show nowhere: the key, the proxy password, the control
    /// plane's client keys.
    pub secrets: Vec<String>,
}

/// A TLS pair as read from a boot's disk.
pub struct TlsPair {
    pub cert: String,
    pub key: String,
    pub fingerprint: String,
}

/// Runs `make` once for every caller; a panic in it is kept and told to
/// each caller, so that one failed boot is not booted again by each
/// scenario that depends on it.
fn once<T>(cell: &'static OnceLock<Result<T, String>>, what: &str, make: fn() -> T) -> &'static T {
    let made = cell.get_or_init(|| {
        catch_unwind(AssertUnwindSafe(make)).map_err(|panic| {
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default()
        })
    });
    match made {
        Ok(made) => made,
        Err(why) => panic!("{what} failed, so this scenario cannot run: {why}"),
    }
}

/// The first boot: the environment on the CD and, with a control plane,
/// the kubeconfig once the cluster phase has waited for it. Offline, the
/// completion record the cluster phase would have written is put into its
/// disk afterwards, so that the second boot finds first boot done.
pub fn first() -> &'static FirstBoot {
    static FIRST: OnceLock<Result<FirstBoot, String>> = OnceLock::new();
    once(&FIRST, "the first boot", || {
        require_vm_parts();
        let env = write_environment("first", &[]);
        let cp = ControlPlane::for_guest(
            "first boot: skipping the half where the cluster phase applies and completes \
             (and the second boot of that disk): set OVABOOT_TEST_KUBECONFIG (tests/controlplane/up); \
             the second boot runs on a disk with a completion record the test writes",
        );
        let boot = boot(
            "first",
            test_disk(),
            Guest {
                ovf_env: Some(&env),
                kubeconfig: cp.as_ref().map(|cp| cp.guest_kubeconfig.as_path()),
                ..Guest::default()
            },
        );
        let tls = tls_pair(&boot);
        let mut secrets = key_needles(&tls.key);
        secrets.extend(environment_secrets());
        for key in cp.iter().flat_map(|cp| &cp.client_keys) {
            secrets.extend(key_needles(key));
        }
        if cp.is_none() {
            complete_offline(&boot, &tls);
        }
        FirstBoot {
            boot,
            env,
            cp,
            tls,
            secrets,
        }
    })
}

/// The second boot: the first boot's disk, the same environment.
pub fn second() -> &'static Boot {
    static SECOND: OnceLock<Result<Boot, String>> = OnceLock::new();
    once(&SECOND, "the second boot", || {
        let first = first();
        boot(
            "second",
            &first.boot.disk_after(),
            Guest {
                ovf_env: Some(&first.env),
                ..Guest::default()
            },
        )
    })
}

/// The TLS pair on `boot`'s disk.
fn tls_pair(boot: &Boot) -> TlsPair {
    let read = |path| {
        boot.file(path)
            .unwrap_or_else(|| panic!("{}: no {path}; console:\n{}", boot.name, boot.console))
    };
    let cert = read(TLS_CERT);
    let key = read(TLS_KEY);
    let fingerprint = openssl_fingerprint(cert.as_bytes());
    TlsPair {
        cert,
        key,
        fingerprint,
    }
}

/// Writes the completion record the cluster phase would have written into
/// the first boot's disk, from the disk's own certificate: offline, the
/// cluster phase cannot finish.
fn complete_offline(first: &Boot, tls: &TlsPair) {
    assert!(!first.file_exists(RECORD));
    let record = first.dir.join("firstboot.json");
    let fingerprint_record = serde_json::json!({
        "ovaboot_version": env!("CARGO_PKG_VERSION"),
        "completed_at": "2026-11-30T12:00:00Z",
        "hostname": FQDN,
        "certificate_sha256": tls.fingerprint,
    });
    std::fs::write(&record, fingerprint_record.to_string()).unwrap();
    put(&first.disk_after(), &format!("/{RECORD}"), &record);
}
