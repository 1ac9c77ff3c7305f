//! Shared proof for token stores that coordinate replicas (PostgreSQL, Redis): real OS
//! processes (this test binary, re-run as children like `file_store_processes.rs`) × tasks
//! against the counting, strictly rotating fake token endpoint served by the parent, so the
//! count is global. Included by the store crates' `tests/replicas.rs` with `#[path]`, next to
//! `support/mod.rs`; each supplies a [`Backend`].

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use grantkit::store::{BoxFuture, SealingKeys, StoreError, StoreKey, TokenStore};
use grantkit::{Error, TokenSet, TokenSource};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::{client_for, concurrent_calls, expired, Fake};

const ROLE: &str = "GRANTKIT_REPLICA_ROLE";
const TOKEN_URL: &str = "GRANTKIT_REPLICA_TOKEN_URL";
const SUBJECT: &str = "GRANTKIT_REPLICA_SUBJECT";
/// Processes × tasks per process.
pub const PROCESSES: usize = 4;
pub const TASKS: usize = 50;
pub const ROUNDS: usize = 3;

/// How a test reaches one engine's store.
pub struct Settings {
    pub lock_wait: Duration,
    /// Redis: the lock's lease; PostgreSQL: the dead holder timeout (keepalive).
    pub lease: Duration,
    pub keys: Option<SealingKeys>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            lock_wait: Duration::from_secs(20),
            lease: Duration::from_secs(3),
            keys: None,
        }
    }
}

pub trait Backend: 'static {
    /// `PostgreSQL`, `Redis`.
    const NAME: &'static str;
    /// The environment variable with the server's URL.
    const URL_VAR: &'static str;
    fn store(
        url: String,
        key: StoreKey,
        settings: Settings,
    ) -> BoxFuture<'static, Arc<dyn TokenStore>>;
}

/// The server URL, or what a test does without it: under `CI=true` a missing server is a
/// failure; elsewhere the test is skipped with a message (like `OidcPeer::start_or_skip`).
pub fn url_or_skip<B: Backend>(test: &str) -> Option<String> {
    match std::env::var(B::URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!(
            "{test}: {} is required under CI=true: set {} (run `scripts/start-services` and source target/services.env)",
            B::NAME,
            B::URL_VAR
        ),
        _ => {
            eprintln!(
                "SKIPPED {test}: {} not set (run `scripts/start-services`, then `. target/services.env`)",
                B::URL_VAR
            );
            None
        }
    }
}

/// A subject no other test (or earlier run) uses.
pub fn unique_subject(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{test}:{}:{nanos}", std::process::id())
}

fn key_for(url: &str, subject: &str) -> StoreKey {
    StoreKey::for_client(&client_for(url), subject)
}

fn child<B: Backend>(role: &str, env: &[(&str, &str)]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_replica",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(ROLE, role)
    .envs(env.iter().copied())
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit())
    .kill_on_drop(true);
    cmd
}

/// What a child reports for one round.
#[derive(Debug)]
struct Report {
    tokens: Vec<String>,
    errors: Vec<String>,
}

fn parse_report(line: &str) -> Option<Report> {
    let rest = line.split("GRANTKIT_REPORT ").nth(1)?;
    let value: serde_json::Value = serde_json::from_str(rest.trim()).ok()?;
    let strings = |k: &str| -> Vec<String> {
        value[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    Some(Report {
        tokens: strings("tokens"),
        errors: strings("errors"),
    })
}

/// The child: connects a store, then for every line `go` on stdin builds a fresh token source
/// from the store (a replica whose copy is expired), runs `TASKS` concurrent `access_token()`
/// calls and prints a report. Without the role variable it does nothing.
pub fn child_main<B: Backend>() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    if role == AHEAD {
        return ahead_child_main::<B>();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let token_url = std::env::var(TOKEN_URL).unwrap();
        let server = std::env::var(B::URL_VAR).unwrap();
        let key = key_for(&token_url, &std::env::var(SUBJECT).unwrap());
        let store = B::store(server, key, Settings::default()).await;
        let tasks = if role == "holder" { 1 } else { TASKS };
        let mut stdin = BufReader::new(tokio::io::stdin()).lines();
        println!("GRANTKIT_READY");
        while let Some(line) = stdin.next_line().await.unwrap() {
            if line.trim() != "go" {
                break;
            }
            let source = TokenSource::builder(client_for(&token_url))
                .store(store.clone())
                .build()
                .await
                .unwrap();
            let (mut tokens, mut errors) = (Vec::new(), Vec::new());
            for result in concurrent_calls(&source, tasks).await {
                match result {
                    Ok(t) => tokens.push(t.expose().to_owned()),
                    Err(e) => errors.push(e.to_string()),
                }
            }
            let report = serde_json::json!({"tokens": tokens, "errors": errors});
            println!("GRANTKIT_REPORT {report}");
        }
    });
}

