//! The cluster half of `reconfigure`: a renewed certificate reaches the
//! `kubernetes.io/tls` Secret, and nothing else in the cluster is touched;
//! so does a self-signed one ovaboot renewed itself near its expiry.
//!
//! Replayed: the recordings hold no re-apply of a Secret with new data (only
//! its creation, `tls-httpproxy/01`), so the replay checks the requests: one
//! discovery of core/v1, then exactly one server-side apply of the Secret whose
//! body carries the new pair; any other request (an HTTPProxy, Contour) fails
//! the script. The answer is the recorded creation's. Against a real cluster
//! (`OVABOOT_TEST_KUBECONFIG`, e.g. tests/controlplane/up) the outcome is
//! checked: the Secret's data is the new pair, and no HTTPProxy, Deployment or
//! DaemonSet changed generation.

mod cli_support;
mod cluster_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cli_support::appliance::{complete_first_boot_at, differences, properties, snapshot};
use cli_support::{IP, ca, leaf, text};
use cluster_support::{APPLY_CONTENT_TYPE, APPLY_QUERY, Exchange, TestCluster};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use ovaboot::cluster::{ApplyOptions, apply_plan};
use ovaboot::commands::apply::ClusterRunError;
use ovaboot::commands::reconfigure::{self, Outcome, Phase, Request};
use ovaboot::config::Config;
use rcgen::KeyPair;
use serde_json::Value;
use time::Duration;

/// The appliance's host name here: its own, so this test's root HTTPProxy
/// never claims the virtual host of the other cluster tests' default plan
/// (Contour would call both invalid: DuplicateVhost).
const FQDN: &str = "reconfigure7.corp.example.net";

/// Replayed: the Secret where the recordings have it, `projectcontour/veba01-tls`.
const REPLAY_CONFIG: &str = r#"
[tls_secret]
name = "veba01-tls"
namespace = "projectcontour"

[[routes]]
prefix = "/"
service = "gateway"
port = 8080
"#;

/// A real cluster: names of its own, so the other cluster tests' objects (the
/// default plan's root proxy, `projectcontour/veba01-tls`) stay as they are.
const REAL_CONFIG: &str = r#"
[tls_secret]
name = "reconf-tls"

[root_proxy]
name = "reconf"

[[routes]]
prefix = "/"
service = "status"
namespace = "cp-reconfigure"
port = 80
"#;

fn real_cluster() -> bool {
    std::env::var_os("OVABOOT_TEST_KUBECONFIG").is_some()
}

/// The config, and the Secret's namespace and name.
fn config(dir: &Path) -> (Config, &'static str, &'static str) {
    let path = dir.join("ovaboot.toml");
    let (text, namespace, name) = if real_cluster() {
        (REAL_CONFIG, "cp-reconfigure", "reconf-tls")
    } else {
        (REPLAY_CONFIG, "projectcontour", "veba01-tls")
    };
    std::fs::write(&path, text).unwrap();
    let mut config = Config::load(Some(&path)).unwrap();
    config.contour.manifest = Some(cli_support::contour_manifest());
    (config, namespace, name)
}

/// A user certificate for the FQDN: (chain PEM, key PEM).
fn user_pair(issuer: &cli_support::Ca) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let (cert, _) = leaf(issuer, FQDN, &key, -Duration::days(1), Duration::days(90));
    (format!("{cert}{}", issuer.pem), key.serialize_pem())
}

fn env_with(dir: &Path, name: &str, pair: &(String, String)) -> String {
    cli_support::environment_with(
        &dir.join(name),
        &[
            ("guestinfo.hostname", FQDN),
            ("guestinfo.ipaddress", IP),
            ("guestinfo.netmask", "24"),
            ("guestinfo.tls_cert", &pair.0),
            ("guestinfo.tls_key", &pair.1),
        ],
    )
}

