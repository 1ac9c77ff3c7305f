//! `TokenSource` and `AuthorizedClient` against a counting fake token endpoint (see
//! `grantkit_testkit::token_endpoint`). Each test names the guarantee it proves.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use grantkit::provider::Quirks;
use grantkit::store::{
    BoxFuture, FileTokenStore, MemoryTokenStore, StoreError, StoreLock, TokenStore,
};
use grantkit::{AuthorizedClient, Error, OAuthErrorCode, Provider, Result, TokenSet, TokenSource};
use grantkit_testkit::token_endpoint::{
    concurrent_calls, expired, valid_for, Behaviour, FakeTokenEndpoint as Fake,
};

/// Joins spawned tasks, in order.
async fn join_all<T: Send + 'static>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("task panicked"));
    }
    out
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("grantkit-ts-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_callers_share_exactly_one_refresh() {
    let fake = Fake::start().await;
    fake.set_delay(Duration::from_millis(50));
    fake.set_live_refresh_token(Some("rt-0"));
    let source = TokenSource::builder(fake.client())
        .tokens(expired("at-0", Some("rt-0")))
        .build()
        .await
        .unwrap();

    let results = concurrent_calls(&source, 1000).await;

    assert_eq!(fake.token_requests(), 1, "exactly one refresh request");
    let tokens: Vec<_> = results.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(tokens.len(), 1000);
    assert!(
        tokens.iter().all(|t| t.expose() == "at-1"),
        "all get the fresh token"
    );
    assert!(
        tokens.iter().all(|t| t.ptr_eq(&tokens[0])),
        "one shared token set, no copies"
    );
    assert_eq!(
        source
            .current()
            .token_set()
            .refresh_token()
            .unwrap()
            .expose(),
        "rt-1"
    );
    // Fresh now: further calls do not refresh.
    concurrent_calls(&source, 100).await;
    assert_eq!(fake.token_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_reaches_every_waiter_and_invalid_grant_means_reauthorize() {
    let fake = Fake::start().await;
    fake.set_delay(Duration::from_millis(50));
    fake.set_behaviour(Behaviour::Fail(400, "invalid_grant"));
    let source = TokenSource::builder(fake.client())
        .tokens(expired("at-0", Some("rt-0")))
        .build()
        .await
        .unwrap();

    let results = concurrent_calls(&source, 1000).await;

    assert_eq!(
        fake.token_requests(),
        1,
        "one request for all 1,000 waiters"
    );
    for r in &results {
        let e = r.as_ref().unwrap_err();
        assert_eq!(e.oauth_code(), Some(&OAuthErrorCode::InvalidGrant), "{e}");
        assert!(e.is_reauthorization_required());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_reaches_every_waiter_and_the_next_call_retries() {
    let fake = Fake::start().await;
    fake.set_delay(Duration::from_millis(50));
    fake.set_behaviour(Behaviour::Fail(503, "temporarily_unavailable"));
    let source = TokenSource::builder(fake.client())
        .tokens(expired("at-0", Some("rt-0")))
        .build()
        .await
        .unwrap();

    let results = concurrent_calls(&source, 200).await;
    assert_eq!(fake.token_requests(), 1);
    assert!(results
        .iter()
        .all(|r| r.as_ref().unwrap_err().is_transient()));
    assert!(!results[0]
        .as_ref()
        .unwrap_err()
        .is_reauthorization_required());

    fake.set_behaviour(Behaviour::Rotate);
    let results = concurrent_calls(&source, 200).await;
    assert_eq!(
        fake.token_requests(),
        2,
        "a new call after a failure tries again, once"
    );
    assert!(results
        .iter()
        .all(|r| r.as_ref().unwrap().expose() == "at-1"));
}

/// A store whose saves can be made to fail, and which records what it saved.
#[derive(Default)]
struct FlakyStore {
    inner: MemoryTokenStore,
    fail_saves: AtomicBool,
    saves: AtomicUsize,
}

impl TokenStore for FlakyStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenSet>>> {
        self.inner.load()
    }
    fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if self.fail_saves.load(Ordering::SeqCst) {
                return Err(StoreError::Io {
                    store: "the flaky store".into(),
                    operation: "write",
                    message: "disk full".into(),
                }
                .into());
            }
            self.saves.fetch_add(1, Ordering::SeqCst);
            self.inner.save(tokens).await
        })
    }
    fn delete(&self) -> BoxFuture<'_, Result<()>> {
        self.inner.delete()
    }
    fn lock(&self) -> BoxFuture<'_, Result<StoreLock>> {
        self.inner.lock()
    }
}