struct Replica {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Replica {
    async fn start<B: Backend>(role: &str, env: &[(&str, &str)]) -> Replica {
        let mut child = child::<B>(role, env).spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut replica = Replica {
            child,
            stdin,
            stdout,
        };
        replica.expect("GRANTKIT_READY").await;
        replica
    }

    /// Reads lines until one contains `marker` (libtest may print before it on the line).
    async fn expect(&mut self, marker: &str) -> String {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(60), self.stdout.next_line())
                .await
                .unwrap_or_else(|_| panic!("no {marker} from a child within 60 s"))
                .unwrap()
                .unwrap_or_else(|| panic!("a child exited before {marker}"));
            if line.contains(marker) {
                return line;
            }
        }
    }

    async fn go(&mut self) {
        self.stdin.write_all(b"go\n").await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    async fn report(&mut self) -> Report {
        let line = self.expect("GRANTKIT_REPORT ").await;
        parse_report(&line).unwrap_or_else(|| panic!("unreadable report: {line}"))
    }

    async fn finish(mut self) {
        drop(self.stdin);
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the child exits when its stdin closes")
            .unwrap();
        assert!(status.success(), "a child failed: {status}");
    }
}

/// One user of a proof: a fake that accepts only `rt-0`, and the user's store in `B` holding
/// an expired `at-0` / `rt-0`.
struct User {
    fake: Fake,
    subject: String,
    store: Arc<dyn TokenStore>,
}

impl User {
    async fn expiring<B: Backend>(server: &str, test: &str) -> User {
        let fake = Fake::start().await;
        fake.set_live_refresh_token(Some("rt-0"));
        let subject = unique_subject(test);
        let key = key_for(&fake.url, &subject);
        let store = B::store(server.to_owned(), key, Settings::default()).await;
        store.save(&expired("at-0", Some("rt-0"))).await.unwrap();
        User {
            fake,
            subject,
            store,
        }
    }

