//! `TestCluster`: the same scenario bodies run against recorded kube-apiserver
//! responses (replayed in place from `../shared/kube-api`, every request asserted)
//! or, when `OVABOOT_TEST_KUBECONFIG` names a kubeconfig, against a real cluster
//! (then the script is ignored and only outcome assertions run).

#![allow(dead_code)] // each test file uses a different part

use std::path::PathBuf;
use std::sync::OnceLock;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use kube::Client;
use kube::client::Body;
use serde_json::Value;
use tokio::task::JoinHandle;

pub mod contour;

pub const APPLY_QUERY: &str = "?force=true&fieldManager=ovaboot&fieldValidation=Ignore";
pub const APPLY_CONTENT_TYPE: &str = "application/apply-patch+yaml";

/// `$OVABOOT_KUBE_API_RECORDINGS`, else `../shared/kube-api` beside the crate.
pub fn recordings() -> PathBuf {
    let dir = std::env::var_os("OVABOOT_KUBE_API_RECORDINGS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/kube-api"));
    assert!(
        dir.join("index.json").is_file(),
        "kube-api recordings not found at {}: set OVABOOT_KUBE_API_RECORDINGS",
        dir.display()
    );
    dir
}

pub fn recorded_text(rel: &str) -> String {
    let path = recordings().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn recorded(rel: &str) -> Value {
    serde_json::from_str(&recorded_text(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A fixture of ours under tests/fixtures/cluster/.
pub fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cluster")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The recordings' index entry of `file`.
fn index_entry(file: &str) -> Value {
    static INDEX: OnceLock<Vec<Value>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        serde_json::from_value(recorded("index.json")).expect("index.json is a list")
    });
    index
        .iter()
        .find(|e| e["file"] == file)
        .cloned()
        .unwrap_or_else(|| panic!("{file} is not in index.json"))
}

/// What the mock answers.
#[derive(Debug, Clone)]
pub enum Reply {
    Http {
        status: u16,
        content_type: String,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// The connection is refused (API server not listening yet).
    Refused,
    /// 200 with `body`, then the answer stays open, saying nothing more (a watch
    /// on an object that does not change).
    Held { body: String },
}

/// One expected request and its answer.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    pub body: Option<Value>,
    pub reply: Reply,
}

impl Exchange {
    /// A recorded exchange: the request must match the recorded one exactly (method,
    /// path and query, Content-Type, Accept, body as JSON); the answer is the recording.
    pub fn recorded(file: &str) -> Exchange {
        let e = index_entry(file);
        let header = |h: &str| e["request_headers"][h].as_str().map(str::to_owned);
        let method = e["method"].as_str().unwrap().to_owned();
        let mut path = e["path"].as_str().unwrap().to_owned();
        // The recorded applies were made without `fieldValidation`; ovaboot now asks for
        // `Ignore` (src/cluster/apply.rs says why). For these bodies (JSON maps, no
        // duplicate keys) the server's answer is the same either way.
        if method == "PATCH" && path.ends_with("?force=true&fieldManager=ovaboot") {
            path.push_str("&fieldValidation=Ignore");
        }
        Exchange {
            method,
            path,
            content_type: header("Content-Type"),
            accept: header("Accept"),
            body: e["request_body_file"].as_str().map(recorded),
            reply: Reply::Http {
                status: e["status"].as_u64().unwrap() as u16,
                content_type: e["response_content_type"].as_str().unwrap().to_owned(),
                headers: Vec::new(),
                body: recorded_text(file),
            },
        }
    }

    /// A recorded answer to a request the recording did not make in this form
    /// (e.g. the stored object, answering the metadata read before a re-apply).
    pub fn answered_with(method: &str, path: &str, accept: Option<&str>, file: &str) -> Exchange {
        let mut x = Exchange::recorded(file);
        x.method = method.to_owned();
        x.path = path.to_owned();
        x.content_type = None;
        x.accept = accept.map(str::to_owned);
        x.body = None;
        x
    }

    /// A status read while waiting (while watching fails).
    pub fn read(path: &str, file: &str) -> Exchange {
        Exchange::answered_with("GET", path, None, file)
    }

    /// The apply of a recorded request file, answered by one of our fixtures.
    pub fn apply_answered_by_fixture(
        path: &str,
        request_file: &str,
        status: u16,
        headers: &[(&str, &str)],
        fixture_name: &str,
    ) -> Exchange {
        Exchange {
            method: "PATCH".into(),
            path: format!("{path}{APPLY_QUERY}"),
            content_type: Some(APPLY_CONTENT_TYPE.into()),
            accept: Some("application/json".into()),
            body: Some(recorded(request_file)),
            reply: Reply::Http {
                status,
                content_type: "application/json".into(),
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                body: fixture(fixture_name),
            },
        }
    }

    /// A watch of one object (`collection` path, `name`) from `version`, as kube-rs
    /// builds it, answered 200 with `stream` (WatchEvent lines; the server then closes).
    pub fn watch(
        collection: &str,
        name: &str,
        version: &str,
        secs: u64,
        stream: String,
    ) -> Exchange {
        Exchange {
            method: "GET".into(),
            path: watch_path(collection, name, version, secs),
            content_type: None,
            accept: None,
            body: None,
            reply: Reply::Http {
                status: 200,
                content_type: "application/json".into(),
                headers: Vec::new(),
                body: stream,
            },
        }
    }

    pub fn refused(mut self) -> Exchange {
        self.reply = Reply::Refused;
        self
    }
}

/// The path and query of a watch on one object, in kube-rs's parameter order.
pub fn watch_path(collection: &str, name: &str, version: &str, secs: u64) -> String {
    format!(
        "{collection}?watch=true&timeoutSeconds={secs}&fieldSelector=metadata.name%3D{name}&allowWatchBookmarks=true&resourceVersion={version}"
    )
}

/// One watch-stream line: `{"type": kind, "object": object}`.
pub fn event(kind: &str, object: &Value) -> String {
    format!("{}\n", serde_json::json!({"type": kind, "object": object}))
}

/// Path and query with empty query pairs dropped. kube-rs 5.0.0 builds
/// `…/name?&force=true&fieldManager=ovaboot&fieldValidation=Ignore` (form_urlencoded 1.2 adds `&` after
/// the `?` it is given); the recordings were made without the empty pair, and the
/// API server ignores it. Pair order is kept, so `force` before `fieldManager` is asserted.
pub fn normalise(path_and_query: &str) -> String {
    match path_and_query.split_once('?') {
        None => path_and_query.to_owned(),
        Some((path, query)) => {
            let pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
            format!("{path}?{}", pairs.join("&"))
        }
    }
}

/// The replay's answer bodies: whole, or held open after their bytes.
type TestBody = BoxBody<Bytes, std::io::Error>;

fn whole(body: String) -> TestBody {
    http_body_util::Full::new(Bytes::from(body))
        .map_err(|never| match never {})
        .boxed()
}

fn held(body: String) -> TestBody {
    use futures::StreamExt;
    let frames = futures::stream::iter([Ok(http_body::Frame::data(Bytes::from(body)))])
        .chain(futures::stream::pending());
    BodyExt::boxed(http_body_util::StreamBody::new(frames))
}

/// What the mock saw, for assertions about order.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub accept: Option<String>,
    /// Which stage of the script it answered.
    pub stage: usize,
}

pub struct TestCluster {
    client: Client,
    replay: Option<JoinHandle<Vec<Seen>>>,
}

impl TestCluster {
    /// A real cluster if `OVABOOT_TEST_KUBECONFIG` is set (`script` unused), else a
    /// replay of `script` in exactly its order, with tokio's clock paused so backoff
    /// and polling take no time.
    pub async fn start(script: Vec<Exchange>) -> TestCluster {
        TestCluster::staged(script.into_iter().map(|x| vec![x]).collect()).await
    }

    /// Like [`TestCluster::start`], but the script is a list of stages: the requests of
    /// one stage may come in any order (they are sent concurrently), each exactly once;
    /// every request of a stage comes before any of the next. Requests with the same
    /// method and path within a stage are answered in script order.
    pub async fn staged(stages: Vec<Vec<Exchange>>) -> TestCluster {
        TestCluster::staged_together(stages, &[]).await
    }

    /// Like [`TestCluster::staged`]; the stages numbered in `together` are answered
    /// only once all their requests are in flight at the same time (which a client
    /// sending them one after the other never does: its first request times out).
    pub async fn staged_together(stages: Vec<Vec<Exchange>>, together: &[usize]) -> TestCluster {
        let together = together.to_vec();
        if let Some(path) = std::env::var_os("OVABOOT_TEST_KUBECONFIG") {
            let timeout = std::time::Duration::from_secs(10);
            let client = ovaboot::cluster::load_client(Some(std::path::Path::new(&path)), timeout)
                .await
                .unwrap_or_else(|e| panic!("OVABOOT_TEST_KUBECONFIG: {e}"))
                .client;
            return TestCluster {
                client,
                replay: None,
            };
        }
        tokio::time::pause();
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<TestBody>>();
        let task = tokio::spawn(async move {
            let mut seen: Vec<Seen> = Vec::new();
            for (stage_no, mut stage) in stages.into_iter().enumerate() {
                let mut gathered = std::collections::VecDeque::new();
                if together.contains(&stage_no) {
                    while gathered.len() < stage.len() {
                        match handle.next_request().await {
                            Some(pending) => gathered.push_back(pending),
                            None => panic!(
                                "stage {stage_no}: only {} of {} requests were sent at once",
                                gathered.len(),
                                stage.len()
                            ),
                        }
                    }
                }
                while !stage.is_empty() {
                    let n = seen.len();
                    let next = match gathered.pop_front() {
                        Some(pending) => Some(pending),
                        None => handle.next_request().await,
                    };
                    let Some((req, send)) = next else {
                        let left: Vec<String> = stage
                            .iter()
                            .map(|x| format!("{} {}", x.method, x.path))
                            .collect();
                        panic!("request #{n} never came: expected one of {left:#?}; saw {seen:#?}")
                    };
                    let (parts, body) = req.into_parts();
                    let header = |h: http::header::HeaderName| {
                        parts.headers.get(h).map(|v| v.to_str().unwrap().to_owned())
                    };
                    let (content_type, accept) = (
                        header(http::header::CONTENT_TYPE),
                        header(http::header::ACCEPT),
                    );
                    let got = Seen {
                        method: parts.method.to_string(),
                        path: parts.uri.to_string(),
                        accept: accept.clone(),
                        stage: stage_no,
                    };
                    let Some(at) = stage.iter().position(|x| {
                        x.method == got.method && normalise(&x.path) == normalise(&got.path)
                    }) else {
                        let left: Vec<String> = stage
                            .iter()
                            .map(|x| format!("{} {}", x.method, x.path))
                            .collect();
                        panic!(
                            "request #{n} {} {} out of order: stage {stage_no} still expects {left:#?}; before it: {seen:#?}",
                            got.method, got.path
                        )
                    };
                    let x = stage.remove(at);
                    assert_eq!(
                        content_type, x.content_type,
                        "Content-Type of request #{n} {}",
                        x.path
                    );
                    assert_eq!(accept, x.accept, "Accept of request #{n} {}", x.path);
                    let body = body.collect_bytes().await.unwrap();
                    match &x.body {
                        Some(want) => {
                            let got: Value =
                                serde_json::from_slice(&body).expect("request body is JSON");
                            assert_eq!(&got, want, "body of request #{n} {}", x.path);
                        }
                        None => assert!(body.is_empty(), "request #{n} {} has a body", x.path),
                    }
                    seen.push(got);
                    match x.reply {
                        Reply::Refused => send.send_error(std::io::Error::from(
                            std::io::ErrorKind::ConnectionRefused,
                        )),
                        Reply::Http {
                            status,
                            content_type,
                            headers,
                            body,
                        } => {
                            let mut res = Response::builder()
                                .status(status)
                                .header("Content-Type", content_type);
                            for (k, v) in headers {
                                res = res.header(k, v);
                            }
                            send.send_response(res.body(whole(body)).unwrap());
                        }
                        Reply::Held { body } => {
                            let res = Response::builder()
                                .status(200)
                                .header("Content-Type", "application/json");
                            send.send_response(res.body(held(body)).unwrap());
                        }
                    }
                }
            }
            if let Some((req, _)) = handle.next_request().await {
                panic!(
                    "unexpected request {} {} after the script; saw {seen:#?}",
                    req.method(),
                    req.uri()
                );
            }
            seen
        });
        TestCluster {
            client: Client::new(service, "default"),
            replay: Some(task),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn is_replay(&self) -> bool {
        self.replay.is_some()
    }

    /// Ends the replay: every scripted request was made, nothing more. Returns what
    /// the mock saw (empty on a real cluster). A failed request assertion shows here.
    pub async fn finish(self) -> Vec<Seen> {
        let TestCluster { client, replay } = self;
        drop(client);
        match replay {
            None => Vec::new(),
            Some(task) => match task.await {
                Ok(seen) => seen,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            },
        }
    }

    /// Like `result.unwrap()`, but a mock assertion that failed first is shown instead.
    pub async fn ok<T, E: std::fmt::Display>(&mut self, result: Result<T, E>) -> T {
        match result {
            Ok(v) => v,
            Err(e) => {
                if let Some(task) = self.replay.take_if(|t| t.is_finished())
                    && let Err(join) = task.await
                {
                    std::panic::resume_unwind(join.into_panic());
                }
                panic!("{e}")
            }
        }
    }
}
