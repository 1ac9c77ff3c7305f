//! What the session layer costs on an authenticated request: a bare axum handler against the
//! same handler behind `Grantkit::attach` taking `CurrentUser` and `FreshToken` (a session
//! lookup, its digest, the user's token source, a fresh token), both over HTTP on loopback
//! with one keep-alive client. Criterion measures each; then a ratio of the medians of
//! interleaved rounds, printed.
//!
//! Run: `cargo bench -p grantkit-axum --bench session_layer` (about 15 s).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::routing::get;
use axum::Router;
use criterion::Criterion;
use grantkit::store::{BoxFuture, MemoryTokenStore, TokenStore};
use grantkit::{Client, Provider};
use grantkit_axum::{
    CurrentUser, FreshToken, Grantkit, Session, SessionError, SessionIndex, SessionStore, User,
};
use grantkit_testkit::measure::{micros, percentile};
use grantkit_testkit::token_endpoint::valid_for;

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

async fn apps() -> (String, String) {
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
    let session = Session {
        created_at: now,
        last_seen: now,
        user: Some(User {
            subject: "alice".into(),
            sid: None,
            claims: Default::default(),
            login_id: "l".into(),
        }),
        ..Session::default()
    };
    let gk = Grantkit::builder(client)
        .session_store(OneSession(session))
        .token_stores(move |_| Arc::new(tokens.clone()) as Arc<dyn TokenStore>)
        .build();
    let bare = Router::new().route("/api", get(|| async { "ok" }));
    let handler = |CurrentUser(_): CurrentUser, FreshToken(_): FreshToken| async { "ok" };
    let layered = gk.attach(Router::new().route("/api", get(handler)));
    (serve(bare).await, serve(layered).await)
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

/// Median per-request time of `rounds` rounds of `per_round` requests to each URL, in turn.
async fn interleaved(
    http: &reqwest::Client,
    urls: [&str; 2],
    rounds: usize,
    per_round: usize,
) -> [Duration; 2] {
    let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..rounds {
        for (i, url) in urls.iter().enumerate() {
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
    let (bare, layered) = rt.block_on(apps());
    let http = reqwest::Client::new();
    let mut c = Criterion::default().configure_from_args();
    for (name, url) in [("bare", &bare), ("session_layer", &layered)] {
        c.bench_function(&format!("authenticated_request/{name}"), |b| {
            b.iter(|| rt.block_on(call(&http, url)))
        });
    }
    let [plain, with_session] = rt.block_on(interleaved(
        &http,
        [bare.as_str(), layered.as_str()],
        40,
        200,
    ));
    println!(
        "authenticated request over loopback: bare {:.1} µs, with the session layer {:.1} µs, ratio {:.3} ({:+.1}%)",
        micros(plain),
        micros(with_session),
        micros(with_session) / micros(plain),
        (micros(with_session) / micros(plain) - 1.0) * 100.0
    );
    c.final_summary();
}