    /// What a child replica needs to reach the fake and the user.
    fn env(&self) -> [(&'static str, &str); 2] {
        [
            (TOKEN_URL, self.fake.url.as_str()),
            (SUBJECT, self.subject.as_str()),
        ]
    }
}

impl Fake {
    /// Waits until the first token request arrived (the holder has the lock and asked).
    async fn wait_for_token_request(&self) {
        let started = Instant::now();
        while self.token_requests() == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the holder never sent its request"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// `PROCESSES` processes × `TASKS` tasks share one user's expired token, `ROUNDS` times:
/// exactly one refresh per expiry across all processes, no `invalid_grant` (the fake rotates
/// strictly: a second refresh with the same refresh token would get one), every caller ends
/// with the same token, and the store holds the latest pair.
pub async fn one_refresh_per_expiry_across_processes<B: Backend>(test: &str) {
    let Some(server) = url_or_skip::<B>(test) else {
        return;
    };
    let user = User::expiring::<B>(&server, test).await;
    let (fake, store, env) = (&user.fake, &user.store, user.env());
    fake.set_delay(Duration::from_millis(100)); // so that the callers overlap
    let mut replicas = Vec::new();
    for _ in 0..PROCESSES {
        replicas.push(Replica::start::<B>("refresher", &env).await);
    }
    for round in 1..=ROUNDS {
        if round > 1 {
            // The token expires (same live refresh token, access token expired).
            let stored = store.load().await.unwrap().unwrap();
            let rt = stored.refresh_token().unwrap().expose().to_owned();
            store
                .save(&expired(stored.access_token().expose(), Some(&rt)))
                .await
                .unwrap();
        }
        let started = Instant::now();
        for r in &mut replicas {
            r.go().await;
        }
        let mut all = Vec::new();
        for r in &mut replicas {
            let report = r.report().await;
            assert!(
                report.errors.is_empty(),
                "round {round}: errors in a replica (invalid_grant means a second refresh): {:?}",
                report.errors
            );
            assert_eq!(report.tokens.len(), TASKS);
            all.extend(report.tokens);
        }
        let expected = format!("at-{round}");
        assert!(
            all.iter().all(|t| *t == expected),
            "round {round}: every caller gets {expected}: {all:?}"
        );
        assert_eq!(
            fake.token_requests(),
            round,
            "round {round}: exactly one refresh for {} callers in {PROCESSES} processes",
            PROCESSES * TASKS
        );
        eprintln!(
            "{} round {round}: {} callers in {PROCESSES} processes, 1 refresh, {:?}",
            B::NAME,
            PROCESSES * TASKS,
            started.elapsed()
        );
    }
    for r in replicas {
        r.finish().await;
    }
    let stored = store.load().await.unwrap().unwrap();
    assert_eq!(stored.access_token().expose(), format!("at-{ROUNDS}"));
    assert_eq!(
        stored.refresh_token().unwrap().expose(),
        format!("rt-{ROUNDS}")
    );
    store.delete().await.unwrap();
}

/// A replica takes the lock and is SIGKILLed while its token request hangs. The replicas
/// waiting behind it get the lock once the dead holder's lock is released (connection closed
/// or lease over) — within 2 × `bound` of the kill — and exactly one of them refreshes.
/// Returns how long after the kill the waiters were served.
pub async fn a_killed_lock_holder_does_not_block_the_others<B: Backend>(
    test: &str,
    bound: Duration,
) -> Option<Duration> {
    let server = url_or_skip::<B>(test)?;
    let user = User::expiring::<B>(&server, test).await;
    let (fake, store, env) = (&user.fake, &user.store, user.env());

    // The holder: its token request stalls (the fake sleeps before it rotates anything).
    fake.set_delay(Duration::from_secs(120));
    let mut holder = Replica::start::<B>("holder", &env).await;
    holder.go().await;
    fake.wait_for_token_request().await;
    fake.set_delay(Duration::from_millis(50)); // for the requests after the kill

    // The others queue up behind the holder's lock.
    let mut waiters = Vec::new();
    for _ in 0..PROCESSES - 1 {
        waiters.push(Replica::start::<B>("refresher", &env).await);
    }
    for w in &mut waiters {
        w.go().await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.token_requests(), 1, "the waiters wait for the holder");

    holder.child.start_kill().unwrap(); // SIGKILL
    let killed = Instant::now();
    let status = holder.child.wait().await.unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9));

