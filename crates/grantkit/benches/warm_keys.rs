//! Does any ID-token validation wait on the provider once the keys are warm?
//!
//! A JWKS endpoint on loopback that adds 20 ms to every answer (a remote provider), a client
//! whose keys live `KEY_LIFETIME`, and `TASKS` tasks validating tokens without pause for
//! `RUN` (so the load crosses about 25 key lifetimes). Two runs side by side in one process:
//!
//! - **floor**: the same load with a key lifetime longer than the run (never refreshed);
//! - **crossing lifetimes**: the keys expire every `KEY_LIFETIME` and are refreshed ahead.
//!
//! Printed: p50, p99 and max of one validation, the ratio of each to the floor, and the JWKS
//! requests made (the target: p99 in microseconds, about one request per lifetime). Then
//! criterion measures the mean of one validation on a warm cache, for the record.
//!
//! Run: `cargo bench -p grantkit --bench warm_keys` (about 15 s).

#[path = "../tests/support/fixture_keys.rs"]
mod fixture_keys;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use criterion::Criterion;
use grantkit::oidc::JwksOptions;
use grantkit::{Client, Provider, Secret};
use grantkit_testkit::measure::{micros, percentile};
use serde_json::{json, Value};

const KEY_LIFETIME: Duration = Duration::from_millis(200);
const RUN: Duration = Duration::from_secs(5);
const TASKS: usize = 8;
const PROVIDER_DELAY: Duration = Duration::from_millis(20);
const CLIENT_ID: &str = "bench-client";

struct Jwks {
    requests: AtomicUsize,
}

async fn jwks(State(state): State<Arc<Jwks>>) -> Json<Value> {
    state.requests.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(PROVIDER_DELAY).await;
    Json(fixture_keys::jwks(&["rsa-1"]))
}

async fn start_jwks() -> (String, Arc<Jwks>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(Jwks {
        requests: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/jwks", get(jwks))
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, state)
}

fn client(base: &str, ttl: Duration) -> Client {
    let provider = Provider::builder("bench")
        .issuer(base.to_owned())
        .token_endpoint(&format!("{base}/token"))
        .jwks_uri(&format!("{base}/jwks"))
        .build()
        .unwrap();
    Client::builder(provider, CLIENT_ID)
        .jwks_options(JwksOptions {
            ttl,
            ..JwksOptions::default()
        })
        .build()
        .unwrap()
}

fn token(base: &str) -> Secret {
    let now = fixture_keys::now();
    Secret::new(fixture_keys::sign(
        "rsa-1",
        true,
        &json!({"iss": base, "sub": "u", "aud": CLIENT_ID, "iat": now, "exp": now + 3600}),
    ))
}

struct Figures {
    latencies: Vec<Duration>,
    requests: usize,
}

/// `TASKS` tasks validating for `RUN` after one warm-up validation; every latency recorded.
async fn steady_load(ttl: Duration) -> Figures {
    let (base, jwks) = start_jwks().await;
    let client = client(&base, ttl);
    let token = token(&base);
    client.verify_id_token(&token, None).await.unwrap();
    let before = jwks.requests.load(Ordering::Relaxed);
    let until = Instant::now() + RUN;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (client, token) = (client.clone(), token.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(100_000);
                while Instant::now() < until {
                    let start = Instant::now();
                    client.verify_id_token(&token, None).await.unwrap();
                    latencies.push(start.elapsed());
                    tokio::task::yield_now().await;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    latencies.sort_unstable();
    Figures {
        latencies,
        requests: jwks.requests.load(Ordering::Relaxed) - before,
    }
}

fn report(rt: &tokio::runtime::Runtime) {
    let floor = rt.block_on(steady_load(Duration::from_secs(3600)));
    let crossing = rt.block_on(steady_load(KEY_LIFETIME));
    let lifetimes = RUN.as_secs_f64() / KEY_LIFETIME.as_secs_f64();
    println!(
        "\nID-token validation under steady load ({TASKS} tasks, {} s, JWKS answering in {} ms):",
        RUN.as_secs(),
        PROVIDER_DELAY.as_millis()
    );
    println!("| run | validations | p50 µs | p99 µs | max µs | JWKS requests |");
    println!("|---|---|---|---|---|---|");
    for (name, f) in [
        ("floor (keys never expire)", &floor),
        ("keys expire every 200 ms", &crossing),
    ] {
        println!(
            "| {name} | {} | {:.1} | {:.1} | {:.0} | {} |",
            f.latencies.len(),
            micros(percentile(&f.latencies, 0.5)),
            micros(percentile(&f.latencies, 0.99)),
            micros(*f.latencies.last().unwrap()),
            f.requests
        );
    }
    let ratio = |p: f64| {
        micros(percentile(&crossing.latencies, p)) / micros(percentile(&floor.latencies, p))
    };
    println!(
        "crossing / floor: p50 {:.2}x, p99 {:.2}x; {:.2} JWKS requests per key lifetime ({lifetimes:.0} lifetimes)\n",
        ratio(0.5),
        ratio(0.99),
        crossing.requests as f64 / lifetimes
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    report(&rt);
    let (base, _jwks) = rt.block_on(start_jwks());
    let client = client(&base, Duration::from_secs(3600));
    let token = token(&base);
    rt.block_on(client.verify_id_token(&token, None)).unwrap();
    let mut c = Criterion::default().configure_from_args();
    c.bench_function("id_token/warm_keys", |b| {
        b.to_async(&rt)
            .iter(|| async { client.verify_id_token(&token, None).await.unwrap() })
    });
    c.final_summary();
}
