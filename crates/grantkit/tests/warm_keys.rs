//! The provider's signing keys (and its discovery document) stay warm and survive an outage
//! of their endpoint (docs/oidc.md, "Keys and metadata kept warm"):
//! one fetch for any number of concurrent validations, refresh ahead of expiry, the last good
//! key set served while the endpoint fails, a bounded retry rate, and a cold login that fetches
//! the keys while it exchanges the code. Every claim is proven by counting the requests a small
//! OpenID Provider on loopback receives, never by timing a call. Lifetimes are scaled down
//! (a 5-minute key lifetime becomes 100-400 ms) so an outage of ten lifetimes takes a second.

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use grantkit::oidc::{Discovery, IdTokenError, JwksOptions};
use grantkit::{Client, Error, Provider, Secret};
use serde_json::{json, Value};

mod support;
use fixture_keys::{now, sign};
use support::fixture_keys;

const CLIENT_ID: &str = "warm-client";

#[derive(Clone)]
struct Op {
    base: String,
    kids: Arc<Mutex<Vec<&'static str>>>,
    jwks_status: Arc<AtomicU16>,
    jwks_delay: Duration,
    /// Held permits block JWKS answers (the key set is chosen when the request arrives).
    jwks_gate: Arc<tokio::sync::Semaphore>,
    jwks_fetches: Arc<AtomicUsize>,
    jwks_answered: Arc<AtomicUsize>,
    id_token: Arc<Mutex<String>>,
    /// Whether a JWKS request arrived while a token request was being answered.
    jwks_during_exchange: Arc<AtomicBool>,
    discovery_status: Arc<AtomicU16>,
    discovery_fetches: Arc<AtomicUsize>,
}

const GATE: u32 = 1 << 20;

