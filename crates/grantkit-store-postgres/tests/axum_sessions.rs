//! grantkit-axum's sessions in PostgreSQL (feature `axum-sessions`, `GRANTKIT_TEST_POSTGRES_URL`):
//! grantkit-testkit's session store contract, expiry enforced by the queries, schema 2
//! upgrading to 3, and two replicas of an app on one database, where a back-channel logout
//! received by one ends the session in the other.
#![cfg(feature = "axum-sessions")]

#[path = "../../grantkit-axum/tests/support/mod.rs"]
mod support;

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use grantkit::store::{StoreKey, TokenStore};
use grantkit_axum::{SessionIndex, SessionStore};
use grantkit_store_postgres::{PostgresSessionStore, PostgresTokenStores};
use grantkit_testkit::session_contract::{session_store_contract, signed_in};
use grantkit_testkit::store_contract::{env_or_skip, unique_subject};
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, PgPool};
use support::TestApp;

fn postgres_url(test: &str) -> Option<String> {
    env_or_skip(test, "PostgreSQL", "GRANTKIT_TEST_POSTGRES_URL")
}

async fn migrated(url: &str) -> PostgresSessionStore {
    let store = PostgresSessionStore::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    store
}

#[tokio::test]
async fn postgres_session_store_keeps_the_session_store_contract() {
    let Some(url) = postgres_url("postgres_session_store_keeps_the_session_store_contract") else {
        return;
    };
    session_store_contract(&migrated(&url).await).await;
}

/// The expired row is still in the table (no sweep ran): only the queries' `expires_at > now()`
/// keeps it from being loaded or found.
#[tokio::test]
async fn an_expired_session_row_is_neither_loaded_nor_found_before_any_sweep() {
    let test = "an_expired_session_row_is_neither_loaded_nor_found_before_any_sweep";
    let Some(url) = postgres_url(test) else {
        return;
    };
    let store = migrated(&url).await;
    let (key, sub, sid) = (
        unique_subject("key"),
        unique_subject("sub"),
        unique_subject("sid"),
    );
    let past = SystemTime::now() - Duration::from_secs(5);
    store
        .save(&key, &signed_in(&sub, &sid), past)
        .await
        .unwrap();
    let pool = PgPool::connect(&url).await.unwrap();
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM grantkit_sessions WHERE key = $1")
        .bind(&key)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 1, "the expired row is stored");
    assert!(store.load(&key).await.unwrap().is_none());
    assert!(store
        .find(&SessionIndex::Sid(sid))
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .find(&SessionIndex::Subject(sub))
        .await
        .unwrap()
        .is_empty());
    assert!(store.forget_expired_sessions().await.unwrap() >= 1);
}

/// A pool whose connections work in their own PostgreSQL schema `schema` (created here).
async fn pool_in_schema(url: &str, schema: &str) -> PgPool {
    let admin = PgPool::connect(url).await.unwrap();
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&admin)
        .await
        .unwrap();
    let options = PgConnectOptions::from_str(url)
        .unwrap()
        .options([("search_path", schema)]);
    PgPool::connect_with(options).await.unwrap()
}

/// A database at schema 2 (a 0.2 deployment: tokens and one-time ids, no sessions) keeps its
/// tokens and gains the sessions table when `migrate` runs again.
#[tokio::test]
async fn a_schema_2_database_upgrades_to_sessions_and_keeps_its_tokens() {
    let test = "a_schema_2_database_upgrades_to_sessions_and_keeps_its_tokens";
    let Some(url) = postgres_url(test) else {
        return;
    };
    let schema = format!(
        "gk_upgrade_{}",
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let pool = pool_in_schema(&url, &schema).await;
    let schema_2 = concat!(
        include_str!("../migrations/0001_grantkit_tokens.sql"),
        include_str!("../migrations/0002_grantkit_seen.sql")
    );
    sqlx::raw_sql(schema_2).execute(&pool).await.unwrap();
    let tokens = PostgresTokenStores::new(pool.clone());
    let key = StoreKey::new("p", "c", "alice");
    let saved = grantkit_testkit::token_endpoint::valid_for("at", Some("rt"), 3600);
    tokens.store(key.clone()).save(&saved).await.unwrap();
    let sessions = PostgresSessionStore::new(pool.clone());
    assert!(
        sessions.load("k").await.is_err(),
        "schema 2 has no sessions table"
    );

    tokens.migrate().await.unwrap();
    let later = SystemTime::now() + Duration::from_secs(60);
    sessions
        .save("k", &signed_in("alice", "s1"), later)
        .await
        .unwrap();
    assert!(sessions.load("k").await.unwrap().is_some());
    let kept = tokens.store(key).load().await.unwrap().unwrap();
    assert_eq!(
        kept.access_token().expose(),
        "at",
        "the tokens survive the upgrade"
    );
    sqlx::query(AssertSqlSafe(format!("DROP SCHEMA \"{schema}\" CASCADE")))
        .execute(&pool)
        .await
        .unwrap();
}

/// A replica of the app: sessions, tokens and the replay memory in the one database.
async fn replica(
    test: &str,
    url: &str,
    listener: tokio::net::TcpListener,
    peer_env: &[(&str, &str)],
) -> Option<TestApp> {
    let sessions = migrated(url).await;
    let tokens = PostgresTokenStores::connect(url).await.unwrap();
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
async fn backchannel_logout_received_by_one_postgres_replica_ends_the_session_in_the_other() {
    let test = "backchannel_logout_received_by_one_postgres_replica_ends_the_session_in_the_other";
    let Some(url) = postgres_url(test) else {
        return;
    };
    support::backchannel_logout_on_one_replica_ends_the_other(|listener, env| {
        let url = url.clone();
        async move {
            let env: Vec<_> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            replica(test, &url, listener, &env).await
        }
    })
    .await;
}
