//! Connecting: which kubeconfig, a client whose every request has a time limit, and
//! waiting for an API server that may still be starting.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tokio::time::Instant;

use super::config::KubeConfig;
use super::error::ApplyError;
use super::failure;
use super::transport;
use super::types::Endpoint;

/// Where k3s writes its admin kubeconfig.
pub const DEFAULT_KUBECONFIG: &str = "/etc/rancher/k3s/k3s.yaml";

/// A client and which cluster it talks to, so that an error can say.
#[derive(Clone)]
pub struct Connection {
    pub client: Client,
    pub endpoint: Endpoint,
}

impl Connection {
    /// `e` with this connection's API server and kubeconfig named.
    pub fn context(&self, e: ApplyError) -> ApplyError {
        ApplyError::At {
            endpoint: Box::new(self.endpoint.clone()),
            error: Box::new(e),
        }
    }
}

/// A client from `explicit` (the config's `kubeconfig` or `--kubeconfig`), which must
/// load; without one: k3s's kubeconfig if it exists, else the in-cluster service
/// account, else `KUBECONFIG` / `~/.kube/config`. No request is sent, nothing is
/// waited for. Each request may take `request_timeout` to connect (see [`tuned`]).
pub async fn load_client(
    explicit: Option<&Path>,
    request_timeout: Duration,
) -> Result<Connection, ApplyError> {
    load(
        explicit,
        Path::new(DEFAULT_KUBECONFIG),
        None,
        request_timeout,
    )
    .await
}

/// [`load_client`], but at first boot k3s may not have written its kubeconfig yet:
/// without `explicit`, and outside a cluster (no `KUBERNETES_SERVICE_HOST`), waits up
/// to `timeout` for `/etc/rancher/k3s/k3s.yaml` to appear and load (k3s may be
/// mid-write), then goes on as [`load_client`]. A missing `explicit` file fails at once.
pub async fn load_client_waiting(
    explicit: Option<&Path>,
    timeout: Duration,
    request_timeout: Duration,
) -> Result<Connection, ApplyError> {
    let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    let wait = (!in_cluster).then_some(timeout);
    load(
        explicit,
        Path::new(DEFAULT_KUBECONFIG),
        wait,
        request_timeout,
    )
    .await
}

/// kube-client's defaults made to fit ovaboot's deadlines.
pub(crate) fn tuned(mut config: Config, request_timeout: Duration) -> Config {
    // kube-client 5 retries 429/503/504 itself (up to 15 times, with backoff) in a
    // layer ovaboot cannot see, outside its deadlines and its log: off. Retries are
    // `transport::request`'s, bounded and logged.
    config.default_retry = false;
    config.connect_timeout = Some(request_timeout);
    config.write_timeout = Some(request_timeout);
    // No idle-read limit on the connection: a watch is quiet for long stretches by
    // design. Every other request is cut as a whole by `transport::send_once`, and a
    // watch by the wait it serves.
    config.read_timeout = None;
    config
}

fn client_for(
    config: Config,
    origin: String,
    request_timeout: Duration,
) -> Result<Connection, String> {
    let server = config.cluster_url.to_string();
    let client = Client::try_from(tuned(config, request_timeout)).map_err(|e| e.to_string())?;
    Ok(Connection {
        client,
        endpoint: Endpoint { server, origin },
    })
}

/// `k3s` is where k3s writes its kubeconfig; `wait`, how long to wait for it.
async fn load(
    explicit: Option<&Path>,
    k3s: &Path,
    wait: Option<Duration>,
    request_timeout: Duration,
) -> Result<Connection, ApplyError> {
    if let Some(path) = explicit {
        return from_file(path, request_timeout).await;
    }
    match wait {
        Some(timeout) => {
            if let Some(client) = wait_for_kubeconfig(k3s, timeout, request_timeout).await? {
                return Ok(client);
            }
        }
        None if k3s.exists() => return from_file(k3s, request_timeout).await,
        None => {}
    }
    let (config, origin) =
        match Config::incluster() {
            Ok(c) => (c, "in-cluster service account".to_owned()),
            Err(in_cluster) => {
                let config = Config::infer().await.map_err(|infer| ApplyError::NoClientConfig {
                tried: format!(
                    "{} {}; not in a cluster ({in_cluster}); KUBECONFIG or ~/.kube/config: {}",
                    k3s.display(),
                    if wait.is_some() {
                        "did not appear in time"
                    } else {
                        "does not exist"
                    },
                    // Only the first line: a parse error goes on to quote the file.
                    infer.to_string().lines().next().unwrap_or_default()
                ),
            })?;
                let file = std::env::var("KUBECONFIG").unwrap_or_else(|_| "~/.kube/config".into());
                (config, format!("kubeconfig {file}"))
            }
        };
    client_for(config, origin, request_timeout).map_err(|e| ApplyError::NoClientConfig { tried: e })
}

