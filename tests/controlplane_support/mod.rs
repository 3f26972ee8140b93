//! Helpers for the tests against a real control plane (`tests/controlplane/up DIR`,
//! then `OVABOOT_TEST_KUBECONFIG=DIR/kubeconfig`): hermetic renders with their own
//! host name and routes, the binary run against the cluster, and typed reads.

#![allow(dead_code)] // each test file uses a different part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use kube::Client;
use kube::api::Api;
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{Value, json};

use crate::cli_support::{contour_manifest, environment_with, text};

/// `$OVABOOT_TEST_KUBECONFIG`; without it the test fails saying so.
pub fn kubeconfig() -> PathBuf {
    std::env::var_os("OVABOOT_TEST_KUBECONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!("needs a control plane: set OVABOOT_TEST_KUBECONFIG (see tests/controlplane/up)")
        })
}

/// The folder `tests/controlplane/up` ran in; a test that restarts its parts
/// fails when the kubeconfig is not one of its.
pub fn controlplane_dir(kubeconfig: &Path) -> PathBuf {
    kubeconfig
        .parent()
        .filter(|dir| dir.join("run/contour.sh").is_file())
        .map(Path::to_owned)
        .unwrap_or_else(|| {
            panic!(
                "needs a tests/controlplane/up cluster (to restart its parts): {} is not one of its kubeconfigs",
                kubeconfig.display()
            )
        })
}

/// Runs `tests/controlplane/<script> DIR args...` and asserts it succeeded.
pub fn controlplane(script: &str, dir: &Path, args: &[&str]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/controlplane")
        .join(script);
    let out = Command::new(&path).arg(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{script} {args:?}: {}",
        text(&out.stderr)
    );
}

/// Blocks on `f` in a current-thread runtime of its own (tests here are plain
/// `#[test]`s so that a shared one-time setup can block too).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

pub async fn client(kubeconfig: &Path) -> Client {
    let request_timeout = ovaboot::cluster::ApplyOptions::default().request_timeout;
    ovaboot::cluster::load_client(Some(kubeconfig), request_timeout)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", kubeconfig.display()))
        .client
}

/// The endpoint login every scenario's environment gives.
pub const ENDPOINT_USERNAME: &str = "admin";
pub const ENDPOINT_PASSWORD: &str = "control-plane endpoint pw";

/// A scenario: its own host name (Contour refuses two root proxies with one FQDN)
/// and config, rendered into a fresh folder.
pub struct Scenario {
    pub work: tempfile::TempDir,
    pub config: PathBuf,
    pub env: PathBuf,
}

impl Scenario {
    pub fn new(fqdn: &str, config_toml: &str) -> Scenario {
        let work = tempfile::tempdir().unwrap();
        let config = work.path().join("ovaboot.toml");
        std::fs::write(&config, config_toml).unwrap();
        let env = work.path().join("ovf-env.xml");
        environment_with(
            &env,
            &[
                ("guestinfo.hostname", fqdn),
                ("guestinfo.ipaddress", "192.168.40.17"),
                ("guestinfo.netmask", "24"),
                ("guestinfo.gateway", "192.168.40.1"),
                // The default routes are protected: the endpoint login.
                ("guestinfo.endpoint_username", ENDPOINT_USERNAME),
                ("guestinfo.endpoint_password", ENDPOINT_PASSWORD),
            ],
        );
        Scenario { work, config, env }
    }

    pub fn rendered(&self) -> PathBuf {
        self.work.path().join("rendered")
    }

    /// `ovaboot render` of this scenario (once).
    pub fn render(&self) -> PathBuf {
        let out = self.rendered();
        if !out.is_dir() {
            let root = self.work.path().join("root");
            std::fs::create_dir_all(&root).unwrap();
            run_ok(&[
                "render",
                "--out",
                out.to_str().unwrap(),
                "--root",
                root.to_str().unwrap(),
                "--config",
                self.config.to_str().unwrap(),
                "--ovf-env",
                self.env.to_str().unwrap(),
            ]);
        }
        out
    }

    /// `ovaboot apply --from <rendered> --kubeconfig K --config <this config>`.
    pub fn apply_command(&self, kubeconfig: &Path) -> Command {
        let mut cmd = ovaboot_command();
        cmd.args(["apply", "--from"])
            .arg(self.render())
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--config")
            .arg(&self.config);
        cmd
    }

    /// The rendered objects in plan order, for `apply_plan`.
    pub fn objects(&self) -> Vec<Value> {
        ovaboot::cluster::load_manifests(&self.render()).unwrap()
    }
}

pub fn ovaboot_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ovaboot"));
    cmd.env_remove("OVABOOT_LOG")
        .env("OVABOOT_CONTOUR_MANIFEST", contour_manifest());
    cmd
}

