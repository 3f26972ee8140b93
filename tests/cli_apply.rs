//! `ovaboot apply --from DIR` as far as it goes without a cluster, and the
//! hand-over between render and apply: apply reads exactly what render wrote.
//! (Applying to a real cluster is covered by tests/cluster_apply.rs.)

mod cli_support;

use std::path::Path;

use serde_json::Value;

use cli_support::*;

/// A kubeconfig for an API server at 127.0.0.1 on a port nothing listens on.
fn kubeconfig_for_a_closed_port(dir: &Path) -> String {
    // Bind and let go: the kernel handed out a free port, now closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: nowhere\n  cluster: {{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}\n\
         users:\n- name: admin\n  user: {{token: not-a-real-token}}\ncontexts:\n- name: default\n  context: {{cluster: nowhere, user: admin}}\n\
         current-context: default\n"
    );
    let path = dir.join("kubeconfig.yaml");
    std::fs::write(&path, kubeconfig).unwrap();
    path.to_str().unwrap().to_owned()
}

fn render_fixture() -> Rendered {
    let root = tempfile::tempdir().unwrap();
    render(
        &["--ovf-env", &fixture("static-network-without-tls.xml")],
        root.path().to_str().unwrap(),
    )
}

/// The `ovaboot: error:` line: there is exactly one and it is the last
/// (apply's progress lines come before it).
fn the_error_line(stderr: &str) -> &str {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("ovaboot: error: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    assert_eq!(stderr.lines().last(), Some(errors[0]), "{stderr}");
    errors[0]
}

#[test]
fn apply_without_an_api_server_gives_up_at_the_deadline_saying_so() {
    let rendered = render_fixture();
    let work = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig_for_a_closed_port(work.path());
    let out = ovaboot(&[
        "apply",
        "--from",
        rendered.dir.to_str().unwrap(),
        "--kubeconfig",
        &kubeconfig,
        "--config",
        &fixture("api-server-timeout-2s.toml"),
    ]);
    assert!(!out.status.success());
    assert_eq!(text(&out.stdout), "", "no summary: nothing was applied");
    let stderr = text(&out.stderr);
    let line = the_error_line(&stderr);
    assert!(line.contains("the API server did not answer"), "{line}");
    assert!(line.contains("Connection refused"), "{line}");
}

#[test]
fn apply_from_a_folder_without_manifests_fails_naming_it() {
    let work = tempfile::tempdir().unwrap();
    let from = work.path().join("not-rendered");
    std::fs::create_dir(&from).unwrap();
    std::fs::write(from.join("plan.json"), "{}\n").unwrap();
    let kubeconfig = kubeconfig_for_a_closed_port(work.path());
    let out = ovaboot(&[
        "apply",
        "--from",
        from.to_str().unwrap(),
        "--kubeconfig",
        &kubeconfig,
        "--config",
        &fixture("api-server-timeout-2s.toml"),
    ]);
    assert!(!out.status.success());
    assert_eq!(text(&out.stdout), "");
    let stderr = text(&out.stderr);
    let line = the_error_line(&stderr);
    let manifests = from.join("manifests");
    assert!(
        line.contains(manifests.to_str().unwrap()),
        "{line:?} should name {}",
        manifests.display()
    );
    assert!(
        !line.contains("API server"),
        "failed before connecting: {line}"
    );
}

/// The objects of a rendered folder, read file by file in plan.json's order.
fn objects_in_plan_order(r: &Rendered) -> Vec<Value> {
    r.plan()["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| manifest_object(&r.path("manifests").join(name.as_str().unwrap())))
        .collect()
}

#[test]
fn apply_reads_back_exactly_what_render_wrote_in_plan_order() {
    let r = render_fixture();
    let expected = objects_in_plan_order(&r);
    assert_eq!(expected.len(), files_under(&r.path("manifests")).len());
    let loaded = ovaboot::cluster::load_manifests(&r.dir).unwrap();
    assert_eq!(loaded, expected);
    // The Secret made the trip whole (its data is what the cluster gets).
    assert!(
        loaded
            .iter()
            .any(|o| o["kind"] == "Secret" && o["data"]["tls.key"].is_string())
    );
}

#[test]
fn apply_reads_back_a_plan_of_more_than_a_hundred_manifests_in_plan_order() {
    // 45 routes, each in its own namespace: a Namespace and an HTTPProxy each,
    // on top of the release's 21 objects and the Secret.
    let work = tempfile::tempdir().unwrap();
    let config: String = (0..45)
        .map(|i| {
            let prefix = if i == 0 { "/".to_owned() } else { format!("/app{i}") };
            format!("[[routes]]\nprefix = \"{prefix}\"\nservice = \"svc{i}\"\nnamespace = \"team{i}\"\nport = 8080\n\n")
        })
        .collect();
    let config_path = work.path().join("forty-five-namespaces.toml");
    std::fs::write(&config_path, config).unwrap();
    let out_dir = work.path().join("rendered");
    let out = ovaboot(&[
        "render",
        "--out",
        out_dir.to_str().unwrap(),
        "--root",
        work.path().to_str().unwrap(),
        "--config",
        config_path.to_str().unwrap(),
        "--ovf-env",
        &fixture("static-network-without-tls.xml"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("plan.json")).unwrap()).unwrap();
    let names = plan["manifests"].as_array().unwrap();
    assert!(names.len() > 100, "{} manifests", names.len());
    let expected: Vec<Value> = names
        .iter()
        .map(|n| manifest_object(&out_dir.join("manifests").join(n.as_str().unwrap())))
        .collect();
    let loaded = ovaboot::cluster::load_manifests(&out_dir).unwrap();
    // Names first, so a failure shows the order rather than two object dumps.
    let describe = |objects: &[Value]| -> Vec<String> {
        objects
            .iter()
            .map(|o| {
                let field = |v: &Value| v.as_str().unwrap_or("-").to_owned();
                let meta = &o["metadata"];
                format!(
                    "{} {}/{}",
                    field(&o["kind"]),
                    field(&meta["namespace"]),
                    field(&meta["name"])
                )
            })
            .collect()
    };
    assert_eq!(describe(&loaded), describe(&expected));
    assert_eq!(loaded, expected);
}

/// How a stand-in API server on 127.0.0.1 misbehaves.
#[derive(Debug, Clone, Copy)]
enum Misbehaviour {
    /// Answers every request `503 Service Unavailable`.
    Unavailable,
    /// Accepts the connection, reads the request, never answers.
    Silent,
    /// Starts a 200 answer and closes the connection halfway through its body.
    ClosesMidAnswer,
}

/// Starts a stand-in API server (plain HTTP/1.1) on a free port; with `version_ok`
/// it answers `GET /version` properly and misbehaves on everything else. It runs
/// until the test process ends.
fn stand_in(how: Misbehaviour, version_ok: bool) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                tokio::spawn(serve(stream, how, version_ok));
            }
        });
    });
    addr
}

