//! Connecting: which kubeconfig, and waiting for an API server that may still be starting.

use std::path::Path;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tokio::time::Instant;

use super::transport;
use super::{ApplyError, KubeConfig};

/// Where k3s writes its admin kubeconfig.
pub const DEFAULT_KUBECONFIG: &str = "/etc/rancher/k3s/k3s.yaml";

/// A client from `explicit` (the config's `kubeconfig` or `--kubeconfig`), which must
/// load; without one: k3s's kubeconfig if it exists, else the in-cluster service
/// account, else `KUBECONFIG` / `~/.kube/config`. No request is sent, nothing is waited for.
pub async fn load_client(explicit: Option<&Path>) -> Result<Client, ApplyError> {
    load(explicit, Path::new(DEFAULT_KUBECONFIG), None).await
}

/// [`load_client`], but at first boot k3s may not have written its kubeconfig yet:
/// without `explicit`, and outside a cluster (no `KUBERNETES_SERVICE_HOST`), waits up
/// to `timeout` for `/etc/rancher/k3s/k3s.yaml` to appear and load (k3s may be
/// mid-write), then goes on as [`load_client`]. A missing `explicit` file fails at once.
pub async fn load_client_waiting(
    explicit: Option<&Path>,
    timeout: Duration,
) -> Result<Client, ApplyError> {
    let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    let wait = (!in_cluster).then_some(timeout);
    load(explicit, Path::new(DEFAULT_KUBECONFIG), wait).await
}

/// `k3s` is where k3s writes its kubeconfig; `wait`, how long to wait for it.
async fn load(
    explicit: Option<&Path>,
    k3s: &Path,
    wait: Option<Duration>,
) -> Result<Client, ApplyError> {
    if let Some(path) = explicit {
        return from_file(path).await;
    }
    match wait {
        Some(timeout) => {
            if let Some(client) = wait_for_kubeconfig(k3s, timeout).await? {
                return Ok(client);
            }
        }
        None if k3s.exists() => return from_file(k3s).await,
        None => {}
    }
    let config = match Config::incluster() {
        Ok(c) => c,
        Err(in_cluster) => Config::infer().await.map_err(|infer| ApplyError::NoClientConfig {
            tried: format!(
                "{} does not exist; not in a cluster ({in_cluster}); KUBECONFIG or ~/.kube/config: {}",
                k3s.display(),
                // Only the first line: a parse error goes on to quote the file.
                infer.to_string().lines().next().unwrap_or_default()
            ),
        })?,
    };
    let url = config.cluster_url.to_string();
    Client::try_from(config).map_err(|e| ApplyError::NoClientConfig {
        tried: format!("client for {url}: {e}"),
    })
}

/// Waits with backoff until `path` exists, is not empty and loads. `None` if it never
/// appeared within `timeout`; the last load error if it appeared but never loaded.
async fn wait_for_kubeconfig(path: &Path, timeout: Duration) -> Result<Option<Client>, ApplyError> {
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        // Only a file that is there and not empty is worth loading; k3s may be mid-write.
        let failed = match std::fs::metadata(path) {
            Ok(m) if m.len() > 0 => match from_file(path).await {
                Ok(client) => {
                    if attempt > 0 {
                        tracing::info!(
                            "{} loaded after {}s",
                            path.display(),
                            started.elapsed().as_secs()
                        );
                    }
                    return Ok(Some(client));
                }
                Err(e) => Some(e),
            },
            Ok(_) => Some(ApplyError::Kubeconfig {
                path: path.to_owned(),
                message: "is empty".into(),
            }),
            Err(_) => None,
        };
        let delay = transport::backoff(attempt);
        if started.elapsed() + delay > timeout {
            return match failed {
                Some(e) => Err(e),
                None => {
                    tracing::warn!(
                        "{} did not appear within {}s",
                        path.display(),
                        started.elapsed().as_secs()
                    );
                    Ok(None)
                }
            };
        }
        if attempt % 5 == 0 {
            match &failed {
                None => tracing::info!(
                    "waiting for k3s to write {} (set kube.kubeconfig to use another)",
                    path.display()
                ),
                Some(e) => tracing::info!("waiting for k3s to finish writing: {e}"),
            }
        }
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

async fn from_file(path: &Path) -> Result<Client, ApplyError> {
    let err = |message: String| ApplyError::Kubeconfig {
        path: path.to_owned(),
        message,
    };
    // Parsed here rather than by Kubeconfig::read_from, whose errors quote the
    // file around the fault, and a kubeconfig holds the admin's private key.
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let kubeconfig: Kubeconfig = crate::yaml::from_str(&text).map_err(err)?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| err(e.to_string()))?;
    Client::try_from(config).map_err(|e| err(e.to_string()))
}

