//! A counting fake token endpoint and resource server on loopback, for the token lifecycle
//! tests and the benchmark. It rotates refresh tokens strictly, like `oidc-provider`: only the
//! last refresh token issued is accepted, any other is `invalid_grant`.

#![allow(dead_code)] // each test binary uses a part

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::Router;
use grantkit::{AccessToken, Client, Provider, Result, TokenSet, TokenSource};

/// What the token endpoint does with the next refresh requests.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// New access token and a new refresh token each time.
    Rotate,
    /// New access token, no `refresh_token` in the answer.
    KeepRefreshToken,
    /// An OAuth error with this status and code.
    Fail(u16, &'static str),
}

#[derive(Debug)]
pub struct FakeState {
    /// Requests that reached the token endpoint.
    pub token_requests: AtomicUsize,
    /// Requests that reached the resource.
    pub resource_requests: AtomicUsize,
    /// Artificial latency of the token endpoint.
    pub delay: Mutex<Duration>,
    pub behaviour: Mutex<Behaviour>,
    /// `expires_in` of issued access tokens.
    pub expires_in: Mutex<u64>,
    /// The only refresh token accepted (strict rotation); `None` accepts any.
    pub live_refresh_token: Mutex<Option<String>>,
    /// The only access token the resource accepts; `None` accepts any.
    pub valid_access_token: Mutex<Option<String>>,
    /// The resource answers 401 `invalid_token` to every token.
    pub resource_rejects_all: AtomicBool,
    issued: AtomicUsize,
    /// Token answers wait while a test holds this for writing ([`Fake::hold`]).
    pub gate: tokio::sync::RwLock<()>,
}

pub struct Fake {
    pub url: String,
    pub state: Arc<FakeState>,
}

impl Fake {
    pub async fn start() -> Fake {
        let state = Arc::new(FakeState {
            token_requests: AtomicUsize::new(0),
            resource_requests: AtomicUsize::new(0),
            delay: Mutex::new(Duration::ZERO),
            behaviour: Mutex::new(Behaviour::Rotate),
            expires_in: Mutex::new(3600),
            live_refresh_token: Mutex::new(None),
            valid_access_token: Mutex::new(None),
            resource_rejects_all: AtomicBool::new(false),
            issued: AtomicUsize::new(0),
            gate: tokio::sync::RwLock::new(()),
        });
        let app = Router::new()
            .route("/token", post(token))
            .route("/resource", any(resource))
            .route("/resource-plain-401", any(plain_401))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fake { url, state }
    }

    pub fn token_requests(&self) -> usize {
        self.state.token_requests.load(Ordering::SeqCst)
    }

    pub fn resource_requests(&self) -> usize {
        self.state.resource_requests.load(Ordering::SeqCst)
    }

