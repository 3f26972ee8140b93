//! How the running parts take renewed xDS pairs, judged by the real Contour
//! v1.33.6 that `tests/controlplane/up` builds: `contour serve` on its own
//! ports with ovaboot's serving pair (`--contour-cafile/--contour-cert-file/
//! --contour-key-file`, read from a folder laid out as the kubelet lays out
//! the `contourcert` volume), and `contour cli ... lds`, a real xDS client
//! over TLS, as envoy with ovaboot's client pair from `envoycert`.
//!
//! First boot a year and a day ago: Contour's serving pair has expired and
//! the client refuses it. ovaboot's renewal ([`ovaboot::xds::renew`]) mints
//! new pairs under the same CA; the Secrets it applies are written into the
//! two volumes (what the kubelet does within its sync period), and with
//! Contour left running, not restarted, a new connection succeeds and Contour
//! presents the new pair (it loads its files at every handshake). A client
//! pair from another CA is refused.
//!
//! Needs `OVABOOT_TEST_KUBECONFIG` (the cluster Contour watches) and the
//! `contour` binary the control plane's build made (target/controlplane/bin,
//! or `OVABOOT_CONTOUR_BIN`).

mod cli_support;
mod controlplane_support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration as StdDuration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use cli_support::text;
use controlplane_support::{default_plan_applied, kubeconfig};
use ovaboot::xds::renew::{Renewed, run_with};
use ovaboot::xds::{self, Kept, Which};

/// How long Contour may take to listen, and a client to get its answer.
const DEADLINE: StdDuration = StdDuration::from_secs(60);

fn contour_bin() -> PathBuf {
    let path = std::env::var_os("OVABOOT_CONTOUR_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/controlplane/bin/contour")
        });
    assert!(
        path.is_file(),
        "needs the contour binary: {} (tests/controlplane/up builds it; or set OVABOOT_CONTOUR_BIN)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `contour serve` with the serving pair in `certs`, ended when dropped.
struct Contour {
    child: Child,
    xds_port: u16,
}

impl Contour {
    fn serve(kubeconfig: &Path, certs: &Path, log_path: &Path) -> Contour {
        let (xds_port, http_port, debug_port) = (free_port(), free_port(), free_port());
        let log = std::fs::File::create(log_path).unwrap();
        let child = Command::new(contour_bin())
            .arg("serve")
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .args(["--disable-leader-election", "--xds-address=127.0.0.1"])
            .arg(format!("--xds-port={xds_port}"))
            .arg("--http-address=127.0.0.1")
            .arg(format!("--http-port={http_port}"))
            .arg("--health-address=127.0.0.1")
            .arg(format!("--health-port={http_port}"))
            .arg("--debug-http-address=127.0.0.1")
            .arg(format!("--debug-http-port={debug_port}"))
            .arg(format!(
                "--contour-cafile={}",
                certs.join("ca.crt").display()
            ))
            .arg(format!(
                "--contour-cert-file={}",
                certs.join("tls.crt").display()
            ))
            .arg(format!(
                "--contour-key-file={}",
                certs.join("tls.key").display()
            ))
            .args([
                "--envoy-service-namespace=projectcontour",
                "--envoy-service-name=envoy",
            ])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let contour = Contour { child, xds_port };
        contour.wait_listening(log_path);
        contour
    }

    /// Until the xDS port accepts a connection (or Contour exits, or the deadline).
    fn wait_listening(&self, log: &Path) {
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.xds_port)).is_err() {
            assert!(
                started.elapsed() < DEADLINE,
                "contour serve never listened on {}:\n{}",
                self.xds_port,
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(StdDuration::from_millis(200));
        }
    }
}

impl Drop for Contour {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Secret's keys as files in `dir`, each renamed into place as the
/// kubelet swaps a Secret volume's contents.
fn mount(secret: &Value, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for key in ["ca.crt", "tls.crt", "tls.key"] {
        let bytes = STANDARD
            .decode(secret["data"][key].as_str().unwrap())
            .unwrap();
        let staged = dir.join(format!(".{key}.new"));
        std::fs::write(&staged, bytes).unwrap();
        std::fs::rename(&staged, dir.join(key)).unwrap();
    }
}

/// `contour cli lds` with the pair in `certs`: `Ok` with its output once it
/// received a discovery response, `Err` with its output when it exited first.
fn lds(port: u16, certs: &Path) -> Result<String, String> {
    let mut child = Command::new(contour_bin())
        .arg("cli")
        .arg(format!("--contour=127.0.0.1:{port}"))
        .arg(format!("--cafile={}", certs.join("ca.crt").display()))
        .arg(format!("--cert-file={}", certs.join("tls.crt").display()))
        .arg(format!("--key-file={}", certs.join("tls.key").display()))
        .arg("lds")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, received) = mpsc::channel();
    for pipe in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
    }
    drop(lines);
    let started = Instant::now();
    let mut said = String::new();
    let outcome = loop {
        let left = DEADLINE.saturating_sub(started.elapsed());
        match received.recv_timeout(left) {
            Ok(line) => {
                said.push_str(&line);
                said.push('\n');
                if line.contains("Received Discovery Response") {
                    break Ok(());
                }
            }
            // Both pipes closed: the client exited.
            Err(mpsc::RecvTimeoutError::Disconnected) => break Err(()),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("contour cli neither answered nor failed:\n{said}")
            }
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    outcome.map(|()| said.clone()).map_err(|()| said)
}

