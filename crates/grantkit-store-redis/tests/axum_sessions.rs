//! grantkit-axum's sessions in Redis (feature `axum-sessions`, `GRANTKIT_TEST_REDIS_URL`): the
//! store's index and expiry, and two replicas of an app sharing one Redis, where a
//! back-channel logout received by one ends the session in the other.
#![cfg(feature = "axum-sessions")]

#[path = "../../grantkit-axum/tests/support/mod.rs"]
mod support;

use grantkit::store::TokenStore;
use grantkit_store_redis::{RedisSessionStore, RedisTokenStores};
use grantkit_testkit::session_contract::session_store_contract;
use grantkit_testkit::store_contract::{env_or_skip, unique_subject};
use std::sync::Arc;
use support::{Browser, TestApp, COOKIE};

fn redis_url(test: &str) -> Option<String> {
    env_or_skip(test, "Redis", "GRANTKIT_TEST_REDIS_URL")
}

/// grantkit-testkit's `SessionStore` contract: round trip, the sid/sub index, a save moving
/// its index entries, delete, and expiry (Redis's own `PXAT`, and the index sets it leaves).
#[tokio::test]
async fn redis_session_store_keeps_the_session_store_contract() {
    let Some(url) = redis_url("redis_session_store_keeps_the_session_store_contract") else {
        return;
    };
    let prefix = unique_subject("sessions");
    let store = RedisSessionStore::connect(&url)
        .await
        .unwrap()
        .prefix(&prefix);
    session_store_contract(&store).await;
}

/// A replica of the app: sessions, tokens and the replay memory in the one Redis.
async fn replica(
    test: &str,
    url: &str,
    prefix: &str,
    listener: tokio::net::TcpListener,
    peer_env: &[(&str, &str)],
) -> Option<TestApp> {
    let sessions = RedisSessionStore::connect(url)
        .await
        .unwrap()
        .prefix(prefix);
    let tokens = RedisTokenStores::connect(url).await.unwrap().prefix(prefix);
    // The token stores remember logout tokens' `jti`s too (`ReplayGuard`).
    let replay = tokens.clone();
    TestApp::start_on(test, listener, peer_env, move |builder| {
        builder
            .session_store(sessions)
            .replay_guard(replay)
            .token_stores(move |key| Arc::new(tokens.store(key.clone())) as Arc<dyn TokenStore>)
    })
    .await
}

#[tokio::test]
async fn backchannel_logout_received_by_one_replica_ends_the_session_in_the_other() {
    let test = "backchannel_logout_received_by_one_replica_ends_the_session_in_the_other";
    let Some(url) = redis_url(test) else {
        return;
    };
    let prefix = unique_subject("replicas");
    support::backchannel_logout_on_one_replica_ends_the_other(|listener, env| {
        let (url, prefix) = (url.clone(), prefix.clone());
        async move {
            let env: Vec<_> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            replica(test, &url, &prefix, listener, &env).await
        }
    })
    .await;
}

#[tokio::test]
async fn a_new_login_on_one_replica_replaces_the_tokens_the_other_replica_hands_out() {
    let test = "a_new_login_on_one_replica_replaces_the_tokens_the_other_replica_hands_out";
    let Some(url) = redis_url(test) else {
        return;
    };
    let prefix = unique_subject("relogin");
    let bind = || tokio::net::TcpListener::bind("127.0.0.1:0");
    let (a, b) = (bind().await.unwrap(), bind().await.unwrap());
    let origin_a = format!("http://{}", a.local_addr().unwrap());
    let env = [("PEER_WEB_APP_ORIGIN", origin_a.as_str())];
    let Some(app_a) = replica(test, &url, &prefix, a, &env).await else {
        return;
    };
    let app_b = replica(test, &url, &prefix, b, &env).await.unwrap();
    let proxy = |app: &TestApp, browser: &Browser| {
        let url = app.url("/bff/api/echo/orders");
        let browser = browser.clone();
        async move {
            let (status, _) = browser.spa_fetch(reqwest::Method::GET, &url, true).await;
            assert_eq!(status, 200);
        }
    };

    let browser = Browser::new(&app_a);
    browser.login(&app_a).await;
    let on_b = Browser::new(&app_b);
    on_b.plant(COOKIE, &browser.session_cookie().unwrap());
    proxy(&app_b, &on_b).await; // replica B now holds the first login's tokens

    // The user logs in again on A: new tokens in the shared store.
    browser.login(&app_a).await;
    proxy(&app_a, &browser).await;
    on_b.plant(COOKIE, &browser.session_cookie().unwrap());
    proxy(&app_b, &on_b).await;
    let (first, fresh_on_a, on_b_after) = (
        app_b.upstream.tokens()[0].clone(),
        app_a.upstream.tokens().last().cloned().unwrap(),
        app_b.upstream.tokens().last().cloned().unwrap(),
    );
    assert_ne!(first, fresh_on_a, "the second login got new tokens");
    assert_eq!(
        on_b_after, fresh_on_a,
        "replica B still sent the first login's token"
    );
}
