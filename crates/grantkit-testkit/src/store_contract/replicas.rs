//! The proofs for stores shared by processes or replicas: real OS processes (the test binary,
//! re-run as children through its `child_replica` test) × tasks against the counting, strictly
//! rotating fake token endpoint served by the parent, so the count is global.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use grantkit::store::{StoreKey, TokenStore};
use grantkit::TokenSource;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::{unique_subject, Backend, Settings};
use crate::token_endpoint::{client_for, concurrent_calls, expired, valid_for, FakeTokenEndpoint};

const ROLE: &str = "GRANTKIT_REPLICA_ROLE";
const TOKEN_URL: &str = "GRANTKIT_REPLICA_TOKEN_URL";
const SUBJECT: &str = "GRANTKIT_REPLICA_SUBJECT";
const LOCATION: &str = "GRANTKIT_REPLICA_LOCATION";
/// Processes in a proof.
pub const PROCESSES: usize = 4;
/// Concurrent callers per process.
pub const TASKS: usize = 50;
/// Expiries per proof.
pub const ROUNDS: usize = 3;

fn key_for(url: &str, subject: &str) -> StoreKey {
    StoreKey::for_client(&client_for(url), subject)
}

/// The test binary re-run as a child: only its test `child` (the `child_replica` the macro
/// emits), which acts on `role`.
fn child(child: &str, role: &str, env: &[(&str, &str)]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", child, "--nocapture", "--test-threads=1"])
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

/// The child side, run by the `child_replica` test the macro emits: connects a store, then for every line `go` on stdin builds a fresh token source
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
        let server = std::env::var(LOCATION).unwrap();
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
    async fn start(child_test: &str, role: &str, env: &[(&str, &str)]) -> Replica {
        let mut child = child(child_test, role, env).spawn().unwrap();
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
    fake: FakeTokenEndpoint,
    location: String,
    subject: String,
    store: Arc<dyn TokenStore>,
}

impl User {
    async fn expiring<B: Backend>(server: &str, test: &str) -> User {
        let fake = FakeTokenEndpoint::start().await;
        fake.set_live_refresh_token(Some("rt-0"));
        let subject = unique_subject(test);
        let key = key_for(&fake.url, &subject);
        let store = B::store(server.to_owned(), key, Settings::default()).await;
        store.save(&expired("at-0", Some("rt-0"))).await.unwrap();
        User {
            fake,
            location: server.to_owned(),
            subject,
            store,
        }
    }

    /// What a child replica needs to reach the fake and the user.
    fn env(&self) -> [(&'static str, &str); 3] {
        [
            (TOKEN_URL, self.fake.url.as_str()),
            (SUBJECT, self.subject.as_str()),
            (LOCATION, self.location.as_str()),
        ]
    }
}

/// `PROCESSES` processes × `TASKS` tasks share one user's expired token, `ROUNDS` times:
/// exactly one refresh per expiry across all processes, no `invalid_grant` (the fake rotates
/// strictly: a second refresh with the same refresh token would get one), every caller ends
/// with the same token, and the store holds the latest pair.
pub async fn one_refresh_per_expiry_across_processes<B: Backend>(test: &str, child: &str) {
    let Some(server) = B::location(test) else {
        return;
    };
    let user = User::expiring::<B>(&server, test).await;
    let (fake, store, env) = (&user.fake, &user.store, user.env());
    fake.set_delay(Duration::from_millis(100)); // so that the callers overlap
    let mut replicas = Vec::new();
    for _ in 0..PROCESSES {
        replicas.push(Replica::start(child, "refresher", &env).await);
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
    child: &str,
    bound: Duration,
) -> Option<Duration> {
    let server = B::location(test)?;
    let user = User::expiring::<B>(&server, test).await;
    let (fake, store, env) = (&user.fake, &user.store, user.env());

    // The holder: its token request stalls (the fake sleeps before it rotates anything).
    fake.set_delay(Duration::from_secs(120));
    let mut holder = Replica::start(child, "holder", &env).await;
    holder.go().await;
    fake.wait_for_token_requests(1).await;
    fake.set_delay(Duration::from_millis(50)); // for the requests after the kill

    // The others queue up behind the holder's lock.
    let mut waiters = Vec::new();
    for _ in 0..PROCESSES - 1 {
        waiters.push(Replica::start(child, "refresher", &env).await);
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
pub async fn a_frozen_holder_whose_lease_ran_out_adopts_the_winners_tokens<B: Backend>(
    test: &str,
    child: &str,
) -> Option<()> {
    let server = B::location(test)?;
    let user = User::expiring::<B>(&server, test).await;
    let (fake, store, env) = (&user.fake, &user.store, user.env());

    // Both processes are up before anything starts, so the race does not hang on a slow start.
    let mut holder = Replica::start(child, "holder", &env).await;
    let mut winner = Replica::start(child, "refresher", &env).await;
    fake.set_delay(Duration::from_secs(10));
    holder.go().await;
    fake.wait_for_token_requests(1).await;
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
        let server = std::env::var(LOCATION).unwrap();
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
pub async fn one_refresh_per_expiry_with_refresh_ahead<B: Backend>(test: &str, child: &str) {
    let Some(server) = B::location(test) else {
        return;
    };
    let user = User::expiring::<B>(&server, test).await;
    let (fake, store, env) = (&user.fake, &user.store, user.env());
    fake.set_delay(Duration::from_millis(300)); // the replicas' background refreshes overlap
    let mut replicas = Vec::new();
    for _ in 0..PROCESSES {
        replicas.push(Replica::start(child, AHEAD, &env).await);
    }
    for round in 1..=ROUNDS {
        // The live pair, 30 s from expiry: valid, inside margin + window.
        let (old, rt) = (format!("at-{}", round - 1), format!("rt-{}", round - 1));
        store.save(&valid_for(&old, Some(&rt), 30)).await.unwrap();
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
fn signal(replica: &Replica, name: &str) {
    let pid = replica.child.id().expect("the replica runs").to_string();
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

/// The multi-process proofs as tests of `$backend` (a
/// [`Backend`](crate::store_contract::Backend)), in a module `replicas` of the calling test
/// file: `child_replica` (what the children run; it does nothing when run as a test), one
/// refresh per expiry for [`PROCESSES`] processes × [`TASKS`] tasks with and without
/// refresh-ahead, and a `SIGKILL`ed lock holder whose lock is free again within 2 ×
/// `$kill_bound`. Add `lease_expires_under_a_live_holder` for stores whose lock is a lease
/// that runs out under a frozen holder (Redis): the holder adopts the winner's tokens.
#[macro_export]
macro_rules! replica_tests {
    ($backend:ty, $kill_bound:expr) => {
        $crate::replica_tests!(@tests $backend, $kill_bound, {});
    };
    ($backend:ty, $kill_bound:expr, lease_expires_under_a_live_holder) => {
        $crate::replica_tests!(@tests $backend, $kill_bound, {
            $crate::__replica_test!(
                $backend,
                a_frozen_holder_whose_lease_ran_out_adopts_the_winners_tokens,
                a_frozen_holder_whose_lease_ran_out_adopts_the_winners_tokens
            );
        });
    };
    (@tests $backend:ty, $kill_bound:expr, { $($extra:tt)* }) => {
        mod replicas {
            #[allow(unused_imports)]
            use super::*;

            fn child() -> String {
                $crate::store_contract::test_path(module_path!(), "child_replica")
            }

            #[test]
            fn child_replica() {
                $crate::store_contract::child_main::<$backend>();
            }

            $crate::__replica_test!(
                $backend,
                four_processes_refresh_once_per_expiry,
                one_refresh_per_expiry_across_processes
            );
            $crate::__replica_test!(
                $backend,
                refresh_ahead_four_processes_refresh_once_per_expiry,
                one_refresh_per_expiry_with_refresh_ahead
            );
            $crate::__replica_test!(
                $backend,
                killed_lock_holder_does_not_block_the_others,
                a_killed_lock_holder_does_not_block_the_others,
                $kill_bound
            );

            $($extra)*
        }
    };
}

/// One replica test (the building block of [`replica_tests!`](crate::replica_tests)): the test
/// `$name` runs the contract function `$contract` for `$backend` with the test's name, the
/// child's test path (`child()` of the calling module) and any further arguments.
#[doc(hidden)]
#[macro_export]
macro_rules! __replica_test {
    ($backend:ty, $name:ident, $contract:ident $(, $arg:expr)*) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            $crate::store_contract::$contract::<$backend>(stringify!($name), &child() $(, $arg)*)
                .await;
        }
    };
}