#[tokio::test]
async fn a_rotated_pair_is_never_handed_out_unsaved_nor_lost_when_the_save_fails() {
    let fake = Fake::start().await;
    fake.set_live_refresh_token(Some("rt-0")); // strict rotation: rt-0 dies on use
    let store = Arc::new(FlakyStore::default());
    let source = TokenSource::builder(fake.client())
        .store(store.clone())
        .tokens(expired("at-0", Some("rt-0")))
        .build()
        .await
        .unwrap();

    store.fail_saves.store(true, Ordering::SeqCst);
    let e = source.access_token().await.unwrap_err();
    assert!(matches!(e, Error::Store(StoreError::Io { .. })), "{e:?}");
    assert_eq!(
        fake.token_requests(),
        1,
        "the server rotated rt-0 into rt-1"
    );
    assert_eq!(
        source.current().expose(),
        "at-0",
        "the unsaved pair was not handed out"
    );

    store.fail_saves.store(false, Ordering::SeqCst);
    let token = source.access_token().await.unwrap();
    assert_eq!(
        fake.token_requests(),
        1,
        "the kept pair is saved, not refreshed again"
    );
    assert_eq!(token.expose(), "at-1");
    let stored = store.load().await.unwrap().unwrap();
    assert_eq!(stored.refresh_token().unwrap().expose(), "rt-1");

    // rt-1 is the live one: a forced refresh with it succeeds (rt-0 would be invalid_grant).
    let token = source.force_refresh().await.unwrap();
    assert_eq!(token.expose(), "at-2");
    assert_eq!(fake.token_requests(), 2);
}

#[tokio::test]
async fn the_previous_refresh_token_is_kept_when_the_server_sends_none() {
    let fake = Fake::start().await;
    fake.set_behaviour(Behaviour::KeepRefreshToken);
    let store = MemoryTokenStore::new();
    let source = TokenSource::builder(fake.client())
        .store(store.clone())
        .tokens(expired("at-0", Some("rt-0")))
        .build()
        .await
        .unwrap();
    let token = source.access_token().await.unwrap();
    assert_eq!(token.expose(), "at-1");
    assert_eq!(token.token_set().refresh_token().unwrap().expose(), "rt-0");
    let stored = store.load().await.unwrap().unwrap();
    assert_eq!(stored.access_token().expose(), "at-1");
    assert_eq!(stored.refresh_token().unwrap().expose(), "rt-0");
}

#[tokio::test]
async fn on_refresh_runs_after_the_save_and_before_the_token_is_handed_out() {
    let fake = Fake::start().await;
    let dir = temp_dir("hook");
    let store = FileTokenStore::new(dir.join("tokens.json"));
    let path = store.path().to_owned();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let hook_seen = seen.clone();
    let source = TokenSource::builder(fake.client())
        .store(store)
        .tokens(expired("at-0", Some("rt-0")))
        .on_refresh(move |tokens| {
            // The file already holds the new pair when the hook runs.
            let on_disk: TokenSet = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            assert_eq!(&on_disk, tokens);
            hook_seen
                .lock()
                .unwrap()
                .push(tokens.access_token().expose().to_owned());
        })
        .build()
        .await
        .unwrap();
    assert!(
        seen.lock().unwrap().is_empty(),
        "not called for the initial tokens"
    );
    let token = source.access_token().await.unwrap();
    assert_eq!(*seen.lock().unwrap(), ["at-1"]);
    assert_eq!(token.expose(), "at-1");
    source.access_token().await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 1, "once per refresh");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_token_refreshed_by_another_process_is_reread_not_refreshed_again() {
    let fake = Fake::start().await;
    fake.set_live_refresh_token(Some("rt-0"));
    let shared = MemoryTokenStore::new();
    let build = || {
        TokenSource::builder(fake.client())
            .store(shared.clone())
            .tokens(expired("at-0", Some("rt-0")))
    };
    let a = build().build().await.unwrap();
    let b = TokenSource::builder(fake.client())
        .store(shared.clone())
        .build()
        .await
        .unwrap(); // loads at-0 from the store
    assert_eq!(b.current().expose(), "at-0");

    assert_eq!(a.access_token().await.unwrap().expose(), "at-1");
    // b's copy is expired, and its rt-0 is dead: it must take a's result from the store.
    assert_eq!(b.access_token().await.unwrap().expose(), "at-1");
    assert_eq!(fake.token_requests(), 1);
}

/// A shared store whose lock excludes nobody: what two replicas see when one's lock lease ran
/// out while it was still refreshing.
struct LeaseExpired(MemoryTokenStore);

