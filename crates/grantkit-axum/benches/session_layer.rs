//! What the session layer costs on an authenticated request: a bare axum handler against the
//! same handler behind `Grantkit::attach` taking `CurrentUser` and `FreshToken` (a session
//! lookup, its digest, the user's token source, a fresh token), both over HTTP on loopback
//! with one keep-alive client. Criterion measures each; then a ratio of the medians of
//! interleaved rounds, printed, with two more servers in the same rounds: a second bare one
//! (the A/A control) and a public route behind the layer that asks for no user (what the
//! layer costs a route that does not use it).
//!
//! Run: `cargo bench -p grantkit-axum --bench session_layer` (about 25 s). The ratio is the
//! figure to quote: criterion's two estimates come from different moments of a shared machine.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::routing::get;
use axum::Router;
use criterion::Criterion;
use grantkit::store::{BoxFuture, MemoryTokenStore, TokenStore};
use grantkit::{Client, Provider};
use grantkit_axum::{
    CurrentUser, FreshToken, Grantkit, Session, SessionError, SessionIndex, SessionStore,
};
use grantkit_testkit::measure::{micros, percentile};
use grantkit_testkit::session_contract::signed_in;
use grantkit_testkit::token_endpoint::valid_for;
use tower::ServiceExt;

/// Every key holds alice's session: the bench measures the layer, not a store.
struct OneSession(Session);

impl SessionStore for OneSession {
    fn load<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Option<Session>, SessionError>> {
        let session = self.0.clone();
        Box::pin(async move { Ok(Some(session)) })
    }
    fn save<'a>(
        &'a self,
        _: &'a str,
        _: &'a Session,
        _: SystemTime,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(async { Ok(()) })
    }
    fn delete<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(async { Ok(()) })
    }
    fn find<'a>(&'a self, _: &'a SessionIndex) -> BoxFuture<'a, Result<Vec<String>, SessionError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// The bare app, the same handler behind the session layer, and a public route (no
/// extractor) behind the layer.
async fn apps() -> (Router, Router, Router) {
    let provider = Provider::builder("bench")
        .token_endpoint("http://127.0.0.1:9/token")
        .build()
        .unwrap();
    let client = Client::builder(provider, "bench").build().unwrap();
    let tokens = MemoryTokenStore::new();
    tokens
        .save(&valid_for("at", Some("rt"), 3600))
        .await
        .unwrap();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut session = signed_in("alice", "s1");
    session.created_at = now;
    session.last_seen = now;
    let gk = Grantkit::builder(client)
        .session_store(OneSession(session))
        .token_stores(move |_| Arc::new(tokens.clone()) as Arc<dyn TokenStore>)
        .build()
        .unwrap();
    let bare = Router::new().route("/api", get(|| async { "ok" }));
    let handler = |CurrentUser(_): CurrentUser, FreshToken(_): FreshToken| async { "ok" };
    let layered = gk.attach(Router::new().route("/api", get(handler)));
    let public = gk.attach(Router::new().route("/api", get(|| async { "ok" })));
    (bare, layered, public)
}

/// One request straight into `app` (no network): the CPU the layer adds, alone.
async fn in_process(app: &Router) {
    let request = axum::http::Request::get("/api")
        .header("cookie", "__Host-grantkit=bench")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
}

async fn call(http: &reqwest::Client, url: &str) {
    let response = http
        .get(url)
        .header("cookie", "__Host-grantkit=bench")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap();
}

/// The ratio's sample: 60 rotating rounds of 500 requests to each of four servers (120 000
/// requests, about 10 s). Fewer rounds (the first figures had 40 × 200) let the load of a shared machine move
/// the median by more than the 5 % being measured.
const ROUNDS: usize = 60;
const PER_ROUND: usize = 500;

/// Median per-request time of `rounds` rounds of `per_round` requests to each URL, in turn;
/// the order rotates every round, so that no URL always runs first (or after the same one).
async fn interleaved<const N: usize>(
    http: &reqwest::Client,
    urls: [&str; N],
    rounds: usize,
    per_round: usize,
) -> [Duration; N] {
    let mut times: [Vec<Duration>; N] = std::array::from_fn(|_| Vec::new());
    for round in 0..rounds {
        for i in (0..N).map(|k| (k + round) % N) {
            let url = urls[i];
            let start = Instant::now();
            for _ in 0..per_round {
                call(http, url).await;
            }
            times[i].push(start.elapsed() / per_round as u32);
        }
    }
    times.map(|mut t| {
        t.sort();
        percentile(&t, 0.5)
    })
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (bare_app, layered_app, public_app) = rt.block_on(apps());
    // A second, identical bare server: the A/A control, what the harness alone makes of two
    // equal servers (its bias and noise floor), printed beside the ratio.
    let (bare, control, layered, public) = rt.block_on(async {
        (
            serve(bare_app.clone()).await,
            serve(bare_app.clone()).await,
            serve(layered_app.clone()).await,
            serve(public_app).await,
        )
    });
    let http = reqwest::Client::new();
    let mut c = Criterion::default().configure_from_args();
    for (name, app) in [("bare", &bare_app), ("session_layer", &layered_app)] {
        c.bench_function(&format!("in_process/{name}"), |b| {
            b.iter(|| rt.block_on(in_process(app)))
        });
    }
    for (name, url) in [("bare", &bare), ("session_layer", &layered)] {
        c.bench_function(&format!("authenticated_request/{name}"), |b| {
            b.iter(|| rt.block_on(call(&http, url)))
        });
    }
    let [plain, again, with_session, unused] = rt.block_on(interleaved(
        &http,
        [
            bare.as_str(),
            control.as_str(),
            layered.as_str(),
            public.as_str(),
        ],
        ROUNDS,
        PER_ROUND,
    ));
    let percent = |t: Duration| (micros(t) / micros(plain) - 1.0) * 100.0;
    println!(
        "authenticated request over loopback: bare {:.1} µs, with the session layer {:.1} µs, ratio {:.3} ({:+.1}%); A/A control: a second bare server {:+.1}%; a public route behind the layer {:+.1}%",
        micros(plain),
        micros(with_session),
        micros(with_session) / micros(plain),
        percent(with_session),
        percent(again),
        percent(unused),
    );
    c.final_summary();
}