    let mut all = Vec::new();
    for w in &mut waiters {
        let report = w.report().await;
        assert!(
            report.errors.is_empty(),
            "waiters after the kill: {:?}",
            report.errors
        );
        all.extend(report.tokens);
    }
    let served = killed.elapsed();
    assert!(all.iter().all(|t| t == "at-1"), "{all:?}");
    assert_eq!(all.len(), (PROCESSES - 1) * TASKS);
    assert_eq!(
        fake.token_requests(),
        2,
        "the stalled request and exactly one refresh after the kill"
    );
    assert!(
        served < bound * 2,
        "{}: the waiters were served {served:?} after the kill (bound {bound:?})",
        B::NAME
    );
    eprintln!(
        "{}: waiters served {served:?} after the holder was killed (lock bound {bound:?})",
        B::NAME
    );
    for w in waiters {
        w.finish().await;
    }
    store.delete().await.unwrap();
    Some(served)
}

/// A lease that runs out under a *live* holder (Redis): the holder takes the lock, sends its
/// refresh (the fake holds the answer 10 s) and is frozen (SIGSTOP), so its watchdog stops
/// renewing. Once the lease is over a second replica takes the lock and refreshes, rotating the
/// refresh token. The holder then resumes, gets `invalid_grant` for the rotated-out token, and
/// its rotation detection adopts the pair the other replica stored: every caller of both ends
/// with the same live token, no error surfaces, and the provider saw exactly two refreshes.
/// Redis only: a PostgreSQL session lock does not expire under a frozen holder whose host
/// still answers (docs/scaling.md).
#[allow(dead_code)]
pub async fn a_frozen_holder_whose_lease_ran_out_adopts_the_winners_tokens<B: Backend>(
    test: &str,
) -> Option<()> {
    let server = url_or_skip::<B>(test)?;
    let user = User::expiring::<B>(&server, test).await;
    let (fake, store, env) = (&user.fake, &user.store, user.env());

    // Both processes are up before anything starts, so the race does not hang on a slow start.
    let mut holder = Replica::start::<B>("holder", &env).await;
    let mut winner = Replica::start::<B>("refresher", &env).await;
    fake.set_delay(Duration::from_secs(10));
    holder.go().await;
    fake.wait_for_token_request().await;
    fake.set_delay(Duration::from_millis(50)); // for the second replica's request
    signal(&holder, "STOP");
    winner.go().await;
    let report = winner.report().await;
    assert!(report.errors.is_empty(), "the winner: {:?}", report.errors);
    assert!(
        report.tokens.iter().all(|t| t == "at-1"),
        "{:?}",
        report.tokens
    );

    signal(&holder, "CONT");
    let report = holder.report().await;
    assert!(
        report.errors.is_empty(),
        "the resumed holder surfaced {:?}",
        report.errors
    );
    assert_eq!(report.tokens, ["at-1"], "it adopts the winner's pair");
    assert_eq!(
        fake.token_requests(),
        2,
        "the frozen holder's refresh and the winner's"
    );
    let stored = store.load().await.unwrap().unwrap();
    assert_eq!(stored.access_token().expose(), "at-1");
    assert_eq!(stored.refresh_token().unwrap().expose(), "rt-1");
    for replica in [holder, winner] {
        replica.finish().await;
    }
    store.delete().await.unwrap();
    Some(())
}

/// The child role of [`one_refresh_per_expiry_with_refresh_ahead`].
const AHEAD: &str = "ahead";
/// Its margin and refresh-ahead window: a stored token valid 30 s more is in the window and
/// usable 20 s more.
const AHEAD_MARGIN: Duration = Duration::from_secs(10);
const AHEAD_WINDOW: Duration = Duration::from_secs(60);

/// The refresh-ahead child: for every `go`, a fresh source from the store (whose token is in
/// its refresh-ahead window), `TASKS` concurrent calls, then a wait until the background
/// refresh (its own or, through the store, another replica's) replaced the token. Reports the
/// callers' tokens and, as the last one, the token the source holds then.
fn ahead_child_main<B: Backend>() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let token_url = std::env::var(TOKEN_URL).unwrap();
        let server = std::env::var(B::URL_VAR).unwrap();
        let key = key_for(&token_url, &std::env::var(SUBJECT).unwrap());
        let store = B::store(server, key, Settings::default()).await;
        let mut stdin = BufReader::new(tokio::io::stdin()).lines();
        println!("GRANTKIT_READY");
        while let Some(line) = stdin.next_line().await.unwrap() {
            if line.trim() != "go" {
                break;
            }
            let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
            let reported = errors.clone();
            let source = TokenSource::builder(client_for(&token_url))
                .store(store.clone())
                .margin(AHEAD_MARGIN)
                .refresh_ahead(AHEAD_WINDOW)
                .on_refresh_error(move |e| reported.lock().unwrap().push(e.to_string()))
                .build()
                .await
                .unwrap();
            let in_window = |s: &TokenSource| {
                s.current()
                    .token_set()
                    .expires_within(AHEAD_MARGIN + AHEAD_WINDOW)
            };
            let mut tokens = Vec::new();
            for result in concurrent_calls(&source, TASKS).await {
                match result {
                    Ok(t) => tokens.push(t.expose().to_owned()),
                    Err(e) => errors.lock().unwrap().push(e.to_string()),
                }
            }
            let started = Instant::now();
            while in_window(&source) && started.elapsed() < Duration::from_secs(20) {
                // Refreshed elsewhere: this source's background refresh re-reads the store.
                source.access_token().await.ok();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            tokens.push(source.current().expose().to_owned());
            let errors = errors.lock().unwrap().clone();
            let report = serde_json::json!({"tokens": tokens, "errors": errors});
            println!("GRANTKIT_REPORT {report}");
        }
    });
}