impl TokenStore for LeaseExpired {
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenSet>>> {
        self.0.load()
    }
    fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, Result<()>> {
        self.0.save(tokens)
    }
    fn delete(&self) -> BoxFuture<'_, Result<()>> {
        self.0.delete()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_grant_after_a_concurrent_rotation_uses_the_stored_winner() {
    let fake = Fake::start().await;
    fake.set_delay(Duration::from_millis(200));
    fake.set_live_refresh_token(Some("rt-0"));
    let shared = MemoryTokenStore::with_tokens(expired("at-0", Some("rt-0")));
    let source = || async {
        TokenSource::builder(fake.client())
            .store(LeaseExpired(shared.clone()))
            .build()
            .await
            .unwrap()
    };
    let (a, b) = (source().await, source().await);
    // Both present rt-0; a's request is answered first (rotation to rt-1, saved), b's 50 ms
    // later with invalid_grant. b finds a's newer pair in the store and uses it.
    let first = tokio::spawn(async move { a.access_token().await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = b.access_token().await.expect("b uses the stored winner");
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.expose(), "at-1");
    assert_eq!(second.expose(), "at-1");
    assert_eq!(fake.token_requests(), 2, "two refreshes raced (no lock)");
    // With nothing newer in the store, invalid_grant stands.
    let lone = TokenSource::builder(fake.client())
        .store(LeaseExpired(MemoryTokenStore::new()))
        .tokens(expired("at-x", Some("rt-0")))
        .build()
        .await
        .unwrap();
    let e = lone.access_token().await.unwrap_err();
    assert!(e.is_reauthorization_required(), "{e}");
}

/// The same race for a resource's token (`access_token_for`): the loser's `invalid_grant`
/// is not a logout when the store holds the winner's newer pair with that resource's token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_grant_after_a_concurrent_rotation_for_a_resource_uses_the_stored_winner() {
    const RESOURCE: &str = "https://reports.example/";
    let fake = Fake::start().await;
    fake.set_delay(Duration::from_millis(200));
    fake.set_live_refresh_token(Some("rt-0"));
    let shared = MemoryTokenStore::with_tokens(valid_for("at-0", Some("rt-0"), 3600));
    let source = || async {
        TokenSource::builder(fake.client())
            .store(LeaseExpired(shared.clone()))
            .build()
            .await
            .unwrap()
    };
    let (a, b) = (source().await, source().await);
    let first = tokio::spawn(async move { a.access_token_for(RESOURCE).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = b
        .access_token_for(RESOURCE)
        .await
        .expect("b uses the stored winner");
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.expose(), "at-1");
    assert_eq!(second.expose(), "at-1");
    assert_eq!(fake.token_requests(), 2, "two refreshes raced (no lock)");
}

/// The race again, but the winner refreshed for another resource: the store holds a rotated
/// refresh token and no token for ours. The loser refreshes once more with the stored refresh
/// token instead of reporting `invalid_grant` (a logout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_grant_after_a_rotation_for_another_resource_refreshes_with_the_stored_token() {
    let fake = Fake::start().await;
    fake.set_delay(Duration::from_millis(200));
    fake.set_live_refresh_token(Some("rt-0"));
    let shared = MemoryTokenStore::with_tokens(valid_for("at-0", Some("rt-0"), 3600));
    let source = || async {
        TokenSource::builder(fake.client())
            .store(LeaseExpired(shared.clone()))
            .build()
            .await
            .unwrap()
    };
    let (a, b) = (source().await, source().await);
    let first = tokio::spawn(async move { a.access_token_for("https://orders.example/").await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = b
        .access_token_for("https://reports.example/")
        .await
        .expect("b refreshes again with the stored winner's refresh token");
    first.await.unwrap().unwrap();
    // The fake numbers its access tokens by request: the loser's second refresh is the third.
    assert_eq!(second.expose(), "at-3");
    assert_eq!(
        fake.token_requests(),
        3,
        "two raced, one more for the loser"
    );
}

/// RFC 6749 §5.2: `invalid_grant` to a refresh means the refresh token is invalid, expired or
/// revoked, so sending it again cannot succeed; it only loads the provider (and its abuse
/// detection) once per call. `access_token_for` records it like the main refresh does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_grant_for_a_resource_is_not_sent_again() {
    const RESOURCE: &str = "https://reports.example/";
    let fake = Fake::start().await;
    fake.set_behaviour(Behaviour::Fail(400, "invalid_grant"));
    let source = TokenSource::builder(fake.client())
        .tokens(valid_for("at-0", Some("rt-0"), 3600))
        .build()
        .await
        .unwrap();
    for _ in 0..10 {
        let e = source.access_token_for(RESOURCE).await.unwrap_err();
        assert_eq!(e.oauth_code(), Some(&OAuthErrorCode::InvalidGrant), "{e}");
        assert!(e.is_reauthorization_required(), "{e}");
    }
    assert_eq!(
        fake.token_requests(),
        1,
        "the recorded answer, not a request per call with the dead refresh token"
    );
    // The grant is dead for every refresh with that token (RFC 6749 §5.2), the main token's
    // too; a new refresh token in the store clears the record.
    let e = source.force_refresh().await.unwrap_err();
    assert!(e.is_reauthorization_required(), "{e}");
    assert_eq!(
        fake.token_requests(),
        1,
        "the main refresh sent the dead token"
    );
    fake.set_behaviour(Behaviour::Rotate);
    source
        .set_tokens(valid_for("at-new", Some("rt-new"), 3600))
        .await
        .unwrap();
    assert!(source.access_token_for(RESOURCE).await.is_ok());
    assert_eq!(fake.token_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sources_sharing_a_file_refresh_once_under_its_lock() {
    let fake = Fake::start().await;
    fake.set_delay(Duration::from_millis(50));
    fake.set_live_refresh_token(Some("rt-0"));
    let dir = temp_dir("shared-file");
    let path = dir.join("tokens.json");
    // Two independent sources (separate single flights), like two processes: only the file's
    // lock and the re-read keep them from both refreshing.
    let a = TokenSource::builder(fake.client())
        .store(FileTokenStore::new(&path))
        .tokens(expired("at-0", Some("rt-0")))
        .build()
        .await
        .unwrap();
    let b = TokenSource::builder(fake.client())
        .store(FileTokenStore::new(&path))
        .build()
        .await
        .unwrap();
    let (ra, rb) = tokio::join!(concurrent_calls(&a, 200), concurrent_calls(&b, 200));
    assert_eq!(fake.token_requests(), 1, "one refresh across both sources");
    for r in ra.iter().chain(&rb) {
        assert_eq!(r.as_ref().unwrap().expose(), "at-1");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn the_margin_decides_when_to_refresh() {
    let fake = Fake::start().await;
    let soon = || valid_for("at-0", Some("rt-0"), 30);
    let patient = TokenSource::builder(fake.client())
        .margin(Duration::from_secs(10))
        .refresh_ahead(Duration::ZERO)
        .tokens(soon())
        .build()
        .await
        .unwrap();
    assert_eq!(patient.access_token().await.unwrap().expose(), "at-0");
    assert_eq!(
        fake.token_requests(),
        0,
        "30 s left, margin 10 s: no refresh"
    );

    let default = TokenSource::builder(fake.client())
        .tokens(soon())
        .build()
        .await
        .unwrap();
    assert_eq!(default.margin(), Duration::from_secs(60));
    assert_eq!(default.access_token().await.unwrap().expose(), "at-1");
    assert_eq!(
        fake.token_requests(),
        1,
        "30 s left, default margin 60 s: refreshed"
    );
}

#[tokio::test]
async fn without_a_refresh_token_or_refresh_support_an_expired_token_needs_reauthorization() {
    let fake = Fake::start().await;
    let no_refresh_token = TokenSource::builder(fake.client())
        .tokens(expired("at-0", None))
        .build()
        .await
        .unwrap();
    let e = no_refresh_token.access_token().await.unwrap_err();
    assert!(matches!(e, Error::NoRefreshToken), "{e:?}");
    assert!(e.is_reauthorization_required());

    let provider = Provider::builder("no refresh")
        .token_endpoint(&format!("{}/token", fake.url))
        .quirks(Quirks::default().refresh_tokens(false))
        .build()
        .unwrap();
    let client = grantkit::Client::builder(provider, "c").build().unwrap();
    let no_support = TokenSource::builder(client)
        .tokens(expired("at-0", Some("rt-0")))
        .build()
        .await
        .unwrap();
    assert!(no_support
        .access_token()
        .await
        .unwrap_err()
        .is_reauthorization_required());
    assert_eq!(fake.token_requests(), 0, "no request is even tried");
}

#[tokio::test]
async fn an_empty_store_needs_reauthorization() {
    let fake = Fake::start().await;
    let e = TokenSource::builder(fake.client())
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Store(StoreError::NoTokens { .. })),
        "{e:?}"
    );
    assert!(e.is_reauthorization_required());

    let dir = temp_dir("missing");
    let e = TokenSource::builder(fake.client())
        .store(FileTokenStore::new(dir.join("tokens.json")))
        .build()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("tokens.json"), "names the file: {e}");
    assert!(e.is_reauthorization_required());

    // Tokens deleted by another process (logout) while this one runs.
    let store = MemoryTokenStore::new();
    let source = TokenSource::builder(fake.client())
        .store(store.clone())
        .tokens(expired("at-0", Some("rt-0")))
        .build()
        .await
        .unwrap();
    store.delete().await.unwrap();
    assert!(source
        .access_token()
        .await
        .unwrap_err()
        .is_reauthorization_required());
    assert_eq!(fake.token_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_if_current_replaces_a_rejected_token_once() {
    let fake = Fake::start().await;
    fake.set_delay(Duration::from_millis(20));
    let source = TokenSource::builder(fake.client())
        .tokens(valid_for("at-0", Some("rt-0"), 3600))
        .build()
        .await
        .unwrap();
    let rejected = source.access_token().await.unwrap();
    let handles = (0..100)
        .map(|_| {
            let (source, rejected) = (source.clone(), rejected.clone());
            tokio::spawn(async move { source.refresh_if_current(&rejected).await })
        })
        .collect();
    let results = join_all(handles).await;
    assert_eq!(fake.token_requests(), 1);
    assert!(results
        .iter()
        .all(|r| r.as_ref().unwrap().expose() == "at-1"));
    // Later, the same stale token again: already replaced, no request.
    assert_eq!(
        source.refresh_if_current(&rejected).await.unwrap().expose(),
        "at-1"
    );
    assert_eq!(fake.token_requests(), 1);
    // set_tokens (after a new login) replaces without a request and persists.
    source
        .set_tokens(valid_for("at-login", Some("rt-login"), 3600))
        .await
        .unwrap();
    assert_eq!(source.access_token().await.unwrap().expose(), "at-login");
}

#[tokio::test]
async fn a_cancelled_caller_does_not_cancel_the_refresh() {
    let fake = Fake::start().await;
    fake.set_delay(Duration::from_millis(100));
    fake.set_live_refresh_token(Some("rt-0"));
    let store = MemoryTokenStore::new();
    let source = TokenSource::builder(fake.client())
        .store(store.clone())
        .tokens(expired("at-0", Some("rt-0")))
        .build()
        .await
        .unwrap();
    let gave_up = tokio::time::timeout(Duration::from_millis(20), source.access_token()).await;
    assert!(gave_up.is_err(), "the caller timed out mid-refresh");
    // The refresh goes on and saves the rotated pair.
    let token = source.access_token().await.unwrap();
    assert_eq!(token.expose(), "at-1");
    assert_eq!(fake.token_requests(), 1);
    let stored = store.load().await.unwrap().unwrap();
    assert_eq!(stored.refresh_token().unwrap().expose(), "rt-1");
}

#[tokio::test]
async fn static_tokens_are_never_refreshed() {
    let fake = Fake::start().await;
    fake.set_valid_access_token(Some("someone-else"));
    let source = TokenSource::static_token("polar_oat_xyz");
    for _ in 0..10 {
        assert_eq!(
            source.access_token().await.unwrap().expose(),
            "polar_oat_xyz"
        );
    }
    let api = AuthorizedClient::new(source).unwrap();
    // A revoked static token: nothing to refresh with, so re-authorization is required.
    let e = api
        .get(format!("{}/resource", fake.url))
        .send()
        .await
        .unwrap_err();
    assert!(e.is_reauthorization_required(), "{e:?}");
    assert_eq!(fake.token_requests(), 0);
    assert_eq!(fake.resource_requests(), 1, "not retried");
}

async fn body(response: reqwest::Response) -> serde_json::Value {
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

/// A source whose current token (`at-0`) looks valid but that the resource server rejects.
async fn revoked_source(fake: &Fake) -> TokenSource {
    fake.set_valid_access_token(Some("not-at-0"));
    TokenSource::builder(fake.client())
        .tokens(valid_for("at-0", Some("rt-0"), 3600))
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn authorized_client_sends_the_token_and_retries_once_after_invalid_token() {
    let fake = Fake::start().await;
    let api = AuthorizedClient::new(revoked_source(&fake).await).unwrap();

    let response = api
        .get(format!("{}/resource", fake.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(body(response).await["authorization"], "Bearer at-1");
    assert_eq!(fake.token_requests(), 1, "one refresh");
    assert_eq!(fake.resource_requests(), 2, "one retry");

    // A replayable body is sent again on the retry.
    fake.set_valid_access_token(Some("revoked-again"));
    let response = api
        .post(format!("{}/resource", fake.url))
        .json(&serde_json::json!({"n": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let echoed = body(response).await;
    assert_eq!(echoed["authorization"], "Bearer at-2");
    assert_eq!(echoed["body"], r#"{"n":1}"#);
    assert_eq!(fake.token_requests(), 2);
    assert_eq!(fake.resource_requests(), 4);

    // Still rejected after the refresh: the 401 comes back; one refresh, one retry, no loop.
    fake.state
        .resource_rejects_all
        .store(true, Ordering::SeqCst);
    let response = api
        .get(format!("{}/resource", fake.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(fake.token_requests(), 3);
    assert_eq!(fake.resource_requests(), 6);
}

#[tokio::test]
async fn authorized_client_does_not_retry_streams_or_plain_401s() {
    let fake = Fake::start().await;
    let api = AuthorizedClient::new(revoked_source(&fake).await).unwrap();

    let stream = Once(Some(b"chunk".to_vec()));
    let response = api
        .post(format!("{}/resource", fake.url))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        401,
        "a stream cannot be replayed: the 401 as is"
    );
    assert_eq!(fake.token_requests(), 0);
    assert_eq!(fake.resource_requests(), 1);

    let response = api
        .get(format!("{}/resource-plain-401", fake.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        401,
        "no invalid_token: not a token problem"
    );
    assert_eq!(fake.token_requests(), 0);
    assert_eq!(fake.resource_requests(), 2);
}

/// A one-chunk body stream: a body reqwest cannot clone.
struct Once(Option<Vec<u8>>);

impl futures_core::Stream for Once {
    type Item = std::result::Result<Vec<u8>, std::io::Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.take().map(Ok))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_rejected_together_cause_one_refresh() {
    let fake = Fake::start().await;
    fake.set_delay(Duration::from_millis(20));
    let api = AuthorizedClient::new(revoked_source(&fake).await).unwrap();
    let handles = (0..50)
        .map(|_| {
            let (api, url) = (api.clone(), format!("{}/resource", fake.url));
            tokio::spawn(async move { api.get(url).send().await.unwrap().status() })
        })
        .collect();
    let statuses = join_all(handles).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(fake.token_requests(), 1);
}

#[tokio::test]
async fn authorized_client_reports_a_dead_grant() {
    let fake = Fake::start().await;
    let api = AuthorizedClient::new(revoked_source(&fake).await).unwrap();
    fake.set_behaviour(Behaviour::Fail(400, "invalid_grant"));
    let e = api
        .get(format!("{}/resource", fake.url))
        .send()
        .await
        .unwrap_err();
    assert!(e.is_reauthorization_required(), "{e:?}");
    assert!(
        !format!("{e} {e:?}").contains("at-0"),
        "no token in the error"
    );
}

/// Waits (up to 20 s) until the source holds `access`: a background refresh finished.
async fn wait_for_current(source: &TokenSource, access: &str) {
    let started = std::time::Instant::now();
    while source.current().expose() != access {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the source still holds {:?}, not {access}",
            source.current().expose()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `n` concurrent `access_token()` calls that must all be served without the provider: a
/// caller that waits for the (held) refresh would hang, so hanging for 10 s fails the test.
async fn callers_served_at_once(source: &TokenSource, n: usize) -> Vec<grantkit::AccessToken> {
    tokio::time::timeout(Duration::from_secs(10), concurrent_calls(source, n))
        .await
        .expect("a caller waited on the held token request")
        .into_iter()
        .map(|r| r.unwrap())
        .collect()
}

/// A source refreshing ahead: margin 10 s, window 60 s, so a token valid 30 s more is in its
/// window and usable for 20 s.
fn refreshing_ahead(fake: &Fake) -> grantkit::TokenSourceBuilder {
    TokenSource::builder(fake.client())
        .margin(Duration::from_secs(10))
        .refresh_ahead(Duration::from_secs(60))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_ahead_no_caller_waits_while_the_token_is_valid_and_one_refresh_per_expiry() {
    let fake = Fake::start().await;
    fake.set_live_refresh_token(Some("rt-0")); // strict rotation: a second refresh would fail
    let source = refreshing_ahead(&fake)
        .tokens(valid_for("old-1", Some("rt-0"), 30))
        .build()
        .await
        .unwrap();
    for expiry in 1..=5 {
        if expiry > 1 {
            // The next expiry: the live pair, again 30 s from expiry.
            let live = source
                .current()
                .token_set()
                .refresh_token()
                .unwrap()
                .clone();
            let old = valid_for(&format!("old-{expiry}"), Some(live.expose()), 30);
            source.set_tokens(old).await.unwrap();
        }
        let old = format!("old-{expiry}");
        let held = fake.hold().await;
        let first = callers_served_at_once(&source, 200).await;
        assert!(
            first.iter().all(|t| t.expose() == old),
            "{expiry}: {first:?}"
        );
        fake.wait_for_token_requests(expiry).await; // the background refresh is under way
        let during = callers_served_at_once(&source, 200).await;
        assert!(during
            .iter()
            .all(|t| t.expose() == old && t.ptr_eq(&first[0])));
        assert_eq!(fake.token_requests(), expiry, "one refresh for 400 callers");
        drop(held);
        let new = format!("at-{expiry}");
        wait_for_current(&source, &new).await;
        let after = callers_served_at_once(&source, 200).await;
        assert!(after.iter().all(|t| t.expose() == new));
        assert_eq!(
            fake.token_requests(),
            expiry,
            "exactly one refresh per expiry"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_ahead_failure_is_retried_with_backoff_and_reported() {
    let fake = Fake::start().await;
    fake.set_behaviour(Behaviour::Fail(503, "temporarily_unavailable"));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let seen = failures.clone();
    // Usable for 3 to 4 s more (expiry has whole seconds): time for a few attempts.
    let source = refreshing_ahead(&fake)
        .tokens(valid_for("at-0", Some("rt-0"), 14))
        .on_refresh_error(move |e| {
            assert!(e.is_transient(), "{e}");
            seen.lock().unwrap().push(std::time::Instant::now());
        })
        .build()
        .await
        .unwrap();
    let mut handed_out = Vec::new();
    while !source.current().token_set().expires_within(source.margin()) {
        handed_out.push(source.access_token().await);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        handed_out
            .iter()
            .all(|r| r.as_ref().unwrap().expose() == "at-0"),
        "the valid token is handed out while the background refresh fails"
    );
    // The last attempt started before the token became unusable; let it finish.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let attempts = fake.token_requests();
    assert!(
        (2..=3).contains(&attempts),
        "retried, bounded by the token's usable time: {attempts} attempts"
    );
    let failures = failures.lock().unwrap().clone();
    assert_eq!(failures.len(), attempts, "every failure is reported");
    for (i, pair) in failures.windows(2).enumerate() {
        let pause = pair[1] - pair[0];
        assert!(pause >= Duration::from_secs(1 << i), "pause {i}: {pause:?}");
    }
    // Unusable now: the caller refreshes in the foreground and gets the error itself.
    let e = source.access_token().await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert_eq!(fake.token_requests(), attempts + 1);
    fake.set_behaviour(Behaviour::Rotate);
    assert!(source
        .access_token()
        .await
        .unwrap()
        .expose()
        .starts_with("at-"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_ahead_invalid_grant_surfaces_once_the_token_is_unusable() {
    let fake = Fake::start().await;
    fake.set_behaviour(Behaviour::Fail(400, "invalid_grant"));
    let reported = Arc::new(AtomicUsize::new(0));
    let count = reported.clone();
    let source = refreshing_ahead(&fake)
        .tokens(valid_for("at-0", Some("rt-0"), 12)) // usable 1 to 2 s more
        .on_refresh_error(move |e| {
            assert!(e.is_reauthorization_required(), "{e}");
            count.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .await
        .unwrap();
    assert_eq!(source.access_token().await.unwrap().expose(), "at-0");
    fake.wait_for_token_requests(1).await;
    while !source.current().token_set().expires_within(source.margin()) {
        assert_eq!(source.access_token().await.unwrap().expose(), "at-0");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(fake.token_requests(), 1, "invalid_grant is not retried");
    assert_eq!(reported.load(Ordering::SeqCst), 1, "but reported");
    for _ in 0..3 {
        let e = source.access_token().await.unwrap_err();
        assert_eq!(e.oauth_code(), Some(&OAuthErrorCode::InvalidGrant), "{e}");
        assert!(e.is_reauthorization_required());
    }
    assert_eq!(
        fake.token_requests(),
        1,
        "the recorded answer, not a second request with the dead refresh token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_ahead_does_not_loop_on_tokens_shorter_than_the_window() {
    let fake = Fake::start().await;
    fake.set_expires_in(8); // shorter than margin + window (70 s)
    let source = refreshing_ahead(&fake)
        .margin(Duration::from_secs(1))
        .tokens(valid_for("at-0", Some("rt-0"), 30))
        .build()
        .await
        .unwrap();
    assert_eq!(source.access_token().await.unwrap().expose(), "at-0");
    wait_for_current(&source, "at-1").await;
    // at-1 lives 8 s: its window opens after half the time beyond the margin, not at once.
    for _ in 0..50 {
        assert_eq!(source.access_token().await.unwrap().expose(), "at-1");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(fake.token_requests(), 1, "no refresh right after a refresh");
}

#[tokio::test]
async fn refresh_ahead_zero_switches_it_off_and_the_default_is_60_s() {
    let fake = Fake::start().await;
    let source = refreshing_ahead(&fake)
        .refresh_ahead(Duration::ZERO)
        .tokens(valid_for("at-0", Some("rt-0"), 30))
        .build()
        .await
        .unwrap();
    for _ in 0..10 {
        assert_eq!(source.access_token().await.unwrap().expose(), "at-0");
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(fake.token_requests(), 0);
    let default = TokenSource::builder(fake.client())
        .tokens(valid_for("at-0", Some("rt-0"), 3600))
        .build()
        .await
        .unwrap();
    assert_eq!(default.refresh_ahead(), Duration::from_secs(60));
    assert_eq!(
        TokenSource::static_token("t").refresh_ahead(),
        Duration::ZERO
    );
}

#[test]
fn refresh_ahead_outside_a_tokio_runtime_hands_out_the_token_and_starts_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (fake, source) = rt.block_on(async {
        let fake = Fake::start().await;
        let source = refreshing_ahead(&fake)
            .tokens(valid_for("at-0", Some("rt-0"), 30))
            .build()
            .await
            .unwrap();
        (fake, source)
    });
    // Polled by another executor: no runtime to spawn on, no panic, the valid token.
    let token = grantkit_testkit::measure::ready(source.access_token()).unwrap();
    assert_eq!(token.expose(), "at-0");
    rt.block_on(async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(fake.token_requests(), 0, "nothing was started");
        // Inside the runtime, the same set's background refresh still starts (once).
        assert_eq!(source.access_token().await.unwrap().expose(), "at-0");
        wait_for_current(&source, "at-1").await;
        assert_eq!(fake.token_requests(), 1);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_ahead_saves_the_rotated_pair_even_when_every_source_is_dropped_mid_refresh() {
    let fake = Fake::start().await;
    fake.set_live_refresh_token(Some("rt-0"));
    let store = MemoryTokenStore::new();
    let source = refreshing_ahead(&fake)
        .store(store.clone())
        .tokens(valid_for("at-0", Some("rt-0"), 30))
        .build()
        .await
        .unwrap();
    let held = fake.hold().await;
    assert_eq!(source.access_token().await.unwrap().expose(), "at-0");
    fake.wait_for_token_requests(1).await; // the provider is rotating rt-0 right now
    drop(source);
    drop(held);
    // The background task owns the attempt: the rotated pair reaches the store.
    let started = std::time::Instant::now();
    loop {
        let stored = store.load().await.unwrap().unwrap();
        if stored.refresh_token().unwrap().expose() == "rt-1" {
            assert_eq!(stored.access_token().expose(), "at-1");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "rt-1 was lost");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A store whose lock panics once armed: a bug in an application's own store.
struct PanickingLock(MemoryTokenStore, Arc<AtomicBool>);

impl TokenStore for PanickingLock {
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenSet>>> {
        self.0.load()
    }
    fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, Result<()>> {
        self.0.save(tokens)
    }
    fn delete(&self) -> BoxFuture<'_, Result<()>> {
        self.0.delete()
    }
    fn lock(&self) -> BoxFuture<'_, Result<StoreLock>> {
        if self.1.load(Ordering::SeqCst) {
            return Box::pin(async { panic!("the store's lock is broken") });
        }
        self.0.lock()
    }
    fn describe(&self) -> String {
        "a store whose lock panics".into()
    }
}

/// Before, a panic in the background refresh ended its task with nothing but Tokio's own
/// message on stderr: the application's error hook never heard of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_ahead_a_panic_in_the_background_is_reported_to_the_error_hook() {
    let fake = Fake::start().await;
    let reported = Arc::new(Mutex::new(Vec::new()));
    let seen = reported.clone();
    let armed = Arc::new(AtomicBool::new(false));
    let source = refreshing_ahead(&fake)
        .store(PanickingLock(MemoryTokenStore::new(), armed.clone()))
        .tokens(valid_for("at-0", Some("rt-0"), 30))
        .on_refresh_error(move |e| seen.lock().unwrap().push(e.clone()))
        .build()
        .await
        .unwrap();
    armed.store(true, Ordering::SeqCst);
    // Inside the refresh-ahead window: the valid token is handed out and the background
    // refresh starts (and panics in the store's lock).
    assert_eq!(source.access_token().await.unwrap().expose(), "at-0");
    for _ in 0..200 {
        if !reported.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let reported = reported.lock().unwrap().clone();
    assert!(
        matches!(reported.as_slice(), [Error::Cancelled(what)] if what.contains("panicked")),
        "{reported:?}"
    );
    assert_eq!(fake.token_requests(), 0);
    // The token is still handed out while it is valid.
    assert_eq!(source.access_token().await.unwrap().expose(), "at-0");
}

/// `fresh_access_token` hands out the held token while it is valid past the margin, and
/// otherwise answers `None` without calling the token endpoint: the caller decides to wait.
#[tokio::test]
async fn fresh_access_token_never_refreshes_in_the_foreground() {
    let fake = Fake::start().await;
    fake.set_live_refresh_token(Some("rt-0"));
    let valid = TokenSource::builder(fake.client())
        .tokens(valid_for("at-valid", Some("rt-0"), 3600))
        .refresh_ahead(Duration::ZERO)
        .build()
        .await
        .unwrap();
    assert_eq!(valid.fresh_access_token().unwrap().expose(), "at-valid");
    let due = TokenSource::builder(fake.client())
        .tokens(expired("at-old", Some("rt-0")))
        .build()
        .await
        .unwrap();
    assert!(due.fresh_access_token().is_none());
    assert_eq!(fake.token_requests(), 0, "asked the token endpoint");
    // The full call refreshes, after which the held token is fresh again.
    let refreshed = due.access_token().await.unwrap();
    assert_eq!(fake.token_requests(), 1);
    assert_eq!(
        due.fresh_access_token().unwrap().expose(),
        refreshed.expose()
    );
}