/// Asks `/version` until the API server answers, with exponential backoff and jitter,
/// for at most `timeout`. Returns the server's `gitVersion`.
pub async fn wait_for_api_server(client: &Client, timeout: Duration) -> Result<String, ApplyError> {
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        let req = http::Request::get("/version")
            .body(Vec::new())
            .map_err(|e| ApplyError::BadResponse {
                what: "GET /version".into(),
                message: e.to_string(),
            })?;
        let last = match transport::send_once(client, req).await {
            Ok(reply) if reply.code == 200 => {
                let version = serde_json::from_slice::<serde_json::Value>(&reply.body)
                    .ok()
                    .and_then(|v| v["gitVersion"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                tracing::info!(
                    "API server {version} answers after {}s",
                    started.elapsed().as_secs()
                );
                return Ok(version);
            }
            // 401/403 from a starting k3s are real answers: nothing will change them.
            Ok(reply) => {
                transport::classify(reply.code, None, &reply.body)
                    .transient_or_rejected(&"GET /version")?
                    .0
            }
            Err(f) => f.to_string(),
        };
        // The last try is made at the deadline itself, not one backoff before it.
        let remaining = timeout.saturating_sub(started.elapsed());
        if remaining.is_zero() {
            return Err(ApplyError::ApiServerUnreachable {
                waited: timeout,
                last,
            });
        }
        let delay = transport::backoff(attempt).min(remaining);
        if attempt % 5 == 0 {
            tracing::info!("API server not answering yet ({last}); still trying");
        }
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// [`load_client_waiting`] from the config, then [`wait_for_api_server`]: both
/// within one `api_server_timeout_secs`, since k3s writes its kubeconfig as it starts.
pub async fn connect(config: &KubeConfig) -> Result<Client, ApplyError> {
    let timeout = Duration::from_secs(config.api_server_timeout_secs);
    let started = Instant::now();
    let client = load_client_waiting(config.kubeconfig.as_deref(), timeout).await?;
    wait_for_api_server(&client, timeout.saturating_sub(started.elapsed())).await?;
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = "apiVersion: v1
kind: Config
clusters:
- name: k3s
  cluster: {server: 'https://127.0.0.1:6443', insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: not-a-real-token}
contexts:
- name: default
  context: {cluster: k3s, user: admin, namespace: projectcontour}
current-context: default
";

    /// A kubeconfig laid out as k3s writes it, with a fresh client key and certificate;
    /// returns it and the key's `client-key-data` (base64) and PEM.
    fn k3s_kubeconfig() -> (String, String, String) {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["system:admin".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let key_pem = key.serialize_pem();
        let key_data = b64(&key_pem);
        let cert_data = b64(&cert.pem());
        let text = format!(
            "apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: {cert_data}
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    namespace: projectcontour
    user: default
  name: default
current-context: default
kind: Config
preferences: {{}}
users:
- name: default
  user:
    client-certificate-data: {cert_data}
    client-key-data: {key_data}
"
        );
        (text, key_data, key_pem)
    }

    /// Fails if any 16-character run of `secret` appears in `shown`.
    fn assert_no_run_of(secret: &str, shown: &str) {
        for run in secret.as_bytes().windows(16) {
            let run = std::str::from_utf8(run).unwrap();
            assert!(!shown.contains(run), "{run:?} leaked: {shown}");
        }
    }

    /// The error names the kubeconfig and, in Display and Debug alike, quotes
    /// no 16-character run of its key (base64 or PEM).
    fn assert_names_file_hides_key(err: &ApplyError, path: &Path, key_data: &str, key_pem: &str) {
        let shown = format!("{err} {err:?}");
        assert!(
            shown.starts_with(&format!("kubeconfig {}: ", path.display())),
            "{shown}"
        );
        assert_no_run_of(key_data, &shown);
        assert_no_run_of(key_pem, &shown);
    }

    #[tokio::test]
    async fn a_whole_k3s_kubeconfig_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k3s.yaml");
        std::fs::write(&path, k3s_kubeconfig().0).unwrap();
        let client = load_client(Some(&path)).await.unwrap();
        assert_eq!(client.default_namespace(), "projectcontour");
    }

    #[tokio::test]
    async fn a_truncated_k3s_kubeconfig_fails_naming_the_file_without_key_material() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k3s.yaml");
        let (full, key_data, key_pem) = k3s_kubeconfig();
        let key_at = full.find("client-key-data: ").unwrap();
        // Every cut in the users section (mid-key above all), and a few earlier ones.
        let cuts = (1..key_at).step_by(97).chain(key_at..full.len() - 1);
        let mut failed = 0;
        for cut in cuts {
            std::fs::write(&path, &full[..cut]).unwrap();
            let Err(err) = load_client(Some(&path)).await else {
                continue; // e.g. cut inside `preferences` or a trailing newline
            };
            failed += 1;
            assert_names_file_hides_key(&err, &path, &key_data, &key_pem);
        }
        let mid_key = key_at..full.len() - 1;
        assert!(
            failed >= mid_key.len(),
            "every cut in the key fails: {failed}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn k3s_kubeconfig_written_late_and_in_parts_is_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k3s.yaml");
        let (full, ..) = k3s_kubeconfig();
        let cut = full.find("client-key-data: ").unwrap() + 60;
        // k3s starting: no file, then an empty one, then half of it, then all of it.
        let writer = tokio::spawn({
            let path = path.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(20)).await;
                std::fs::write(&path, "").unwrap();
                tokio::time::sleep(Duration::from_secs(10)).await;
                std::fs::write(&path, &full[..cut]).unwrap();
                tokio::time::sleep(Duration::from_secs(20)).await;
                std::fs::write(&path, &full).unwrap();
            }
        });
        let client = load(None, &path, Some(Duration::from_secs(300)))
            .await
            .unwrap();
        assert!(
            writer.is_finished(),
            "loaded only once the whole file was there"
        );
        assert_eq!(client.default_namespace(), "projectcontour");
    }

    #[tokio::test(start_paused = true)]
    async fn k3s_kubeconfig_that_never_appears_is_given_up_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k3s.yaml");
        let got = wait_for_kubeconfig(&path, Duration::from_secs(60))
            .await
            .unwrap();
        assert!(got.is_none(), "then the other sources are tried, as before");
    }

    #[tokio::test(start_paused = true)]
    async fn k3s_kubeconfig_that_stays_truncated_fails_naming_it_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k3s.yaml");
        let (full, key_data, key_pem) = k3s_kubeconfig();
        let cut = full.find("client-key-data: ").unwrap() + 60;
        std::fs::write(&path, &full[..cut]).unwrap();
        let err = load(None, &path, Some(Duration::from_secs(60)))
            .await
            .err()
            .unwrap();
        assert_names_file_hides_key(&err, &path, &key_data, &key_pem);
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_explicit_kubeconfig_fails_at_once_even_when_waiting_for_k3s() {
        let dir = tempfile::tempdir().unwrap();
        let k3s = dir.path().join("k3s.yaml");
        let explicit = dir.path().join("admin.yaml");
        let before = Instant::now();
        let err = load(Some(&explicit), &k3s, Some(Duration::from_secs(300)))
            .await
            .err()
            .unwrap();
        // The paused clock moves only when something sleeps: nothing did.
        assert_eq!(Instant::now(), before);
        assert!(
            err.to_string()
                .starts_with(&format!("kubeconfig {}: ", explicit.display())),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn api_server_that_never_answers_is_given_up_at_the_deadline() {
        use http::{Request, Response};
        use kube::client::Body;
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let refuse_all = tokio::spawn(async move {
            let mut attempts = 0;
            while let Some((req, send)) = handle.next_request().await {
                assert_eq!(req.uri(), "/version");
                send.send_error(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
                attempts += 1;
            }
            attempts
        });
        let client = Client::new(service, "default");
        let err = wait_for_api_server(&client, Duration::from_secs(30))
            .await
            .unwrap_err();
        drop(client);
        let attempts = refuse_all.await.unwrap();
        let text = err.to_string();
        assert!(
            text.starts_with("the API server did not answer within "),
            "{text}"
        );
        assert!(text.to_lowercase().contains("connection refused"), "{text}");
        // Backoff doubles to 8 s: about a dozen tries in 30 s, not hundreds.
        assert!((5..20).contains(&attempts), "{attempts} attempts");
    }

    #[tokio::test]
    async fn explicit_kubeconfig_is_used_with_its_context_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k3s.yaml");
        std::fs::write(&path, KUBECONFIG).unwrap();
        let client = load_client(Some(&path)).await.unwrap();
        assert_eq!(client.default_namespace(), "projectcontour");
    }

    #[tokio::test]
    async fn missing_explicit_kubeconfig_names_the_file() {
        let err = load_client(Some(Path::new("/nonexistent/ovaboot/k.yaml")))
            .await
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .starts_with("kubeconfig /nonexistent/ovaboot/k.yaml: "),
            "{err}"
        );
    }

    #[tokio::test]
    async fn malformed_kubeconfig_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.yaml");
        std::fs::write(&path, "clusters: [ {name: x\n").unwrap();
        let err = load_client(Some(&path)).await.err().unwrap().to_string();
        assert!(err.contains("broken.yaml"), "{err}");
    }
}
