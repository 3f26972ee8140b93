//! The endpoints behind the login (issue #15), judged by the real parts of
//! the test control plane (`tests/controlplane/up`): the real Contour v1.33.6
//! marks the auth server's ExtensionService and the HTTPProxies valid, and
//! never invalid while ovaboot applies them (the first apply is watched from
//! before it starts); the routes carry the policy, read from Contour itself
//! (`contour cli lds`/`rds`, a real xDS client, against the control plane's
//! `contour serve`); the login Secret, read back from the API server, passes
//! `tests/controlplane/htpasswd` (the auth server's selection rules and
//! go-htpasswd, the library it matches with); and a re-apply with the same
//! password changes no generation nor resourceVersion.
//!
//! contour-authserver's image is not run (kwok plays the kubelet): what it
//! would do with the Secret is what the Go tool checks.

mod cli_support;
mod controlplane_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::Value;

use cli_support::text;
use controlplane_support::{
    ENDPOINT_PASSWORD, ENDPOINT_USERNAME, Scenario, apply_objects, block_on, client, kubeconfig,
    namespace, port, service,
};

const FQDN: &str = "login9.corp.example.net";
const AUTH_NS: &str = "projectcontour-auth";

/// Two routes in `auth-demo`: `/` protected (the default), `/public` open.
const CONFIG: &str = r#"
[[routes]]
prefix = "/"
service = "ui"
namespace = "auth-demo"
port = 80

[[routes]]
prefix = "/public"
service = "ui"
namespace = "auth-demo"
port = 80
auth = "none"
"#;

