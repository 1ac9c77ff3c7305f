//! What the shared stores cost next to the memory store, against the real servers
//! (`GRANTKIT_TEST_POSTGRES_URL`, `GRANTKIT_TEST_REDIS_URL`: `scripts/start-services`).
//! One benchmark for both engines (it lives here; the Redis store is a dev-dependency).
//!
//! 1. `access_token()` on a fresh token (criterion, and a ratio to the memory store). The fresh
//!    path never touches the store, so this shows the store costs nothing there.
//! 2. What does differ, p50/p99 over many runs and as a ratio to the memory store: `load()`,
//!    `save()`, `lock()` + release, and a whole refresh round trip (`access_token()` on an
//!    expired token: lock, re-read, refresh at the fake token endpoint on loopback, save,
//!    release).
//!
//! Run: `scripts/start-services && . target/services.env &&
//! cargo bench -p grantkit-store-postgres --bench stores` (under a minute). Without a URL,
//! that engine's rows are skipped with a message.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use grantkit::store::{MemoryTokenStore, StoreKey, TokenStore};
use grantkit::TokenSource;
use grantkit_store_postgres::PostgresTokenStores;
use grantkit_store_redis::RedisTokenStores;
use grantkit_testkit::measure::{micros, percentile, ready};
use grantkit_testkit::token_endpoint::{expired, valid_for, FakeTokenEndpoint as Fake};

struct Case {
    name: &'static str,
    store: Arc<dyn TokenStore>,
}

async fn cases(fake: &Fake) -> Vec<Case> {
    let key = StoreKey::for_client(&fake.client(), format!("bench-{}", std::process::id()));
    let mut cases = vec![Case {
        name: "memory",
        store: Arc::new(MemoryTokenStore::new()),
    }];
    match std::env::var("GRANTKIT_TEST_POSTGRES_URL") {
        Ok(url) => {
            let stores = PostgresTokenStores::connect(&url).await.unwrap();
            stores.migrate().await.unwrap();
            cases.push(Case {
                name: "postgres",
                store: Arc::new(stores.store(key.clone())),
            });
        }
        Err(_) => eprintln!("SKIPPED PostgreSQL rows: GRANTKIT_TEST_POSTGRES_URL is not set (scripts/start-services)"),
    }
    match std::env::var("GRANTKIT_TEST_REDIS_URL") {
        Ok(url) => cases.push(Case {
            name: "redis",
            store: Arc::new(RedisTokenStores::connect(&url).await.unwrap().store(key)),
        }),
        Err(_) => eprintln!(
            "SKIPPED Redis rows: GRANTKIT_TEST_REDIS_URL is not set (scripts/start-services)"
        ),
    }
    cases
}

/// Mean of `access_token()` on a fresh token, in ns, over a tight loop.
fn fresh_mean_ns(source: &TokenSource) -> f64 {
    let n = 2_000_000;
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(ready(std::hint::black_box(source).access_token()).unwrap());
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

async fn timed<F, Fut>(n: usize, mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Duration>,
{
    for _ in 0..n / 10 {
        f().await; // warm up
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(f().await);
    }
    out.sort();
    out
}

struct Row {
    what: &'static str,
    store: &'static str,
    p50: Duration,
    p99: Duration,
}

async fn measure(fake: &Fake, case: &Case) -> Vec<Row> {
    let store = &case.store;
    let tokens = valid_for("at-bench", Some("rt-bench"), 3600);
    store.save(&tokens).await.unwrap();
    let mut rows = Vec::new();
    let mut push = |what, lat: Vec<Duration>| {
        rows.push(Row {
            what,
            store: case.name,
            p50: percentile(&lat, 0.5),
            p99: percentile(&lat, 0.99),
        })
    };
    push(
        "load()",
        timed(2000, || async {
            let t = Instant::now();
            store.load().await.unwrap().unwrap();
            t.elapsed()
        })
        .await,
    );
    push(
        "save()",
        timed(1000, || async {
            let t = Instant::now();
            store.save(&tokens).await.unwrap();
            t.elapsed()
        })
        .await,
    );
    push(
        "lock() + release",
        timed(1000, || async {
            let t = Instant::now();
            store.lock().await.unwrap().release().await.unwrap();
            t.elapsed()
        })
        .await,
    );
    let source = TokenSource::builder(fake.client())
        .store(store.clone())
        .tokens(expired("at-0", Some("rt-0")))
        .build()
        .await
        .unwrap();
    let before = fake.token_requests();
    let rounds = 300;
    push(
        "refresh round trip",
        timed(rounds, || async {
            source
                .set_tokens(expired("at-0", Some("rt-0")))
                .await
                .unwrap();
            let t = Instant::now();
            source.access_token().await.unwrap();
            t.elapsed()
        })
        .await,
    );
    assert_eq!(
        fake.token_requests() - before,
        rounds + rounds / 10,
        "one refresh per round"
    );
    store.delete().await.unwrap();
    rows
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fake = rt.block_on(Fake::start());
    let cases = rt.block_on(cases(&fake));
    let sources: Vec<(&str, TokenSource)> = cases
        .iter()
        .map(|case| {
            let source = rt.block_on(async {
                TokenSource::builder(fake.client())
                    .store(case.store.clone())
                    .tokens(valid_for("at-0", Some("rt-0"), 3600))
                    .build()
                    .await
                    .unwrap()
            });
            (case.name, source)
        })
        .collect();

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .configure_from_args();
    for (name, source) in &sources {
        c.bench_function(&format!("access_token/fresh/{name}"), |b| {
            b.iter(|| ready(std::hint::black_box(source).access_token()).unwrap())
        });
    }
    c.final_summary();
    let fresh: Vec<(&str, f64)> = sources
        .iter()
        .map(|(name, s)| (*name, fresh_mean_ns(s)))
        .collect();
    println!();
    println!(
        "access_token() on a fresh token (mean of 2,000,000 calls; the store is not touched):"
    );
    for (name, ns) in &fresh {
        println!("  {name:<8} {ns:>6.1} ns = {:.2}x memory", ns / fresh[0].1);
    }
    assert_eq!(fake.token_requests(), 0, "no refresh on the fresh path");

    let rows: Vec<Row> = cases
        .iter()
        .flat_map(|case| rt.block_on(measure(&fake, case)))
        .collect();
    println!();
    println!("| operation | store | p50 | p99 | p50 vs memory |");
    println!("|---|---|---|---|---|");
    for row in &rows {
        let memory = rows
            .iter()
            .find(|r| r.what == row.what && r.store == "memory")
            .unwrap();
        println!(
            "| {} | {} | {:.1} µs | {:.1} µs | {:.1}x |",
            row.what,
            row.store,
            micros(row.p50),
            micros(row.p99),
            row.p50.as_secs_f64() / memory.p50.as_secs_f64()
        );
    }
}
