//! Connecting: which kubeconfig, and waiting for an API server that may still be starting.

use std::path::Path;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tokio::time::Instant;

use super::transport::{self, Failure};
use super::{ApplyError, KubeConfig};

/// Where k3s writes its admin kubeconfig.
pub const DEFAULT_KUBECONFIG: &str = "/etc/rancher/k3s/k3s.yaml";

/// A client from `explicit` (the config's `kubeconfig` or `--kubeconfig`), which must
/// load; without one: k3s's kubeconfig if it exists, else the in-cluster service
/// account, else `KUBECONFIG` / `~/.kube/config`. No request is sent.
pub async fn load_client(explicit: Option<&Path>) -> Result<Client, ApplyError> {
    if let Some(path) = explicit {
        return from_file(path).await;
    }
    let k3s = Path::new(DEFAULT_KUBECONFIG);
    if k3s.exists() {
        return from_file(k3s).await;
    }
    let config = match Config::incluster() {
        Ok(c) => c,
        Err(in_cluster) => Config::infer().await.map_err(|infer| ApplyError::NoClientConfig {
            tried: format!(
                "{DEFAULT_KUBECONFIG} does not exist; not in a cluster ({in_cluster}); KUBECONFIG or ~/.kube/config: {}",
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
            Ok(reply) => match transport::classify(reply.code, None, &reply.body) {
                Failure::Permanent {
                    code,
                    reason,
                    message,
                } => {
                    return Err(ApplyError::Rejected {
                        what: "GET /version".into(),
                        code,
                        reason,
                        message,
                    });
                }
                f => f.to_string(),
            },
            Err(f) => f.to_string(),
        };
        let delay = transport::backoff(attempt);
        if started.elapsed() + delay > timeout {
            return Err(ApplyError::ApiServerUnreachable {
                waited: started.elapsed(),
                last,
            });
        }
        if attempt % 5 == 0 {
            tracing::info!("API server not answering yet ({last}); still trying");
        }
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// [`load_client`] from the config, then [`wait_for_api_server`].
pub async fn connect(config: &KubeConfig) -> Result<Client, ApplyError> {
    let client = load_client(config.kubeconfig.as_deref()).await?;
    wait_for_api_server(&client, Duration::from_secs(config.api_server_timeout_secs)).await?;
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