/// A root where first boot completed with `env`, its digest recorded.
fn first_boot(root: &Path, env: &str, config: &Config) {
    let out = cli_support::firstboot_host(root, env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    cli_support::record_first_boot_completed(root);
    let props = properties(env);
    let outcome = reconfigure::run_with(
        &Request {
            properties: &props,
            config,
            root,
            phase: Phase::All,
            dry_run: false,
        },
        |_| panic!("the Secret already holds first boot's pair"),
    )
    .unwrap();
    assert!(matches!(outcome, Outcome::Applied(ref a) if a.digest_stored && a.secret.is_none()));
}

/// The plan's objects for `env` on `root`, and the Secret among them.
fn planned(root: &Path, env: &str, config: &Config) -> (Vec<Value>, Value) {
    let props = properties(env);
    let comparison = reconfigure::compare(root, &props).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let plan = reconfigure::plan(&comparison, &props, config, root, now).unwrap();
    let objects = plan
        .manifests
        .iter()
        .map(|m| m.object.expose().clone())
        .collect();
    (objects, reconfigure::secret_object(&plan).unwrap().clone())
}

/// `reconfigure` (both phases) on `root` with `env`, the Secret applied with `client`.
async fn reconfigure_with(client: Client, root: PathBuf, env: String, config: Config) -> Outcome {
    reconfigure_phase_with(client, root, env, config, Phase::All).await
}

/// [`reconfigure_with`], one phase.
async fn reconfigure_phase_with(
    client: Client,
    root: PathBuf,
    env: String,
    config: Config,
    phase: Phase,
) -> Outcome {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let props = properties(&env);
        let request = Request {
            properties: &props,
            config: &config,
            root: &root,
            phase,
            dry_run: false,
        };
        reconfigure::run_with(&request, |objects| {
            handle
                .block_on(apply_plan(&client, objects, &ApplyOptions::default()))
                .map_err(ClusterRunError::from)
        })
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// metadata.generation of every HTTPProxy, Deployment and DaemonSet there is.
async fn generations(client: &Client) -> BTreeMap<String, Option<i64>> {
    let mut all = BTreeMap::new();
    for (group, version, kind, plural) in [
        ("projectcontour.io", "v1", "HTTPProxy", "httpproxies"),
        ("apps", "v1", "Deployment", "deployments"),
        ("apps", "v1", "DaemonSet", "daemonsets"),
    ] {
        let resource =
            ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        // No Contour CRDs on this cluster: no HTTPProxy to compare.
        let Ok(list) = api.list(&ListParams::default()).await else {
            continue;
        };
        for object in list {
            let meta = &object.metadata;
            all.insert(
                format!(
                    "{kind} {}/{}",
                    meta.namespace.clone().unwrap_or_default(),
                    meta.name.clone().unwrap_or_default()
                ),
                meta.generation,
            );
        }
    }
    all
}

/// The cluster reconfigure talks to: replayed, it expects one discovery of
/// core/v1 and exactly one server-side apply of `secret` (any other request
/// fails the script); a real one first gets what first boot applied
/// (`first_boot_objects`, not waited for: only their generations matter),
/// whose generations are returned.
async fn secret_cluster(
    namespace: &str,
    name: &str,
    secret: &Value,
    first_boot_objects: &[Value],
) -> (TestCluster, BTreeMap<String, Option<i64>>) {
    let reply = Exchange::recorded(&format!(
        "{}.response.json",
        cluster_support::contour::SECRET
    ))
    .reply;
    let tc = TestCluster::start(vec![
        Exchange::recorded("discovery/after-crds/api-v1.json"),
        Exchange {
            method: "PATCH".into(),
            path: format!("/api/v1/namespaces/{namespace}/secrets/{name}{APPLY_QUERY}"),
            content_type: Some(APPLY_CONTENT_TYPE.into()),
            accept: Some("application/json".into()),
            body: Some(secret.clone()),
            reply,
        },
    ])
    .await;
    let mut before = BTreeMap::new();
    if !tc.is_replay() {
        let options = ApplyOptions {
            wait: false,
            ..ApplyOptions::default()
        };
        apply_plan(tc.client(), first_boot_objects, &options)
            .await
            .unwrap();
        before = generations(tc.client()).await;
    }
    (tc, before)
}

#[tokio::test]
async fn a_renewed_certificate_reaches_the_secret_and_nothing_else_is_applied() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    let (config, namespace, name) = config(work.path());
    let issuer = ca("Lab CA", None);
    let (first, renewed) = (user_pair(&issuer), user_pair(&issuer));
    let a = env_with(work.path(), "a.xml", &first);
    let b = env_with(work.path(), "b.xml", &renewed);
    first_boot(&root, &a, &config);
    let (first_boot_objects, _) = planned(&root, &a, &config);
    let (_, new_secret) = planned(&root, &b, &config);
    assert_eq!(
        new_secret["data"]["tls.key"],
        STANDARD.encode(&renewed.1),
        "the plan carries the renewed pair"
    );

    let (tc, before) = secret_cluster(namespace, name, &new_secret, &first_boot_objects).await;

    let outcome =
        reconfigure_with(tc.client().clone(), root.clone(), b.clone(), config.clone()).await;
    let Outcome::Applied(applied) = &outcome else {
        panic!("{outcome}")
    };
    assert_eq!(
        applied.changed.as_deref(),
        Some(
            &[
                "guestinfo.tls_cert".to_owned(),
                "guestinfo.tls_key".to_owned()
            ][..]
        )
    );
    assert_eq!(
        applied.secret.as_ref().map(|s| s.0.as_str()),
        Some(format!("{namespace}/{name}").as_str())
    );
    assert!(applied.digest_stored);
    assert_eq!(
        std::fs::read_to_string(root.join("etc/ovaboot/tls/tls.key")).unwrap(),
        renewed.1,
        "disk and Secret agree"
    );

    if !tc.is_replay() {
        let secrets: Api<k8s_openapi::api::core::v1::Secret> =
            Api::namespaced(tc.client().clone(), namespace);
        let stored = secrets.get(name).await.unwrap();
        let data = stored.data.unwrap();
        assert_eq!(data["tls.crt"].0, renewed.0.as_bytes());
        assert_eq!(data["tls.key"].0, renewed.1.as_bytes());
        assert_eq!(stored.type_.as_deref(), Some("kubernetes.io/tls"));
        assert!(
            before.contains_key("HTTPProxy cp-reconfigure/reconf")
                && before.contains_key("Deployment projectcontour/contour"),
            "{before:?}"
        );
        assert_eq!(
            generations(tc.client()).await,
            before,
            "nothing else was applied"
        );
    }

    // The same properties again: nothing to do, no request.
    let again = reconfigure_with(tc.client().clone(), root.clone(), b, config).await;
    assert!(matches!(again, Outcome::Unchanged { .. }), "{again}");
    tc.finish().await;
}

/// The environment with no certificate of the admin's: ovaboot's self-signed one.
fn self_signed_env(dir: &Path) -> String {
    cli_support::environment_with(
        &dir.join("self-signed.xml"),
        &[
            ("guestinfo.hostname", FQDN),
            ("guestinfo.ipaddress", IP),
            ("guestinfo.netmask", "24"),
        ],
    )
}

/// A root whose first boot completed with `env` 815 days ago: its self-signed
/// certificate (825 days) expires in 10, within the default 30 warning days.
fn first_boot_815_days_ago(root: &Path, env: &str, config: &Config) {
    let out = cli_support::firstboot_host(root, env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let at = time::OffsetDateTime::now_utc() - time::Duration::days(815);
    complete_first_boot_at(root, env, config, at);
}

fn base64_of(root: &Path, rel: &str) -> Value {
    Value::String(STANDARD.encode(std::fs::read(root.join(rel)).unwrap()))
}

#[tokio::test]
async fn a_renewed_self_signed_certificate_reaches_the_secret_and_nothing_else_is_applied() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    let (config, namespace, name) = config(work.path());
    let env = self_signed_env(work.path());
    first_boot_815_days_ago(&root, &env, &config);
    let (first_boot_objects, _) = planned(&root, &env, &config);
    let old = reconfigure::installed_fingerprint(&root).unwrap();

    // At boot, the host part renews the pair on disk and applies nothing.
    let host = {
        let props = properties(&env);
        let request = Request {
            properties: &props,
            config: &config,
            root: &root,
            phase: Phase::Host,
            dry_run: false,
        };
        reconfigure::run_with(&request, |_| panic!("the host part talks to no cluster")).unwrap()
    };
    let Outcome::Applied(host) = host else {
        panic!("{host}")
    };
    assert!(matches!(
        host.renewal,
        Some(reconfigure::Renewal::Due { .. })
    ));
    assert_eq!(host.certificate_before.as_deref(), Some(old.as_str()));
    assert_ne!(host.certificate_after, old);
    assert!(!host.digest_stored);

    // Then the cluster part gives the Secret exactly that pair, and nothing else.
    let (_, new_secret) = planned(&root, &env, &config);
    for (file, key) in [
        ("etc/ovaboot/tls/tls.crt", "tls.crt"),
        ("etc/ovaboot/tls/tls.key", "tls.key"),
    ] {
        assert_eq!(new_secret["data"][key], base64_of(&root, file), "{key}");
    }
    let (tc, before) = secret_cluster(namespace, name, &new_secret, &first_boot_objects).await;
    let on_disk = snapshot(&root);
    let outcome = reconfigure_phase_with(
        tc.client().clone(),
        root.clone(),
        env.clone(),
        config.clone(),
        Phase::Cluster,
    )
    .await;
    let Outcome::Applied(applied) = &outcome else {
        panic!("{outcome}")
    };
    assert_eq!(applied.changed.as_deref(), Some(&[][..]), "no property");
    assert!(matches!(
        applied.renewal,
        Some(reconfigure::Renewal::Due { .. })
    ));
    assert_eq!(
        applied.secret.as_ref().map(|s| s.0.as_str()),
        Some(format!("{namespace}/{name}").as_str())
    );
    assert!(applied.digest_stored);
    assert_eq!(
        differences(&on_disk, &snapshot(&root)),
        ["var/lib/ovaboot/properties.json"],
        "the pair was already in place; only the record changes"
    );
    if !tc.is_replay() {
        let secrets: Api<k8s_openapi::api::core::v1::Secret> =
            Api::namespaced(tc.client().clone(), namespace);
        let data = secrets.get(name).await.unwrap().data.unwrap();
        assert_eq!(
            data["tls.crt"].0,
            std::fs::read(root.join("etc/ovaboot/tls/tls.crt")).unwrap()
        );
        assert_eq!(generations(tc.client()).await, before, "nothing else");
    }

    // Recorded with the new certificate's dates: the next run has nothing to do.
    let again = reconfigure_with(tc.client().clone(), root.clone(), env, config).await;
    assert!(matches!(again, Outcome::Unchanged { .. }), "{again}");
    tc.finish().await;
}

#[test]
fn the_cluster_part_alone_writes_the_renewed_pair_and_gives_it_to_the_secret() {
    // What the daily timer runs: no host file but the pair is written.
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    let (config, namespace, name) = config(work.path());
    let env = self_signed_env(work.path());
    first_boot_815_days_ago(&root, &env, &config);
    let old = reconfigure::installed_fingerprint(&root).unwrap();
    let before = snapshot(&root);
    let props = properties(&env);
    let request = Request {
        properties: &props,
        config: &config,
        root: &root,
        phase: Phase::Cluster,
        dry_run: false,
    };
    let mut applied_objects = Vec::new();
    let outcome = reconfigure::run_with(&request, |objects| {
        applied_objects = objects.to_vec();
        Ok(ovaboot::cluster::ApplySummary {
            objects: Vec::new(),
            created: 0,
            changed: 1,
            unchanged: 0,
            skipped: 0,
            elapsed: std::time::Duration::ZERO,
        })
    })
    .unwrap();
    assert!(
        matches!(&outcome, Outcome::Applied(a) if a.digest_stored),
        "{outcome}"
    );
    assert_eq!(
        differences(&before, &snapshot(&root)),
        [
            "etc/ovaboot/tls/tls.crt",
            "etc/ovaboot/tls/tls.key",
            "var/lib/ovaboot/properties.json"
        ]
    );
    assert_ne!(reconfigure::installed_fingerprint(&root).unwrap(), old);
    let [secret] = applied_objects.as_slice() else {
        panic!("the Secret alone: {applied_objects:?}")
    };
    assert_eq!(secret["kind"], "Secret");
    assert_eq!(secret["metadata"]["namespace"], namespace);
    assert_eq!(secret["metadata"]["name"], name);
    assert_eq!(
        secret["data"]["tls.crt"],
        base64_of(&root, "etc/ovaboot/tls/tls.crt")
    );
    assert_eq!(
        secret["data"]["tls.key"],
        base64_of(&root, "etc/ovaboot/tls/tls.key")
    );
    let again = reconfigure::compare(&root, &props).unwrap();
    assert!(again.unchanged(), "renewed and recorded");
}