/// Waits with backoff until `path` exists, is not empty and loads. `None` if it never
/// appeared within `timeout`; the last load error if it appeared but never loaded.
async fn wait_for_kubeconfig(
    path: &Path,
    timeout: Duration,
    request_timeout: Duration,
) -> Result<Option<Connection>, ApplyError> {
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        // Only a file that is there and not empty is worth loading; k3s may be mid-write.
        let failed = match std::fs::metadata(path) {
            Ok(m) if m.len() > 0 => match from_file(path, request_timeout).await {
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
                        "{} did not appear within {}s (kube.api_server_timeout_secs)",
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
                    "waiting for k3s to write {} (--kubeconfig or kube.kubeconfig to use another)",
                    path.display()
                ),
                Some(e) => tracing::info!("waiting for k3s to finish writing: {e}"),
            }
        }
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

async fn from_file(path: &Path, request_timeout: Duration) -> Result<Connection, ApplyError> {
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
    let origin = format!("kubeconfig {}", absolute(path).display());
    client_for(config, origin, request_timeout).map_err(err)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Asks `/version` until the API server answers, with exponential backoff and jitter,
/// for at most `timeout`, each try cut at `request_timeout` (and at the deadline).
/// Returns the server's `gitVersion`.
pub async fn wait_for_api_server(
    client: &Client,
    timeout: Duration,
    request_timeout: Duration,
) -> Result<String, ApplyError> {
    let started = Instant::now();
    let mut attempt = 0;
    let mut last = String::new();
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        // The last try is made at the deadline itself, not one backoff before it;
        // a try with no time left would only hide the last real answer.
        if left.is_zero() && attempt > 0 {
            return Err(ApplyError::ApiServerUnreachable {
                waited: started.elapsed(),
                last,
            });
        }
        let req = http::Request::get("/version")
            .body(Vec::new())
            .map_err(|e| ApplyError::BadResponse {
                what: "GET /version".into(),
                message: e.to_string(),
            })?;
        let limit = transport::attempt_limit(request_timeout, left);
        last = match transport::send_once(client, req, limit).await {
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
                failure::classify(reply.code, None, &reply.body)
                    .transient_or_rejected(&"GET /version")?
                    .0
            }
            Err(f) => f.to_string(),
        };
        let remaining = timeout.saturating_sub(started.elapsed());
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
/// An API server that never answers is named in the error with the kubeconfig used.
pub async fn connect(config: &KubeConfig) -> Result<Connection, ApplyError> {
    let timeout = Duration::from_secs(config.api_server_timeout_secs);
    let request_timeout = Duration::from_secs(config.request_timeout_secs);
    let started = Instant::now();
    let connection =
        load_client_waiting(config.kubeconfig.as_deref(), timeout, request_timeout).await?;
    let left = timeout.saturating_sub(started.elapsed());
    wait_for_api_server(&connection.client, left, request_timeout)
        .await
        .map_err(|e| connection.context(e))?;
    Ok(connection)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(10);

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
        let client = load_client(Some(&path), T).await.unwrap();
        assert_eq!(client.client.default_namespace(), "projectcontour");
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
            let Err(err) = load_client(Some(&path), T).await else {
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
        let client = load(None, &path, Some(Duration::from_secs(300)), T)
            .await
            .unwrap();
        assert!(
            writer.is_finished(),
            "loaded only once the whole file was there"
        );
        assert_eq!(client.client.default_namespace(), "projectcontour");
    }

    #[tokio::test(start_paused = true)]
    async fn k3s_kubeconfig_that_never_appears_is_given_up_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k3s.yaml");
        let got = wait_for_kubeconfig(&path, Duration::from_secs(60), T)
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
        let err = load(None, &path, Some(Duration::from_secs(60)), T)
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
        let err = load(Some(&explicit), &k3s, Some(Duration::from_secs(300)), T)
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
        let err = wait_for_api_server(&client, Duration::from_secs(30), T)
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

    #[test]
    fn kube_clients_own_retry_layer_is_off_and_connecting_has_a_limit() {
        let config = Config::new("https://127.0.0.1:6443".parse().unwrap());
        assert!(config.default_retry, "kube-client 5 retries by default");
        let config = tuned(config, Duration::from_secs(7));
        assert!(!config.default_retry);
        assert_eq!(config.connect_timeout, Some(Duration::from_secs(7)));
        assert_eq!(config.write_timeout, Some(Duration::from_secs(7)));
    }

    /// A kubeconfig for `http://{addr}` (plain HTTP: the stand-in servers speak no TLS).
    fn kubeconfig_for(dir: &Path, addr: std::net::SocketAddr) -> PathBuf {
        let path = dir.join("kubeconfig.yaml");
        std::fs::write(
            &path,
            KUBECONFIG.replace("https://127.0.0.1:6443", &format!("http://{addr}")),
        )
        .unwrap();
        path
    }

    #[tokio::test]
    async fn a_503_reaches_ovaboot_after_exactly_one_request() {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = std::sync::Arc::new(AtomicUsize::new(0));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                // Each request (headers only: a GET) on a kept-alive connection.
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    if line == "\r\n" {
                        seen.fetch_add(1, Ordering::SeqCst);
                        let body = r#"{"kind":"Status","code":503,"reason":"ServiceUnavailable","message":"not now"}"#;
                        let reply = format!(
                            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if stream.write_all(reply.as_bytes()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let connection = load_client(Some(&kubeconfig_for(dir.path(), addr)), T)
            .await
            .unwrap();
        assert_eq!(connection.endpoint.server, format!("http://{addr}/"));
        let req = http::Request::get("/version").body(Vec::new()).unwrap();
        let got = transport::send_once(&connection.client, req, (T, "")).await;
        assert!(
            matches!(
                &got,
                Err(failure::Failure::Transient {
                    status: Some((503, _)),
                    ..
                })
            ),
            "{got:?}"
        );
        assert_eq!(requests.load(Ordering::SeqCst), 1, "no hidden retry");
    }

    #[tokio::test(start_paused = true)]
    async fn an_api_server_that_never_answers_is_given_up_at_the_deadline_not_after() {
        use http::{Request, Response};
        use kube::client::Body;
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        // Takes every request and never answers it.
        let swallow = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Some(pending) = handle.next_request().await {
                held.push(pending);
            }
            held.len()
        });
        let client = Client::new(service, "default");
        let started = Instant::now();
        let err = wait_for_api_server(&client, Duration::from_secs(30), T)
            .await
            .unwrap_err();
        // The paused clock moves only through timers: the deadline, exactly.
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        drop(client);
        let text = err.to_string();
        assert!(text.contains("no complete answer within "), "{text}");
        // 10 s per try plus backoff: three or four tries in 30 s.
        assert!((3..=4).contains(&swallow.await.unwrap()), "{text}");
    }

    #[tokio::test]
    async fn explicit_kubeconfig_is_used_with_its_context_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k3s.yaml");
        std::fs::write(&path, KUBECONFIG).unwrap();
        let client = load_client(Some(&path), T).await.unwrap();
        assert_eq!(client.client.default_namespace(), "projectcontour");
    }

    #[tokio::test]
    async fn missing_explicit_kubeconfig_names_the_file() {
        let err = load_client(Some(Path::new("/nonexistent/ovaboot/k.yaml")), T)
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
        let err = load_client(Some(&path), T).await.err().unwrap().to_string();
        assert!(err.contains("broken.yaml"), "{err}");
    }
}
