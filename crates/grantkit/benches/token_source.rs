//! What a `TokenSource` costs.
//!
//! 1. `access_token()` on a fresh token (criterion): the future is polled once with a no-op
//!    waker, which also proves that the fresh path never waits on anything.
//! 2. What a caller waits while a refresh runs, against the counting fake token endpoint on
//!    loopback (no artificial delay), as a ratio to one bare token request (`Client::refresh`
//!    on the same endpoint): p50 and p99 over 100 rounds of 100 concurrent callers.
//! 3. Refresh-ahead on vs off under steady load: 16 tasks calling `access_token()` every
//!    millisecond for 8 s each way, tokens living 2 s, a token endpoint that answers after
//!    20 ms; p50/p99/p99.9/max of every call's latency (recorded and sorted here: criterion only
//!    reports means), how many calls waited on the provider, and token requests per expiry.
//!
//! Run: `cargo bench -p grantkit --bench token_source` (about 25 s).

use std::sync::Arc;
use std::time::{Duration, Instant};

use grantkit::AccessToken;

use criterion::Criterion;
use grantkit::store::{FileTokenStore, MemoryTokenStore, TokenStore};
use grantkit::TokenSource;
use grantkit_testkit::measure::{micros, percentile, ready};
use grantkit_testkit::token_endpoint::{expired, valid_for, FakeTokenEndpoint as Fake};

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

/// What one steady-load run measured.
struct Steady {
    /// Every call's latency, sorted.
    latencies: Vec<Duration>,
    /// Token-endpoint requests during the run.
    requests: usize,
    /// Expiry boundaries crossed: token sets handed out after the first one.
    expiries: usize,
}

const STEADY_TASKS: usize = 16;
const STEADY_RUN: Duration = Duration::from_secs(8);
/// A call slower than this waited on the token endpoint (which answers after 20 ms).
const WAITED: Duration = Duration::from_millis(5);

/// One caller of the steady load: calls until `until`, one call per millisecond.
async fn steady_caller(source: TokenSource, until: Instant) -> (Vec<Duration>, Vec<String>) {
    let (mut latencies, mut seen) = (Vec::with_capacity(10_000), Vec::new());
    let mut last: Option<AccessToken> = None;
    while Instant::now() < until {
        let start = Instant::now();
        let token = source.access_token().await.unwrap();
        latencies.push(start.elapsed());
        if !last.as_ref().is_some_and(|l| l.ptr_eq(&token)) {
            seen.push(token.expose().to_owned());
            last = Some(token);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    (latencies, seen)
}

async fn steady_load(refresh_ahead: Duration) -> Steady {
    let fake = Fake::start().await;
    fake.set_delay(Duration::from_millis(20));
    fake.set_expires_in(2);
    fake.set_live_refresh_token(Some("rt-0")); // a second refresh per expiry would fail
    let source = TokenSource::builder(fake.client())
        .margin(Duration::ZERO)
        .refresh_ahead(refresh_ahead)
        .tokens(valid_for("at-0", Some("rt-0"), 2))
        .build()
        .await
        .unwrap();
    let until = Instant::now() + STEADY_RUN;
    let tasks: Vec<_> = (0..STEADY_TASKS)
        .map(|_| tokio::spawn(steady_caller(source.clone(), until)))
        .collect();
    let (mut latencies, mut tokens) = (Vec::new(), std::collections::BTreeSet::new());
    for t in tasks {
        let (l, seen) = t.await.unwrap();
        latencies.extend(l);
        tokens.extend(seen);
    }
    latencies.sort();
    Steady {
        latencies,
        requests: fake.token_requests(),
        expiries: tokens.len() - 1,
    }
}

fn report_refresh_ahead(rt: &tokio::runtime::Runtime) {
    let off = rt.block_on(steady_load(Duration::ZERO));
    let on = rt.block_on(steady_load(Duration::from_secs(1)));
    println!();
    println!(
        "steady load: {STEADY_TASKS} tasks x 1 call/ms for {STEADY_RUN:?}, tokens of 2 s, \
         token endpoint +20 ms, margin 0"
    );
    for (name, run) in [("refresh-ahead off", &off), ("refresh-ahead 1 s", &on)] {
        let lat = &run.latencies;
        let waited = lat.iter().filter(|d| **d >= WAITED).count();
        println!(
            "{name}: {} calls, p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} ms; \
             {waited} calls waited >= 5 ms; {} token requests for {} expiries ({:.2} per expiry)",
            lat.len(),
            micros(percentile(lat, 0.5)),
            micros(percentile(lat, 0.99)),
            micros(percentile(lat, 0.999)),
            micros(percentile(lat, 1.0)) / 1000.0,
            run.requests,
            run.expiries,
            run.requests as f64 / run.expiries.max(1) as f64,
        );
    }
    let ratio = |p: f64| {
        percentile(&off.latencies, p).as_secs_f64() / percentile(&on.latencies, p).as_secs_f64()
    };
    println!(
        "off / on: p50 {:.2}x, p99 {:.2}x, p99.9 {:.2}x, max {:.2}x",
        ratio(0.5),
        ratio(0.99),
        ratio(0.999),
        ratio(1.0)
    );
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
    report_refresh_ahead(&rt);
}