fn dynamic(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// Every status Contour writes for the ExtensionService and the HTTPProxies
/// of `namespaces`, from before the apply to its end: (kind/name, status).
async fn watch_statuses(
    c: kube::Client,
    resource: ApiResource,
    ns: &'static str,
    seen: std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>,
) {
    let api: Api<DynamicObject> = Api::namespaced_with(c, ns, &resource);
    // On a fresh control plane the kind is served only once ovaboot's apply
    // has made its CRD, before any such object exists: watched again (from
    // the current state) whenever the watch cannot start or ends, until the
    // test stops it.
    loop {
        let mut stream = match api.watch(&WatchParams::default(), "0").await {
            Ok(stream) => stream.boxed(),
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        while let Ok(Some(event)) = stream.try_next().await {
            if let WatchEvent::Added(o) | WatchEvent::Modified(o) = event {
                let value = serde_json::to_value(&o).unwrap();
                let name = format!("{}/{}", resource.kind, o.metadata.name.unwrap_or_default());
                seen.lock().unwrap().push((name, value));
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether Contour ever called an object of `seen` invalid.
fn invalid_ones(seen: &[(String, Value)]) -> Vec<String> {
    seen.iter()
        .filter(|(_, o)| {
            o.pointer("/status/currentStatus") == Some(&Value::from("invalid"))
                || o.pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "Valid" && c["status"] == "False")
        })
        .map(|(name, o)| format!("{name}: {}", o["status"]))
        .collect()
}

fn contour_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/controlplane/bin/contour")
}

/// `contour cli <what>` against the control plane's Contour (serving xDS
/// without TLS on 127.0.0.1): its first discovery response.
fn xds(dir: &Path, what: &str) -> String {
    let mut child = Command::new(contour_bin())
        .arg("cli")
        .arg(format!("--contour=127.0.0.1:{}", port(dir, "CONTOUR_XDS")))
        .arg(what)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// Copies the files under `from` to `to`, keeping their modes.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn metadata_versions(objects: &[Value]) -> BTreeMap<String, (Option<i64>, String)> {
    objects
        .iter()
        .map(|o| {
            (
                format!(
                    "{}/{}/{}",
                    o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]
                ),
                (
                    o["metadata"]["generation"].as_i64(),
                    o["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                ),
            )
        })
        .collect()
}

/// The live objects of the auth server and the routes.
async fn live(c: &kube::Client) -> Vec<Value> {
    let mut all = Vec::new();
    for (resource, ns) in [
        (dynamic("", "v1", "Secret", "secrets"), AUTH_NS),
        (dynamic("apps", "v1", "Deployment", "deployments"), AUTH_NS),
        (
            dynamic(
                "projectcontour.io",
                "v1alpha1",
                "ExtensionService",
                "extensionservices",
            ),
            AUTH_NS,
        ),
        (
            dynamic("projectcontour.io", "v1", "HTTPProxy", "httpproxies"),
            "auth-demo",
        ),
    ] {
        let api: Api<DynamicObject> = Api::namespaced_with(c.clone(), ns, &resource);
        for o in api.list(&ListParams::default()).await.unwrap().items {
            let mut v = serde_json::to_value(&o).unwrap();
            v["kind"] = Value::from(resource.kind.clone());
            all.push(v);
        }
    }
    all
}

#[test]
#[ignore = "needs a control plane (OVABOOT_TEST_KUBECONFIG)"]
fn protected_routes_are_valid_carry_the_policy_and_the_login_matches_as_the_auth_server_reads_it() {
    let kubeconfig = kubeconfig();
    let dir = kubeconfig.parent().unwrap().to_owned();
    let scenario = Scenario::new(FQDN, CONFIG);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));

    block_on(async {
        let c = client(&kubeconfig).await;
        apply_objects(
            &c,
            &[namespace("auth-demo"), service("auth-demo", "ui", 80)],
        )
        .await;
        // Watch from before the first apply: nothing may ever show invalid.
        let watches = [
            (
                dynamic(
                    "projectcontour.io",
                    "v1alpha1",
                    "ExtensionService",
                    "extensionservices",
                ),
                AUTH_NS,
            ),
            (
                dynamic("projectcontour.io", "v1", "HTTPProxy", "httpproxies"),
                "auth-demo",
            ),
        ]
        .map(|(r, ns)| tokio::spawn(watch_statuses(c.clone(), r, ns, seen.clone())));

        let out = tokio::task::spawn_blocking({
            let mut cmd = scenario.apply_command(&kubeconfig);
            move || cmd.output().unwrap()
        })
        .await
        .unwrap();
        assert!(out.status.success(), "first apply: {}", text(&out.stderr));
        tokio::time::sleep(Duration::from_secs(3)).await;
        for w in watches {
            w.abort();
        }
        let seen = seen.lock().unwrap().clone();
        assert!(
            seen.iter().any(|(n, _)| n.starts_with("ExtensionService/"))
                && seen.iter().any(|(n, _)| n.starts_with("HTTPProxy/")),
            "the watches saw the objects: {seen:#?}"
        );
        assert_eq!(invalid_ones(&seen), Vec::<String>::new(), "never invalid");

        // The login Secret and the Deployment as the API server has them,
        // for the auth server's rules and go-htpasswd (tests/controlplane/htpasswd).
        let work = scenario.work.path();
        let deployment: Api<DynamicObject> = Api::namespaced_with(
            c.clone(),
            AUTH_NS,
            &dynamic("apps", "v1", "Deployment", "deployments"),
        );
        let deployment = deployment.get("htpasswd").await.unwrap();
        std::fs::write(
            work.join("deployment.json"),
            serde_json::to_vec(&deployment).unwrap(),
        )
        .unwrap();
        let secrets: Api<DynamicObject> =
            Api::all_with(c.clone(), &dynamic("", "v1", "Secret", "secrets"));
        let list = secrets.list(&ListParams::default()).await.unwrap();
        let list =
            serde_json::json!({"kind": "SecretList", "apiVersion": "v1", "items": list.items});
        std::fs::write(
            work.join("secrets.json"),
            serde_json::to_vec(&list).unwrap(),
        )
        .unwrap();
        let before = metadata_versions(&live(&c).await);

        // Re-apply with the same password: nothing changes. What first boot's
        // host phase keeps (the login line, the auth server's CA and pair)
        // is put under the root, as on the appliance, and the plan rendered
        // again from it.
        copy_tree(
            &scenario.rendered().join("rootfs/etc/ovaboot"),
            &scenario.work.path().join("root/etc/ovaboot"),
        );
        std::fs::remove_dir_all(scenario.rendered()).unwrap();
        let out = scenario.apply_command(&kubeconfig).output().unwrap();
        assert!(out.status.success(), "re-apply: {}", text(&out.stderr));
        let after = metadata_versions(&live(&c).await);
        assert_eq!(
            before, after,
            "a re-apply with the same password changes nothing"
        );
    });

    let password = scenario.work.path().join("password");
    std::fs::write(&password, ENDPOINT_PASSWORD).unwrap();
    let out = Command::new("go")
        .args(["run", "."])
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/controlplane/htpasswd"))
        .arg("-deployment")
        .arg(scenario.work.path().join("deployment.json"))
        .arg("-secrets")
        .arg(scenario.work.path().join("secrets.json"))
        .args(["-user", ENDPOINT_USERNAME])
        .arg("-password-file")
        .arg(&password)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the htpasswd tool: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let said = text(&out.stdout);
    assert_eq!(
        said.lines().filter(|l| l.starts_with("ok: ")).count(),
        5,
        "{said}"
    );

    // What Contour itself made of it: the HTTPS listener for the FQDN runs
    // the ext_authz filter against the auth server's cluster, and the open
    // route turns it off.
    let lds = xds(&dir, "lds");
    assert!(lds.contains("envoy.filters.http.ext_authz"), "{lds}");
    assert!(
        lds.contains("extension/projectcontour-auth/htpasswd"),
        "{lds}"
    );
    // The HTTPS route configuration of the FQDN (up to the next one):
    // `/public` turns ext_authz off for itself, `/` carries nothing of its
    // own, so the listener's ext_authz filter applies to it.
    let rds = xds(&dir, "rds");
    let https = rds
        .find(&format!("\"https/{FQDN}\""))
        .map(|at| &rds[at..])
        .unwrap_or_else(|| panic!("https/{FQDN} not in rds: {rds}"));
    let https = https
        .find("RouteConfiguration")
        .map_or(https, |end| &https[..end]);
    let public = https
        .find("\"prefix\": \"/public\"")
        .unwrap_or_else(|| panic!("/public: {https}"));
    let root = https
        .find("\"prefix\": \"/\"")
        .unwrap_or_else(|| panic!("/: {https}"));
    assert!(public < root, "{https}");
    let public_route = &https[public..root];
    assert!(
        public_route.contains("envoy.filters.http.ext_authz")
            && public_route.contains("\"disabled\": true"),
        "{public_route}"
    );
    assert!(!https[root..].contains("ext_authz"), "{}", &https[root..]);
}