    pub fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.state.behaviour.lock().unwrap() = behaviour;
    }

    pub fn set_live_refresh_token(&self, token: Option<&str>) {
        *self.state.live_refresh_token.lock().unwrap() = token.map(str::to_owned);
    }

    pub fn set_valid_access_token(&self, token: Option<&str>) {
        *self.state.valid_access_token.lock().unwrap() = token.map(str::to_owned);
    }

    pub fn client(&self) -> Client {
        client_for(&self.url)
    }

    /// Holds every token answer (the requests are counted) until the guard is dropped.
    pub async fn hold(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.state.gate.write().await
    }

    pub fn set_expires_in(&self, secs: u64) {
        *self.state.expires_in.lock().unwrap() = secs;
    }

    /// Waits (up to 20 s) until `n` requests reached the token endpoint.
    pub async fn wait_for_token_requests(&self, n: usize) {
        let started = std::time::Instant::now();
        while self.token_requests() < n {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{} token requests after 20 s, expected {n}",
                self.token_requests()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

pub fn client_for(url: &str) -> Client {
    let provider = Provider::builder("fake")
        .token_endpoint(&format!("{url}/token"))
        .build()
        .unwrap();
    Client::builder(provider, "test-client").build().unwrap()
}

/// A token set whose access token expired a minute ago.
pub fn expired(access: &str, refresh: Option<&str>) -> TokenSet {
    tokens_at(
        access,
        refresh,
        10,
        SystemTime::now() - Duration::from_secs(70),
    )
}

/// A token set valid for `secs` seconds from now.
pub fn valid_for(access: &str, refresh: Option<&str>, secs: u64) -> TokenSet {
    tokens_at(access, refresh, secs, SystemTime::now())
}

fn tokens_at(access: &str, refresh: Option<&str>, secs: u64, at: SystemTime) -> TokenSet {
    let mut json =
        serde_json::json!({"access_token": access, "token_type": "Bearer", "expires_in": secs});
    if let Some(r) = refresh {
        json["refresh_token"] = r.into();
    }
    TokenSet::from_response(json.to_string().as_bytes(), at).unwrap()
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn token(
    State(state): State<Arc<FakeState>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    state.token_requests.fetch_add(1, Ordering::SeqCst);
    drop(state.gate.read().await);
    let delay = *state.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let behaviour = state.behaviour.lock().unwrap().clone();
    if let Behaviour::Fail(status, code) = behaviour {
        return json(
            StatusCode::from_u16(status).unwrap(),
            serde_json::json!({"error": code, "error_description": "the fake says no"}),
        );
    }
    if form.get("grant_type").map(String::as_str) != Some("refresh_token") {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "unsupported_grant_type"}),
        );
    }
    let presented = form.get("refresh_token").cloned().unwrap_or_default();
    let n = state.issued.fetch_add(1, Ordering::SeqCst) + 1;
    let access = format!("at-{n}");
    let mut body = serde_json::json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": *state.expires_in.lock().unwrap(),
    });
    {
        let mut live = state.live_refresh_token.lock().unwrap();
        if live.as_ref().is_some_and(|l| *l != presented) {
            return json(
                StatusCode::BAD_REQUEST,
                serde_json::json!({"error": "invalid_grant", "error_description": "refresh token already used"}),
            );
        }
        if matches!(behaviour, Behaviour::Rotate) {
            let refresh = format!("rt-{n}");
            body["refresh_token"] = refresh.clone().into();
            if live.is_some() {
                *live = Some(refresh);
            }
        }
    }
    *state.valid_access_token.lock().unwrap() = Some(access);
    json(StatusCode::OK, body)
}

/// Echoes the `Authorization` header and the body; 401 `invalid_token` for any access token but
/// the valid one.
async fn resource(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    state.resource_requests.fetch_add(1, Ordering::SeqCst);
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let valid = state.valid_access_token.lock().unwrap().clone();
    let rejects_all = state.resource_rejects_all.load(Ordering::SeqCst);
    let accepted = match valid {
        Some(valid) => auth == format!("Bearer {valid}"),
        None => true,
    };
    if rejects_all || !accepted {
        return (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                r#"Bearer realm="fake", error="invalid_token", error_description="the token is revoked""#,
            )],
            "",
        )
            .into_response();
    }
    json(
        StatusCode::OK,
        serde_json::json!({"authorization": auth, "body": body}),
    )
}

async fn plain_401(State(state): State<Arc<FakeState>>) -> Response {
    state.resource_requests.fetch_add(1, Ordering::SeqCst);
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, r#"Bearer realm="fake""#)],
        "",
    )
        .into_response()
}

/// Starts `n` tasks that all call `access_token()` at once (after a barrier); their results in
/// order.
pub async fn concurrent_calls(source: &TokenSource, n: usize) -> Vec<Result<AccessToken>> {
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (source, barrier) = (source.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                source.access_token().await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for h in handles {
        out.push(h.await.expect("task panicked"));
    }
    out
}

/// Polls a future once (benchmarks): the fresh path must be ready at once.
pub fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("access_token() waited on the fresh path"),
    }
}

/// The `p` quantile of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