async fn start_op(kids: &[&'static str], jwks_delay: Duration) -> Op {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let op = Op {
        base: format!("http://{}", listener.local_addr().unwrap()),
        kids: Arc::new(Mutex::new(kids.to_vec())),
        jwks_status: Arc::new(AtomicU16::new(200)),
        jwks_delay,
        jwks_gate: Arc::new(tokio::sync::Semaphore::new(GATE as usize)),
        jwks_fetches: Arc::new(AtomicUsize::new(0)),
        jwks_answered: Arc::new(AtomicUsize::new(0)),
        id_token: Arc::new(Mutex::new(String::new())),
        jwks_during_exchange: Arc::new(AtomicBool::new(false)),
        discovery_status: Arc::new(AtomicU16::new(200)),
        discovery_fetches: Arc::new(AtomicUsize::new(0)),
    };
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/token", post(token))
        .with_state(op.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    op
}

async fn discovery(State(op): State<Op>) -> Response {
    op.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(op.jwks_delay).await;
    let status = op.discovery_status.load(Ordering::SeqCst);
    if status != 200 {
        return (StatusCode::from_u16(status).unwrap(), "down").into_response();
    }
    let b = &op.base;
    Json(json!({
        "issuer": b,
        "authorization_endpoint": format!("{b}/authorize"),
        "token_endpoint": format!("{b}/token"),
        "jwks_uri": format!("{b}/jwks"),
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}

async fn jwks(State(op): State<Op>) -> Response {
    op.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let kids = op.kids.lock().unwrap().clone();
    let status = op.jwks_status.load(Ordering::SeqCst);
    let _pass = op.jwks_gate.acquire().await.unwrap();
    tokio::time::sleep(op.jwks_delay).await;
    op.jwks_answered.fetch_add(1, Ordering::SeqCst);
    if status != 200 {
        return (StatusCode::from_u16(status).unwrap(), "JWKS backend down").into_response();
    }
    Json(fixture_keys::jwks(&kids)).into_response()
}

/// Answers the code exchange, but first waits (a bounded time) for the client's JWKS request:
/// a client that fetches the keys only after the exchange makes this wait run out.
async fn token(State(op): State<Op>) -> Json<Value> {
    for _ in 0..400 {
        if op.jwks_fetches.load(Ordering::SeqCst) > 0 {
            op.jwks_during_exchange.store(true, Ordering::SeqCst);
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let id_token = op.id_token.lock().unwrap().clone();
    Json(
        json!({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token}),
    )
}

fn provider(op: &Op) -> Provider {
    Provider::builder("warm-op")
        .issuer(op.base.clone())
        .authorization_endpoint(&format!("{}/authorize", op.base))
        .token_endpoint(&format!("{}/token", op.base))
        .jwks_uri(&format!("{}/jwks", op.base))
        .build()
        .unwrap()
}

fn client(op: &Op, options: JwksOptions) -> Client {
    Client::builder(provider(op), CLIENT_ID)
        .jwks_options(options)
        .build()
        .unwrap()
}

fn options(ttl_ms: u64) -> JwksOptions {
    JwksOptions {
        ttl: Duration::from_millis(ttl_ms),
        retry_min: Duration::from_millis(50),
        retry_max: Duration::from_millis(200),
        ..JwksOptions::default()
    }
}

fn id_token(op: &Op, kid: &str) -> Secret {
    Secret::new(sign(
        kid,
        true,
        &json!({"iss": op.base, "sub": "user-1", "aud": CLIENT_ID, "iat": now(), "exp": now() + 300}),
    ))
}

/// A validation that waits on a held fetch would hang: fail the test instead of waiting long.
async fn validate(client: &Client, token: &Secret) -> grantkit::Result<()> {
    tokio::time::timeout(Duration::from_secs(5), client.verify_id_token(token, None))
        .await
        .expect("a validation waited on the JWKS endpoint")
        .map(drop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_validations_on_a_cold_cache_fetch_the_jwks_once() {
    // A remote provider's JWKS answers in about 20 ms: plenty of time for 200 callers to miss.
    let op = start_op(&["rsa-1"], Duration::from_millis(20)).await;
    let client = client(&op, JwksOptions::default());
    let token = id_token(&op, "rsa-1");
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (client, token) = (client.clone(), token.clone());
            tokio::spawn(async move { client.verify_id_token(&token, None).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(op.jwks_fetches.load(Ordering::SeqCst), 1);
    assert_eq!(client.jwks_fetch_count(), 1);
}

#[tokio::test]
async fn a_failing_jwks_is_asked_at_a_bounded_rate_not_once_per_validation() {
    let op = start_op(&["rsa-1"], Duration::ZERO).await;
    op.jwks_status.store(500, Ordering::SeqCst);
    let client = client(&op, JwksOptions::default()); // backoff from 1 s
    let token = id_token(&op, "rsa-1");
    for _ in 0..200 {
        let err = validate(&client, &token).await.unwrap_err();
        assert!(matches!(err, Error::Http { status: 500, .. }), "{err:?}");
    }
    assert_eq!(
        op.jwks_fetches.load(Ordering::SeqCst),
        1,
        "the failure is remembered for the backoff, not fetched again per validation"
    );
}

#[tokio::test]
async fn a_jwks_outage_ten_lifetimes_long_logs_nobody_out() {
    let op = start_op(&["rsa-1"], Duration::ZERO).await;
    let client = client(&op, options(100));
    let token = id_token(&op, "rsa-1");
    validate(&client, &token).await.unwrap();
    op.jwks_status.store(503, Ordering::SeqCst);
    let outage_start = op.jwks_fetches.load(Ordering::SeqCst);
    // Ten key lifetimes of outage, validating all along: every token signed by a known key
    // still validates with the last good key set.
    for _ in 0..200 {
        validate(&client, &token).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let during = op.jwks_fetches.load(Ordering::SeqCst) - outage_start;
    // Backoff 50, 100, 200, 200... ms over >= 1 s: a handful of attempts, never 200.
    assert!(
        (1..=12).contains(&during),
        "{during} JWKS requests during the outage"
    );
    // A key the last good set does not hold is still refused, with a typed error.
    let unknown = id_token(&op, "rsa-2");
    let err = validate(&client, &unknown).await.unwrap_err();
    assert!(
        matches!(err, Error::IdToken(IdTokenError::UnknownKey { .. })),
        "{err:?}"
    );
    // The endpoint recovers: the next refresh lands, validations go on.
    op.jwks_status.store(200, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    validate(&client, &token).await.unwrap();
}

#[tokio::test]
async fn a_jwks_outage_longer_than_max_stale_is_an_error() {
    let op = start_op(&["rsa-1"], Duration::ZERO).await;
    let client = client(
        &op,
        JwksOptions {
            max_stale: Duration::from_millis(300),
            ..options(100)
        },
    );
    let token = id_token(&op, "rsa-1");
    validate(&client, &token).await.unwrap();
    op.jwks_status.store(500, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(150)).await;
    validate(&client, &token).await.unwrap(); // stale, within the bound
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut refused = false;
    for _ in 0..40 {
        if validate(&client, &token).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "keys older than max_stale were still trusted");
}

#[tokio::test]
async fn keys_are_refreshed_ahead_so_no_validation_waits_for_a_fetch() {
    let op = start_op(&["rsa-1"], Duration::ZERO).await;
    let client = client(&op, options(1200));
    let token = id_token(&op, "rsa-1");
    validate(&client, &token).await.unwrap();
    // From now on the JWKS endpoint holds every answer: a validation waiting for it hangs.
    let held = op.jwks_gate.acquire_many(GATE).await.unwrap();
    op.kids.lock().unwrap().push("rsa-2"); // the provider adds a key
    tokio::time::sleep(Duration::from_millis(1000)).await; // in the last quarter (from 900 ms)
    for _ in 0..50 {
        validate(&client, &token).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(400)).await; // past the lifetime, refresh held
    for _ in 0..50 {
        validate(&client, &token).await.unwrap();
    }
    assert_eq!(
        op.jwks_fetches.load(Ordering::SeqCst),
        2,
        "one background refresh, started ahead of expiry"
    );
    drop(held);
    // The refresh lands: the new key validates without any further fetch.
    while op.jwks_answered.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await; // the client reads the answer
    let rotated = id_token(&op, "rsa-2");
    validate(&client, &rotated).await.unwrap();
    assert_eq!(op.jwks_fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_fetch_in_flight_with_the_old_keys_never_hides_a_rotation() {
    let op = start_op(&["rsa-1"], Duration::ZERO).await;
    let client = client(&op, options(1200));
    let token = id_token(&op, "rsa-1");
    validate(&client, &token).await.unwrap();
    let held = op.jwks_gate.acquire_many(GATE).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await; // in the last quarter (from 900 ms)
    validate(&client, &token).await.unwrap(); // starts the background refresh: old keys
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(op.jwks_fetches.load(Ordering::SeqCst), 2);
    // The provider rotates while that fetch is in flight.
    *op.kids.lock().unwrap() = vec!["rsa-2"];
    let rotated = id_token(&op, "rsa-2");
    let waiting = {
        let (client, rotated) = (client.clone(), rotated.clone());
        tokio::spawn(async move { client.verify_id_token(&rotated, None).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(held);
    // The unknown kid waits for the in-flight fetch (old keys), then fetches once more.
    waiting.await.unwrap().unwrap();
    assert_eq!(op.jwks_fetches.load(Ordering::SeqCst), 3);
    // The newer set stays: no older set was installed over it.
    validate(&client, &rotated).await.unwrap();
    assert_eq!(op.jwks_fetches.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_cold_login_fetches_the_keys_while_the_code_is_exchanged() {
    let op = start_op(&["rsa-1"], Duration::from_millis(20)).await;
    let provider = Discovery::new(&op.base).fetch().await.unwrap();
    let client = Client::builder(provider, CLIENT_ID)
        .redirect_uri("http://127.0.0.1/callback")
        .scopes(["openid"])
        .build()
        .unwrap();
    let (_, pending) = client.authorize().build().unwrap();
    let nonce = pending.nonce().unwrap().expose().to_owned();
    *op.id_token.lock().unwrap() = sign(
        "rsa-1",
        true,
        &json!({"iss": op.base, "sub": "user-1", "aud": CLIENT_ID, "iat": now(),
                "exp": now() + 300, "nonce": nonce}),
    );
    let callback = format!("?code=c&state={}&iss={}", pending.state().expose(), op.base);
    let code = pending.verify_callback(&callback).unwrap();
    let tokens = client.exchange_code(code).await.unwrap();
    assert_eq!(tokens.id_token_claims().unwrap().sub, "user-1");
    // Discovery, then the exchange and the key fetch side by side: two sequential round trips.
    assert!(
        op.jwks_during_exchange.load(Ordering::SeqCst),
        "the JWKS was fetched only after the code exchange"
    );
    assert_eq!(op.jwks_fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_discoveries_fetch_the_document_once() {
    let op = start_op(&["rsa-1"], Duration::from_millis(20)).await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let base = op.base.clone();
            tokio::spawn(async move { Discovery::new(base).metadata().await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().issuer, op.base);
    }
    assert_eq!(op.discovery_fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_discovery_outage_serves_the_last_good_document() {
    let op = start_op(&["rsa-1"], Duration::ZERO).await;
    let discovery = || Discovery::new(op.base.clone()).cache_ttl(Duration::from_millis(100));
    discovery().metadata().await.unwrap();
    op.discovery_status.store(502, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(150)).await;
    for _ in 0..100 {
        let provider = discovery().fetch().await.unwrap();
        assert_eq!(provider.issuer(), Some(op.base.as_str()));
    }
    let asked = op.discovery_fetches.load(Ordering::SeqCst);
    assert!(
        (2..=3).contains(&asked),
        "{asked} discovery requests: one good, then one failed and the backoff"
    );
}

#[tokio::test]
async fn discoveries_with_other_settings_do_not_share_a_cache_entry() {
    // One process, two configurations of the same issuer: each gets its own fetch and policy,
    // instead of whichever came first deciding for both.
    let op = start_op(&["rsa-1"], Duration::ZERO).await;
    Discovery::new(op.base.clone()).metadata().await.unwrap();
    Discovery::new(op.base.clone())
        .cache_ttl(Duration::from_secs(60))
        .metadata()
        .await
        .unwrap();
    Discovery::new(op.base.clone()).metadata().await.unwrap();
    assert_eq!(op.discovery_fetches.load(Ordering::SeqCst), 2);
}
