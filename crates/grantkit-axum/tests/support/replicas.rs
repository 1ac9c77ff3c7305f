//! Replicas of `examples/spa-bff` as OS processes (this test binary re-run through its
//! `child_replica` test), and the load balancer the browser talks to in front of them.
//!
//! Why a balancer: cookies are not isolated by port (RFC 6265 §8.5), so Chromium would send
//! the `__Host-` cookie of `127.0.0.1:A` to `127.0.0.1:B` too; but the redirect URI, the
//! provider's registered origins and the browser's same-origin rules are per origin (scheme,
//! host and port). Production puts replicas behind one origin; so does this test, and it picks
//! which replica serves each request.

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::Response;
use axum::Router;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

use super::REPLICA_ROLE;

/// One app process.
pub struct Replica {
    pub pid: u32,
    /// `127.0.0.1:PORT`.
    pub address: String,
    _child: Child,
    // Kept open: the child's stdout must not break under it.
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl Replica {
    /// Starts a replica with `env` and waits until it listens.
    pub async fn start(env: &[(&str, &str)]) -> Self {
        let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_replica",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(REPLICA_ROLE, "1")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let listening = async {
            while let Some(line) = lines.next_line().await.unwrap() {
                // After libtest's "test child_replica ... " on the same line.
                if let Some((_, address)) = line.split_once("SPA_BFF_LISTENING=") {
                    return address.trim().to_owned();
                }
            }
            panic!("replica {pid} ended before it listened");
        };
        let address = tokio::time::timeout(Duration::from_secs(60), listening)
            .await
            .unwrap_or_else(|_| panic!("replica {pid} did not listen within 60 s"));
        Self {
            pid,
            address,
            _child: child,
            _stdout: lines,
        }
    }
}

/// One request as the balancer passed it on.
#[derive(Clone, Debug)]
pub struct Served {
    /// Which replica (index) answered.
    pub replica: usize,
    pub method: String,
    /// Path and query.
    pub path: String,
    pub status: u16,
}

impl Served {
    /// Whether replica `replica` answered `"METHOD /path"` with `status`.
    pub fn is(&self, replica: usize, request: &str, status: u16) -> bool {
        let (method, path) = request.split_once(' ').unwrap();
        self.replica == replica
            && self.method == method
            && self.path == path
            && self.status == status
    }
}

/// The origin the browser and the provider see; every request goes to the replica chosen
/// with [`Front::route_to`].
#[derive(Clone)]
pub struct Front {
    pub origin: String,
    replicas: Arc<Mutex<Vec<String>>>,
    target: Arc<AtomicUsize>,
    served: Arc<Mutex<Vec<Served>>>,
    http: reqwest::Client,
}

/// Hop-by-hop and length headers: each side of the balancer sets its own.
const NOT_PASSED: [header::HeaderName; 4] = [
    header::HOST,
    header::CONNECTION,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
];

impl Front {
    /// Listens on 127.0.0.1:0 (replicas are set later: they need this origin first).
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let front = Self {
            origin: format!("http://{}", listener.local_addr().unwrap()),
            replicas: Arc::default(),
            target: Arc::default(),
            served: Arc::default(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        };
        let app = Router::new().fallback(pass).with_state(front.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        front
    }

    pub fn set_replicas(&self, addresses: Vec<String>) {
        *self.replicas.lock().unwrap() = addresses;
    }

    /// Sends every request from now on to replica `index`.
    pub fn route_to(&self, index: usize) {
        self.target.store(index, Ordering::SeqCst);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// The requests passed on, from the `from`-th on.
    pub fn served_since(&self, from: usize) -> Vec<Served> {
        self.served.lock().unwrap()[from..].to_vec()
    }
}

async fn pass(State(front): State<Front>, request: Request) -> Response {
    let replica = front.target.load(Ordering::SeqCst);
    let address = front.replicas.lock().unwrap()[replica].clone();
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let body = to_bytes(body, 1 << 20).await.unwrap();
    let mut outgoing = front
        .http
        .request(parts.method.clone(), format!("http://{address}{path}"))
        .body(body);
    for (name, value) in &parts.headers {
        if !NOT_PASSED.contains(name) {
            outgoing = outgoing.header(name, value);
        }
    }
    let answer = outgoing.send().await.unwrap();
    front.served.lock().unwrap().push(Served {
        replica,
        method: parts.method.to_string(),
        path: path.to_owned(),
        status: answer.status().as_u16(),
    });
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !NOT_PASSED.contains(name) {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.unwrap();
    response.body(Body::from(bytes)).unwrap()
}