pub fn run_ok(args: &[&str]) -> Output {
    let out = ovaboot_command().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ovaboot {args:?} exited {:?}: {}",
        out.status.code(),
        text(&out.stderr)
    );
    out
}

pub fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// A ClusterIP Service selecting nothing: enough for Contour to route to it.
pub fn service(namespace: &str, name: &str, port: u16) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"ports": [{"name": "http", "port": port, "protocol": "TCP"}]}
    })
}

/// Applies `objects` with the library, without waiting.
pub async fn apply_objects(client: &Client, objects: &[Value]) {
    let options = ovaboot::cluster::ApplyOptions {
        wait: false,
        ..Default::default()
    };
    ovaboot::cluster::apply_plan(client, objects, &options)
        .await
        .unwrap_or_else(|e| panic!("applying {objects:#?}: {e}"));
}

pub async fn delete_service(client: &Client, namespace: &str, name: &str) {
    let api: Api<Service> = Api::namespaced(client.clone(), namespace);
    match api.delete(name, &Default::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => panic!("deleting Service {namespace}/{name}: {e}"),
    }
}

fn httpproxies(client: &Client, namespace: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("projectcontour.io", "v1", "HTTPProxy");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "httpproxies");
    Api::namespaced_with(client.clone(), namespace, &resource)
}

/// An HTTPProxy as stored (status included), as JSON.
pub async fn httpproxy(client: &Client, namespace: &str, name: &str) -> Value {
    let obj = httpproxies(client, namespace)
        .get(name)
        .await
        .unwrap_or_else(|e| panic!("HTTPProxy {namespace}/{name}: {e}"));
    serde_json::to_value(obj).unwrap()
}

/// `status.currentStatus` of an HTTPProxy as Contour last wrote it for the current generation.
pub fn current_status(proxy: &Value) -> Option<&str> {
    let generation = proxy.pointer("/metadata/generation")?.as_i64()?;
    let valid = proxy
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Valid")?;
    (valid["observedGeneration"].as_i64() == Some(generation))
        .then(|| proxy.pointer("/status/currentStatus")?.as_str())
        .flatten()
}

/// Reads `read` until `done` holds of what it returns, or panics after `secs`
/// quoting the last value. Waiting for a condition, not for time.
pub async fn eventually<T: std::fmt::Debug, F, Fut>(
    secs: u64,
    what: &str,
    mut read: F,
    done: impl Fn(&T) -> bool,
) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let value = read().await;
        if done(&value) {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {secs} s; last seen {value:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The default plan (`appliance7.corp.example.net`, default routes in `ovaboot`)
/// applied once per test binary with its Services present, by `ovaboot apply`.
pub fn default_plan_applied(kubeconfig: &Path) -> &'static Scenario {
    static BASE: OnceLock<Scenario> = OnceLock::new();
    BASE.get_or_init(|| {
        let base = Scenario::new("appliance7.corp.example.net", "");
        block_on(async {
            let c = client(kubeconfig).await;
            apply_objects(
                &c,
                &[
                    namespace("ovaboot"),
                    service("ovaboot", "status", 80),
                    service("ovaboot", "bootstrap-log", 80),
                ],
            )
            .await;
        });
        let out = base.apply_command(kubeconfig).output().unwrap();
        assert!(
            out.status.success(),
            "ovaboot apply of the default plan exited {:?}: {}",
            out.status.code(),
            text(&out.stderr)
        );
        base
    })
}

/// The HTTPProxy, or `None` while it does not exist yet.
pub async fn httpproxy_if_present(client: &Client, namespace: &str, name: &str) -> Option<Value> {
    match httpproxies(client, namespace).get_opt(name).await {
        Ok(obj) => obj.map(|o| serde_json::to_value(o).unwrap()),
        Err(e) => panic!("HTTPProxy {namespace}/{name}: {e}"),
    }
}

/// A port `up` chose, from DIR/ports (`NAME_PORT=N` lines).
pub fn port(dir: &Path, name: &str) -> u16 {
    let ports = std::fs::read_to_string(dir.join("ports")).unwrap();
    ports
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}_PORT=")))
        .unwrap_or_else(|| panic!("{name}_PORT not in {}", dir.join("ports").display()))
        .parse()
        .unwrap()
}

/// Until Contour's health endpoint answers 200 (it is up and serving), within 60 s.
pub fn wait_for_contour(dir: &Path) {
    use std::io::{Read as _, Write as _};
    let addr = format!("127.0.0.1:{}", port(dir, "CONTOUR_HTTP"));
    let healthy = || -> std::io::Result<bool> {
        let mut s = std::net::TcpStream::connect(&addr)?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut reply = String::new();
        s.read_to_string(&mut reply)?;
        Ok(reply.split_whitespace().nth(1) == Some("200"))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !healthy().unwrap_or(false) {
        assert!(
            std::time::Instant::now() < deadline,
            "Contour not healthy at {addr} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