async fn serve(stream: tokio::net::TcpStream, how: Misbehaviour, version_ok: bool) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let mut request_line = String::new();
        if read.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut header = String::new();
            if read.read_line(&mut header).await.unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" {
                break;
            }
            if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        if read.read_exact(&mut body).await.is_err() {
            return;
        }
        let answer = |code: &str, body: &str| {
            format!(
                "HTTP/1.1 {code}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        };
        let reply = if version_ok && request_line.starts_with("GET /version ") {
            answer(
                "200 OK",
                r#"{"major":"1","minor":"33","gitVersion":"v1.33.5"}"#,
            )
        } else {
            match how {
                Misbehaviour::Unavailable => answer(
                    "503 Service Unavailable",
                    r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"the server is currently unable to handle the request","reason":"ServiceUnavailable","code":503}"#,
                ),
                Misbehaviour::Silent => {
                    // Keep the connection open, say nothing.
                    std::future::pending::<()>().await;
                    unreachable!()
                }
                Misbehaviour::ClosesMidAnswer => {
                    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n";
                    let _ = write
                        .write_all(format!("{head}{{\"kind\":\"Namespace\",\"metad").as_bytes())
                        .await;
                    return; // dropped: the connection closes mid-body
                }
            }
        };
        if write.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Small deadlines; returns the config file and the longest a run may take with them.
fn small_deadlines(dir: &Path) -> (String, std::time::Duration) {
    let (api_server, retry, request) = (3, 3, 1);
    let path = dir.join("small-deadlines.toml");
    std::fs::write(
        &path,
        format!(
            "[kube]\napi_server_timeout_secs = {api_server}\nrequest_retry_secs = {retry}\nrequest_timeout_secs = {request}\n"
        ),
    )
    .unwrap();
    // Waiting for the API server, then one request giving up, each cut at its
    // deadline; the rest is process start-up and slack for a loaded machine.
    let bound = std::time::Duration::from_secs(api_server + retry + 2 * request + 5);
    (path.to_str().unwrap().to_owned(), bound)
}

/// `ovaboot apply` of a rendered plan against `how`: ends within its deadlines,
/// exit 1, one error line naming what it waited for, the server and the kubeconfig.
fn apply_gives_up_in_time(how: Misbehaviour, version_ok: bool, waited_for: &str) {
    let rendered = render_fixture();
    let work = tempfile::tempdir().unwrap();
    let addr = stand_in(how, version_ok);
    let kubeconfig = work.path().join("kubeconfig.yaml");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: standin\n  cluster: {{server: 'http://{addr}'}}\n\
             users:\n- name: admin\n  user: {{token: not-a-real-token}}\ncontexts:\n- name: default\n  context: {{cluster: standin, user: admin}}\n\
             current-context: default\n"
        ),
    )
    .unwrap();
    let (config, bound) = small_deadlines(work.path());
    let started = std::time::Instant::now();
    let out = ovaboot(&[
        "apply",
        "--from",
        rendered.dir.to_str().unwrap(),
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--config",
        &config,
    ]);
    let took = started.elapsed();
    let stderr = text(&out.stderr);
    assert!(
        took < bound,
        "{how:?}: took {took:?}, bound {bound:?}: {stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "{how:?}: retryable: {stderr}");
    assert_eq!(text(&out.stdout), "");
    let line = the_error_line(&stderr);
    assert!(line.contains(waited_for), "{how:?}: {line}");
    assert!(
        line.contains(&format!("API server http://{addr}/")),
        "{line}"
    );
    assert!(
        line.contains(&format!("kubeconfig {}", kubeconfig.display())),
        "{line}"
    );
}

const NO_API_SERVER: &str = "the API server did not answer within ";

#[test]
fn apply_against_an_api_server_answering_503_gives_up_at_its_deadline() {
    apply_gives_up_in_time(Misbehaviour::Unavailable, false, NO_API_SERVER);
    apply_gives_up_in_time(Misbehaviour::Unavailable, true, "Namespace");
}

#[test]
fn apply_against_an_api_server_that_never_answers_gives_up_at_its_deadline() {
    apply_gives_up_in_time(Misbehaviour::Silent, false, NO_API_SERVER);
    apply_gives_up_in_time(Misbehaviour::Silent, true, "Namespace");
}

#[test]
fn apply_against_an_api_server_closing_mid_answer_gives_up_at_its_deadline() {
    apply_gives_up_in_time(Misbehaviour::ClosesMidAnswer, false, NO_API_SERVER);
    apply_gives_up_in_time(Misbehaviour::ClosesMidAnswer, true, "Namespace");
}