/// Refresh-ahead across replicas: `PROCESSES` processes × `TASKS` tasks, `ROUNDS` times, load
/// a stored token that is still valid but in its refresh-ahead window. Every caller gets a
/// valid token without error, each process starts a background refresh, and the store lock
/// plus the re-read make it exactly one request per expiry (the fake rotates strictly: a
/// second one would be `invalid_grant`, reported by the children); all end on the new token.
pub async fn one_refresh_per_expiry_with_refresh_ahead<B: Backend>(test: &str) {
    let Some(server) = url_or_skip::<B>(test) else {
        return;
    };
    let user = User::expiring::<B>(&server, test).await;
    let (fake, store, env) = (&user.fake, &user.store, user.env());
    fake.set_delay(Duration::from_millis(300)); // the replicas' background refreshes overlap
    let mut replicas = Vec::new();
    for _ in 0..PROCESSES {
        replicas.push(Replica::start::<B>(AHEAD, &env).await);
    }
    for round in 1..=ROUNDS {
        // The live pair, 30 s from expiry: valid, inside margin + window.
        let (old, rt) = (format!("at-{}", round - 1), format!("rt-{}", round - 1));
        store
            .save(&crate::support::valid_for(&old, Some(&rt), 30))
            .await
            .unwrap();
        for r in &mut replicas {
            r.go().await;
        }
        let new = format!("at-{round}");
        for r in &mut replicas {
            let mut report = r.report().await;
            assert!(
                report.errors.is_empty(),
                "round {round}: errors in a replica (invalid_grant means a second refresh): {:?}",
                report.errors
            );
            let last = report.tokens.pop();
            assert_eq!(last.as_ref(), Some(&new), "round {round}: ends on {new}");
            assert_eq!(report.tokens.len(), TASKS);
            assert!(
                report.tokens.iter().all(|t| *t == old || *t == new),
                "round {round}: {:?}",
                report.tokens
            );
        }
        assert_eq!(
            fake.token_requests(),
            round,
            "round {round}: exactly one refresh ahead for {PROCESSES} processes"
        );
    }
    for r in replicas {
        r.finish().await;
    }
    let stored = store.load().await.unwrap().unwrap();
    assert_eq!(stored.access_token().expose(), format!("at-{ROUNDS}"));
    store.delete().await.unwrap();
}

/// Sends SIGSTOP / SIGCONT (`kill -STOP <pid>`) to a replica.
#[allow(dead_code)]
fn signal(replica: &Replica, name: &str) {
    let pid = replica.child.id().expect("the replica runs").to_string();
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

/// The store contract on one engine: empty → `None`; save/load; delete; the lock excludes a
/// second holder (another store value, as in another replica), whose wait ends in a typed,
/// transient `LockTimeout` after its bound; after the release, it gets the lock.
pub async fn store_contract<B: Backend>(test: &str) {
    let Some(server) = url_or_skip::<B>(test) else {
        return;
    };
    let key = StoreKey::new("contract", "client", unique_subject(test));
    let store = B::store(server.clone(), key.clone(), Settings::default()).await;
    assert!(store.load().await.unwrap().is_none());
    store.delete().await.unwrap(); // deleting nothing succeeds
    let tokens = expired("at-c", Some("rt-c"));
    store.save(&tokens).await.unwrap();
    assert_eq!(store.load().await.unwrap().unwrap(), tokens);
    let other = StoreKey::new("contract", "client", unique_subject("other"));
    let elsewhere = B::store(server.clone(), other, Settings::default()).await;
    assert!(
        elsewhere.load().await.unwrap().is_none(),
        "keys are separate"
    );

    let wait = Duration::from_millis(400);
    let second = B::store(
        server.clone(),
        key.clone(),
        Settings {
            lock_wait: wait,
            ..Settings::default()
        },
    )
    .await;
    let held = store.lock().await.unwrap();
    // Another key's lock is independent.
    elsewhere.lock().await.unwrap().release().await.unwrap();
    // Under the lock, the holder reads and writes as usual.
    store.save(&tokens).await.unwrap();
    assert_eq!(store.load().await.unwrap().unwrap(), tokens);
    let started = Instant::now();
    let e = second.lock().await.unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(e, Error::Store(StoreError::LockTimeout { .. })),
        "{e}"
    );
    assert!(e.is_transient(), "{e}");
    assert!(!e.is_reauthorization_required(), "{e}");
    assert!(
        waited >= wait - Duration::from_millis(50) && waited < wait * 5,
        "waited {waited:?} for a bound of {wait:?}"
    );
    held.release().await.unwrap();
    let again = tokio::time::timeout(Duration::from_secs(5), second.lock())
        .await
        .expect("the lock is free after the release")
        .unwrap();
    // Dropped unreleased: released in the background.
    drop(again);
    tokio::time::timeout(Duration::from_secs(5), store.lock())
        .await
        .expect("a dropped lock is released")
        .unwrap()
        .release()
        .await
        .unwrap();
    store.delete().await.unwrap();
    assert!(store.load().await.unwrap().is_none());
    assert!(second.load().await.unwrap().is_none());
}