/// The certificate Contour presents to a client with the pair in `certs` (PEM).
fn presented(port: u16, certs: &Path) -> String {
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "contour",
            "-tls1_3",
            "-alpn",
            "h2",
        ])
        .arg("-cert")
        .arg(certs.join("tls.crt"))
        .arg("-key")
        .arg(certs.join("tls.key"))
        .arg("-CAfile")
        .arg(certs.join("ca.crt"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let shown = text(&out.stdout);
    let begin = shown
        .find("-----BEGIN CERTIFICATE-----")
        .unwrap_or_else(|| panic!("{shown}{}", text(&out.stderr)));
    let end = shown.find("-----END CERTIFICATE-----").unwrap() + "-----END CERTIFICATE-----".len();
    format!("{}\n", &shown[begin..end])
}

fn summary() -> ovaboot::cluster::ApplySummary {
    ovaboot::cluster::ApplySummary {
        objects: Vec::new(),
        created: 0,
        changed: 2,
        unchanged: 0,
        skipped: 0,
        elapsed: StdDuration::ZERO,
    }
}

#[test]
#[ignore = "needs a control plane: OVABOOT_TEST_KUBECONFIG (tests/controlplane/up) and its contour binary"]
fn contour_takes_renewed_pairs_at_the_next_handshake_without_a_restart() {
    let kubeconfig = kubeconfig();
    // Contour exits while its CRDs are missing: the plan brings them.
    default_plan_applied(&kubeconfig);
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    let (contour_certs, envoy_certs) = (
        work.path().join("contourcert"),
        work.path().join("envoycert"),
    );

    // First boot a year and a day ago: the pairs ovaboot kept and applied then.
    let config = ovaboot::config::Config::default();
    let then = OffsetDateTime::now_utc() - Duration::days(366);
    let first = xds::plan(&Kept::default(), &config.xds, then).unwrap();
    ovaboot::apply::files::write_files(&root, &first.files()).unwrap();
    xds::record::store(&root, &first, then).unwrap();
    let [contourcert, envoycert] = first.secrets();
    mount(contourcert.expose().value(), &contour_certs);
    mount(envoycert.expose().value(), &envoy_certs);

    let contour = Contour::serve(
        &kubeconfig,
        &contour_certs,
        &work.path().join("contour.log"),
    );
    let refused = lds(contour.xds_port, &envoy_certs).expect_err("an expired serving pair");
    assert!(refused.contains("certificate has expired"), "{refused}");

    // The renewal, as every boot and the daily timer run it.
    let mut applied = Vec::new();
    let renewed = run_with(&root, &config, OffsetDateTime::now_utc(), |objects| {
        applied = objects.to_vec();
        Ok(summary())
    })
    .unwrap();
    let Renewed::Applied { minted, .. } = renewed else {
        panic!("nothing renewed")
    };
    let which: Vec<Which> = minted.iter().map(|m| m.which).collect();
    assert_eq!(which, [Which::Contour, Which::Envoy], "{minted:?}");
    let names: Vec<&str> = applied
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["contourcert", "envoycert"]);

    // The kubelet updates both volumes; Contour keeps running.
    mount(&applied[0], &contour_certs);
    mount(&applied[1], &envoy_certs);
    let answered = lds(contour.xds_port, &envoy_certs).expect("the renewed pairs");
    assert!(
        answered.contains("type.googleapis.com/envoy.config.listener.v3.Listener"),
        "{answered}"
    );
    let new_serving =
        std::fs::read_to_string(root.join("etc/ovaboot/tls/xds/contour.crt")).unwrap();
    assert_eq!(
        presented(contour.xds_port, &envoy_certs),
        new_serving,
        "Contour presents the renewed pair"
    );
    assert_ne!(new_serving, first.contour.cert_pem);

    // A client pair from another CA (trusting ours, so only Contour judges).
    let other = xds::plan(&Kept::default(), &config.xds, OffsetDateTime::now_utc()).unwrap();
    let stranger = work.path().join("stranger");
    mount(other.secrets()[1].expose().value(), &stranger);
    std::fs::copy(envoy_certs.join("ca.crt"), stranger.join("ca.crt")).unwrap();
    let refused = lds(contour.xds_port, &stranger).expect_err("a client pair from another CA");
    assert!(
        !refused.contains("Received Discovery Response"),
        "{refused}"
    );
    // Contour refuses it in the handshake (TLS 1.3: the client learns it
    // when it reads the server's first frame).
    assert!(
        refused.contains("remote error: tls: unknown certificate authority"),
        "{refused}"
    );

    // A second renewal run finds nothing to do.
    let again = run_with(&root, &config, OffsetDateTime::now_utc(), |_| {
        panic!("nothing to apply")
    })
    .unwrap();
    assert!(matches!(again, Renewed::Unchanged), "{again}");
    drop(contour);
}
