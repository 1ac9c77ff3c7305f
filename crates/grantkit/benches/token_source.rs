//! What a `TokenSource` costs.
//!
//! 1. `access_token()` on a fresh token (criterion): the future is polled once with a no-op
//!    waker, which also proves that the fresh path never waits on anything.
//! 2. What a caller waits while a refresh runs, against the counting fake token endpoint on
//!    loopback (no artificial delay), as a ratio to one bare token request (`Client::refresh`
//!    on the same endpoint): p50 and p99 over 100 rounds of 100 concurrent callers.
//!
//! Run: `cargo bench -p grantkit --bench token_source` (a few seconds).

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use grantkit::{FileTokenStore, MemoryTokenStore, TokenSource, TokenStore};
use support::{expired, micros, percentile, ready, valid_for, Fake};

fn bench_fresh(c: &mut Criterion, rt: &tokio::runtime::Runtime, fake: &Fake) {
    let source = rt.block_on(async {
        TokenSource::builder(fake.client())
            .tokens(valid_for("at-0", Some("rt-0"), 3600))
            .build()
            .await
            .unwrap()
    });
    let first = ready(source.access_token()).unwrap();
    c.bench_function("access_token/fresh", |b| {
        b.iter(|| ready(std::hint::black_box(&source).access_token()).unwrap())
    });
    let last = ready(source.access_token()).unwrap();
    assert!(
        first.ptr_eq(&last),
        "the fresh path hands out the same token set (an Arc clone), never a new one"
    );
    assert_eq!(fake.token_requests(), 0);
}

/// Latencies of `waiters` concurrent `access_token()` calls on an expired token, `rounds` times.
async fn waiter_latencies(
    fake: &Fake,
    store: Arc<dyn TokenStore>,
    rounds: usize,
    waiters: usize,
) -> Vec<Duration> {
    let source = TokenSource::builder(fake.client())
        .store(store)
        .tokens(expired("at-0", Some("rt-0")))
        .build()
        .await
        .unwrap();
    let before = fake.token_requests();
    let mut all = Vec::with_capacity(rounds * waiters);
    for _ in 0..rounds {
        source
            .set_tokens(expired("at-0", Some("rt-0")))
            .await
            .unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(waiters));
        let tasks: Vec<_> = (0..waiters)
            .map(|_| {
                let (source, barrier) = (source.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let start = Instant::now();
                    source.access_token().await.unwrap();
                    start.elapsed()
                })
            })
            .collect();
        for t in tasks {
            all.push(t.await.unwrap());
        }
    }
    assert_eq!(
        fake.token_requests() - before,
        rounds,
        "one refresh per round"
    );
    all.sort();
    all
}

fn report_waiters(rt: &tokio::runtime::Runtime, fake: &Fake) {
    rt.block_on(async {
        let client = fake.client();
        let tokens = expired("at-0", Some("rt-0"));
        for _ in 0..50 {
            client.refresh(&tokens).await.unwrap(); // warm the connection pool
        }
        let mut bare: Vec<Duration> = Vec::with_capacity(500);
        for _ in 0..500 {
            let start = Instant::now();
            client.refresh(&tokens).await.unwrap();
            bare.push(start.elapsed());
        }
        bare.sort();
        let bare_p50 = percentile(&bare, 0.5);
        println!();
        println!(
            "bare loopback token request (Client::refresh): p50 {:.0} µs, p99 {:.0} µs",
            micros(bare_p50),
            micros(percentile(&bare, 0.99))
        );

        let dir = std::env::temp_dir().join(format!("grantkit-bench-{}", std::process::id()));
        let cases: [(&str, Arc<dyn TokenStore>, usize); 2] = [
            ("memory store", Arc::new(MemoryTokenStore::new()), 100),
            (
                "file store",
                Arc::new(FileTokenStore::new(dir.join("tokens.json"))),
                30,
            ),
        ];
        for (name, store, rounds) in cases {
            let waiters = 100;
            let lat = waiter_latencies(fake, store, rounds, waiters).await;
            let (p50, p99) = (percentile(&lat, 0.5), percentile(&lat, 0.99));
            println!(
                "{name}: {waiters} concurrent callers x {rounds} refreshes (one request each): \
                 a caller waits p50 {:.0} µs = {:.2}x a bare request, p99 {:.0} µs = {:.2}x",
                micros(p50),
                p50.as_secs_f64() / bare_p50.as_secs_f64(),
                micros(p99),
                p99.as_secs_f64() / bare_p50.as_secs_f64(),
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    });
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fake = rt.block_on(Fake::start());
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    bench_fresh(&mut c, &rt, &fake);
    c.final_summary();
    report_waiters(&rt, &fake);
}
