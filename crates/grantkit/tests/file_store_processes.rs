//! `FileTokenStore` across real processes: a writer killed with SIGKILL mid-write leaves a file
//! that loads, and processes sharing a token file refresh once between them.
//!
//! The child processes are this test binary itself, started with `GRANTKIT_CHILD_ROLE` set so
//! that one `child_*` test acts as the child; without that variable those tests do nothing.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use grantkit::store::{FileTokenStore, TokenStore};
use grantkit::{TokenSet, TokenSource};
use grantkit_testkit::token_endpoint::{client_for, expired, FakeTokenEndpoint as Fake};

const ROLE: &str = "GRANTKIT_CHILD_ROLE";
const FILE: &str = "GRANTKIT_CHILD_TOKEN_FILE";
const URL: &str = "GRANTKIT_CHILD_TOKEN_URL";
const WRITES: usize = 1000;
/// Kills per run. A non-atomic writer (truncate, then write) fails this test in most runs.
const ROUNDS: u64 = 20;

/// On a real disk (not tmpfs), so that fsync and rename cost what they cost.
fn work_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("grantkit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Token set number `i`: every field says `i`, with 64 KiB of padding so that a write takes a
/// while and a torn one would be visible.
fn numbered(i: usize) -> TokenSet {
    let json = serde_json::json!({
        "access_token": format!("at-{i}"),
        "refresh_token": format!("rt-{i}"),
        "expires_in": 3600,
        "n": i,
        "pad": format!("{i:08}").repeat(8192),
    });
    TokenSet::from_response(json.to_string().as_bytes(), std::time::SystemTime::now()).unwrap()
}

fn child(role: &str, test: &str, env: &[(&str, &str)]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    cmd
}

/// Child: saves token sets 0..1000 to the file, one after the other.
#[test]
fn child_writer() {
    if std::env::var(ROLE).as_deref() != Ok("writer") {
        return;
    }
    let store = FileTokenStore::new(std::env::var(FILE).unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        for i in 0..WRITES {
            store.save(&numbered(i)).await.unwrap();
        }
    });
}

#[tokio::test]
async fn sigkill_in_the_middle_of_1000_writes_leaves_a_file_that_loads() {
    let dir = work_dir("sigkill");
    let path = dir.join("tokens.json");
    let mut killed_mid_way = 0;
    for round in 0..ROUNDS {
        let _ = std::fs::remove_file(&path);
        let mut writer = child("writer", "child_writer", &[(FILE, path.to_str().unwrap())])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while !path.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the writer never wrote"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Different points in the write loop each round.
        tokio::time::sleep(Duration::from_millis(2 + round * 3 % 37)).await;
        let still_running = writer.try_wait().unwrap().is_none();
        writer.kill().await.unwrap(); // SIGKILL
        let status = writer.wait().await.unwrap();

        let loaded = FileTokenStore::new(&path)
            .load()
            .await
            .unwrap_or_else(|e| panic!("round {round}: the file does not load: {e}"))
            .expect("the file exists");
        let n = loaded.extra()["n"].as_u64().unwrap();
        assert_eq!(
            loaded,
            numbered(n as usize).clone_with_same_expiry(&loaded),
            "round {round}: torn"
        );
        if still_running && n < WRITES as u64 - 1 {
            killed_mid_way += 1;
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(9), "killed by SIGKILL");
        }
        eprintln!("round {round}: killed after write {n} (running: {still_running})");
    }
    assert!(
        killed_mid_way >= ROUNDS - 2,
        "only {killed_mid_way} of {ROUNDS} kills hit the write loop"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Compares everything but `expires_at`, which depends on when each set was made.
trait SameExpiry {
    fn clone_with_same_expiry(self, other: &TokenSet) -> TokenSet;
}

impl SameExpiry for TokenSet {
    fn clone_with_same_expiry(self, other: &TokenSet) -> TokenSet {
        let mut json = serde_json::to_value(&self).unwrap();
        json["expires_at"] = serde_json::to_value(other).unwrap()["expires_at"].clone();
        serde_json::from_value(json).unwrap()
    }
}

/// Child: a token source on the shared file; 50 concurrent `access_token()` calls; prints the
/// token they all got.
#[test]
fn child_refresher() {
    if std::env::var(ROLE).as_deref() != Ok("refresher") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let source = TokenSource::builder(client_for(&std::env::var(URL).unwrap()))
            .store(FileTokenStore::new(std::env::var(FILE).unwrap()))
            .build()
            .await
            .unwrap();
        let handles: Vec<_> = (0..50)
            .map(|_| {
                let source = source.clone();
                tokio::spawn(async move { source.access_token().await.unwrap() })
            })
            .collect();
        let mut tokens = Vec::new();
        for h in handles {
            tokens.push(h.await.unwrap().expose().to_owned());
        }
        assert!(tokens.iter().all(|t| *t == tokens[0]), "{tokens:?}");
        println!("GRANTKIT_CHILD_TOKEN={}", tokens[0]);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_sharing_a_token_file_refresh_once() {
    let fake = Fake::start().await;
    fake.set_delay(Duration::from_millis(300));
    fake.set_live_refresh_token(Some("rt-0")); // a second use of rt-0 would be invalid_grant
    let dir = work_dir("processes");
    let path = dir.join("tokens.json");
    FileTokenStore::new(&path)
        .save(&expired("at-0", Some("rt-0")))
        .await
        .unwrap();
    let env = [(FILE, path.to_str().unwrap()), (URL, fake.url.as_str())];
    let children: Vec<_> = (0..4)
        .map(|_| child("refresher", "child_refresher", &env).spawn().unwrap())
        .collect();
    let mut tokens = Vec::new();
    for c in children {
        let out = c.wait_with_output().await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "a child failed: {stdout}");
        // libtest may print our line right after "test child_refresher ... ".
        let token = stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix("GRANTKIT_CHILD_TOKEN="))
            .unwrap_or_else(|| panic!("no token in the child's output: {stdout}"))
            .to_owned();
        tokens.push(token);
    }
    assert_eq!(tokens, ["at-1"; 4]);
    assert_eq!(fake.token_requests(), 1, "one refresh for four processes");
    let stored = FileTokenStore::new(&path).load().await.unwrap().unwrap();
    assert_eq!(stored.refresh_token().unwrap().expose(), "rt-1");
    std::fs::remove_dir_all(dir).unwrap();
}
