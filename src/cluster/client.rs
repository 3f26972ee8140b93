//! Connecting: which kubeconfig, a client whose every request has a time limit, and
//! waiting for an API server that may still be starting.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tokio::time::Instant;

use crate::root::{Links, read_local};

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
                Some(ApplyError::Kubeconfig { path, message }) => {
                    Err(ApplyError::KubeconfigUnfinished {
                        path,
                        message: format!(
                            "{message} (k3s did not finish writing it within {}s, \
                         kube.api_server_timeout_secs; pass --kubeconfig or set \
                         kube.kubeconfig to use another)",
                            started.elapsed().as_secs()
                        ),
                    })
                }
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

/// The most a kubeconfig may hold (read never blocking, capped).
pub const KUBECONFIG_LIMIT: u64 = 1024 * 1024;

async fn from_file(path: &Path, request_timeout: Duration) -> Result<Connection, ApplyError> {
    let err = |message: String| ApplyError::Kubeconfig {
        path: path.to_owned(),
        message,
    };
    // Parsed here rather than by Kubeconfig::read_from, whose errors quote the
    // file around the fault, and a kubeconfig holds the admin's private key.
    let bytes = match read_local(path, KUBECONFIG_LIMIT, Links::Follow) {
        Ok(Some(file)) => file.bytes,
        Ok(None) => {
            return Err(err(crate::root::not_found().to_string()));
        }
        Err(e) => return Err(err(e.message())),
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| err("it is not UTF-8 text".into()))?;
    let kubeconfig: Kubeconfig = crate::yaml::from_str(text).map_err(err)?;
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
mod tests;
