use super::*;
use crate::failure::Transience as _;

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
    let text = err.to_string();
    assert!(
        text.contains("--kubeconfig") && text.contains("kube.kubeconfig"),
        "{text}"
    );
    // k3s writes it anew when it starts: the next try may find it whole.
    assert!(err.is_transient(), "{text}");
}

/// As a power cut in the middle of k3s writing it leaves it (seen in
/// tests/vm_powercut/): the cluster phase is retried, not failed for good.
#[tokio::test(start_paused = true)]
async fn k3s_kubeconfig_that_stays_empty_fails_for_now_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k3s.yaml");
    std::fs::write(&path, "").unwrap();
    let err = load(None, &path, Some(Duration::from_secs(60)), T)
        .await
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("kubeconfig {}: is empty", path.display())),
        "{text}"
    );
    assert!(err.is_transient(), "{text}");
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
