//! A counting fake token endpoint and resource server on loopback, for token lifecycle tests
//! and benchmarks: grantkit's own, a token store's contract ([`crate::store_contract`]) and an
//! application's. It rotates refresh tokens strictly, like `oidc-provider`: only the last
//! refresh token issued is accepted, any other is `invalid_grant`, so a second refresh of the
//! same expiry shows up as an error instead of passing unseen.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
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

/// The fake's counters and settings, shared with its handlers.
#[derive(Debug)]
pub struct FakeState {
    /// Requests that reached the token endpoint.
    pub token_requests: AtomicUsize,
    /// Requests that reached the resource.
    pub resource_requests: AtomicUsize,
    /// Artificial latency of the token endpoint.
    pub delay: Mutex<Duration>,
    /// What the token endpoint does with the next refresh requests.
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
    /// Token answers wait while a test holds this for writing ([`FakeTokenEndpoint::hold`]).
    pub gate: tokio::sync::RwLock<()>,
}

/// The running fake: `POST {url}/token` (refresh grant only), `{url}/resource` (echoes the
/// `Authorization` header and the body as JSON; 401 `invalid_token` for any access token but
/// the last one issued) and `{url}/resource-plain-401` (401 without an error code).
#[derive(Debug)]
pub struct FakeTokenEndpoint {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Counters and settings.
    pub state: Arc<FakeState>,
}

impl FakeTokenEndpoint {
    /// Binds `127.0.0.1:0` and serves the fake on the current runtime until the process ends.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound (a test without a port cannot run anyway).
    pub async fn start() -> FakeTokenEndpoint {
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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for the fake token endpoint");
        let url = format!(
            "http://{}",
            listener
                .local_addr()
                .expect("a bound listener has an address")
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeTokenEndpoint { url, state }
    }

    /// Requests that reached the token endpoint so far.
    pub fn token_requests(&self) -> usize {
        self.state.token_requests.load(Ordering::SeqCst)
    }

    /// Requests that reached the resource so far.
    pub fn resource_requests(&self) -> usize {
        self.state.resource_requests.load(Ordering::SeqCst)
    }

    /// Delays every token answer by `delay` (so that concurrent callers overlap).
    pub fn set_delay(&self, delay: Duration) {
        *self
            .state
            .delay
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = delay;
    }

    /// What the token endpoint does with the next refresh requests.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self
            .state
            .behaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = behaviour;
    }

    /// The only refresh token accepted from now on (`None`: any); rotated on every refresh.
    pub fn set_live_refresh_token(&self, token: Option<&str>) {
        *self
            .state
            .live_refresh_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = token.map(str::to_owned);
    }

    /// The only access token the resource accepts (`None`: any).
    pub fn set_valid_access_token(&self, token: Option<&str>) {
        *self
            .state
            .valid_access_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = token.map(str::to_owned);
    }

    /// A public grantkit client (`test-client`) of this fake.
    pub fn client(&self) -> Client {
        client_for(&self.url)
    }

    /// Holds every token answer (the requests are counted) until the guard is dropped.
    pub async fn hold(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.state.gate.write().await
    }

    /// The `expires_in` of the access tokens issued from now on.
    pub fn set_expires_in(&self, secs: u64) {
        *self
            .state
            .expires_in
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = secs;
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

/// A public grantkit client (`test-client`) of the fake at `url` (what a child process builds
/// from the URL it was given).
///
/// # Panics
///
/// When `url` is not an `http://` URL grantkit accepts for a loopback token endpoint.
pub fn client_for(url: &str) -> Client {
    let provider = Provider::builder("fake")
        .token_endpoint(&format!("{url}/token"))
        .build()
        .expect("the fake's URL is a loopback http URL");
    Client::builder(provider, "test-client")
        .build()
        .expect("a client of a provider with a token endpoint")
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
    // Built from a response so that `expires_at` is `at + secs`, as after a real exchange.
    let mut json =
        serde_json::json!({"access_token": access, "token_type": "Bearer", "expires_in": secs});
    if let Some(r) = refresh {
        json["refresh_token"] = r.into();
    }
    TokenSet::from_response(json.to_string().as_bytes(), at).expect("a valid token response")
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
    let delay = *state.delay.lock().unwrap_or_else(PoisonError::into_inner);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let behaviour = state
        .behaviour
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    if let Behaviour::Fail(status, code) = behaviour {
        return json(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
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
        "expires_in": *state.expires_in.lock().unwrap_or_else(PoisonError::into_inner),
    });
    {
        let mut live = state
            .live_refresh_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
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
    *state
        .valid_access_token
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(access);
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
    let valid = state
        .valid_access_token
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
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