/// Encrypted at rest: sealed tokens round-trip, the raw value (read by `raw`) does not contain
/// them, a wrong key and a store without a key are refused with a typed error, and a rotated
/// key still opens the old value.
pub async fn sealed_tokens_round_trip_and_refuse_a_wrong_key<B: Backend, F>(test: &str, raw: F)
where
    F: for<'a> Fn(&'a str, &'a StoreKey) -> BoxFuture<'a, Vec<u8>>,
{
    let Some(server) = url_or_skip::<B>(test) else {
        return;
    };
    let key = StoreKey::new("sealed", "client", unique_subject(test));
    let with = |keys: Option<SealingKeys>| {
        B::store(
            server.clone(),
            key.clone(),
            Settings {
                keys,
                ..Settings::default()
            },
        )
    };
    let store = with(Some(SealingKeys::new(1, [42; 32]))).await;
    let tokens: TokenSet = expired("at-secret-value", Some("rt-secret-value"));
    store.save(&tokens).await.unwrap();
    assert_eq!(store.load().await.unwrap().unwrap(), tokens);

    let bytes = raw(&server, &key).await;
    assert_eq!(&bytes[..2], &[2, 1], "format 2, key id 1");
    assert!(
        !bytes.windows(12).any(|w| w == b"secret-value"),
        "the tokens are not readable at rest"
    );

    let refused = |r: grantkit::Result<Option<TokenSet>>| match r {
        Err(Error::Store(StoreError::Unseal { reason, .. })) => reason,
        other => panic!("expected Unseal, got {other:?}"),
    };
    let wrong = with(Some(SealingKeys::new(1, [7; 32]))).await;
    assert!(refused(wrong.load().await).contains("wrong key"));
    let plain = with(None).await;
    refused(plain.load().await);
    let rotated = with(Some(
        SealingKeys::new(2, [9; 32]).with_previous_key(1, [42; 32]),
    ))
    .await;
    assert_eq!(rotated.load().await.unwrap().unwrap(), tokens);
    rotated.save(&tokens).await.unwrap();
    assert_eq!(raw(&server, &key).await[1], 2, "re-sealed with key 2");
    store.delete().await.unwrap();
}

/// The proofs above as tests of one backend: `store_proofs!(Backend, kill_bound, raw)` where
/// `raw(url, key)` reads the stored bytes straight from the engine.
macro_rules! store_proofs {
    ($backend:ty, $kill_bound:expr, $raw:expr) => {
        #[test]
        fn child_replica() {
            crate::replicas::child_main::<$backend>();
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_contract() {
            crate::replicas::store_contract::<$backend>("store_contract").await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn four_processes_refresh_once_per_expiry() {
            crate::replicas::one_refresh_per_expiry_across_processes::<$backend>(
                "four_processes_refresh_once_per_expiry",
            )
            .await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn killed_lock_holder_does_not_block_the_others() {
            crate::replicas::a_killed_lock_holder_does_not_block_the_others::<$backend>(
                "killed_lock_holder_does_not_block_the_others",
                $kill_bound,
            )
            .await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sealed_tokens_round_trip_and_refuse_a_wrong_key() {
            crate::replicas::sealed_tokens_round_trip_and_refuse_a_wrong_key::<$backend, _>(
                "sealed_tokens_round_trip_and_refuse_a_wrong_key",
                $raw,
            )
            .await;
        }
    };
}
pub(crate) use store_proofs;
