//! `PostgresTokenStore` against a real PostgreSQL (`GRANTKIT_TEST_POSTGRES_URL`, started by
//! `scripts/start-services`): the testkit's store contract (`grantkit_testkit::store_contract`),
//! one refresh per expiry for 4 processes × 50 tasks, a SIGKILLed lock holder, and sealed
//! tokens, as the Redis store proves them; then what is PostgreSQL's own.
#![cfg(unix)]

use std::sync::Arc;
use std::time::Duration;

use grantkit::store::{BoxFuture, StoreKey, TokenStore};
use grantkit_store_postgres::PostgresTokenStores;
use grantkit_testkit::store_contract::{env_or_skip, unique_subject, Backend, Settings};
use grantkit_testkit::token_endpoint::{concurrent_calls, expired, FakeTokenEndpoint};

struct Postgres;

impl Backend for Postgres {
    const NAME: &'static str = "PostgreSQL";

    fn location(test: &str) -> Option<String> {
        env_or_skip(test, Self::NAME, "GRANTKIT_TEST_POSTGRES_URL")
    }

    fn store(
        url: String,
        key: StoreKey,
        settings: Settings,
    ) -> BoxFuture<'static, Arc<dyn TokenStore>> {
        Box::pin(async move {
            let mut stores = PostgresTokenStores::connect(&url)
                .await
                .unwrap()
                .lock_wait(settings.lock_wait)
                .dead_holder_timeout(settings.lease);
            if let Some(keys) = settings.keys {
                stores = stores.sealing(keys);
            }
            stores.migrate().await.unwrap();
            Arc::new(stores.store(key)) as Arc<dyn TokenStore>
        })
    }
}

grantkit_testkit::store_contract_tests!(Postgres);
// The killed process's connection closes and PostgreSQL ends its session at once; the
// keepalive bound (3 s here) is for a holder whose host vanished without a FIN.
grantkit_testkit::replica_tests!(Postgres, Duration::from_secs(3));
grantkit_testkit::sealing_tests!(Postgres, raw_row);

/// The stored bytes, straight from the table.
fn raw_row<'a>(url: &'a str, key: &'a StoreKey) -> BoxFuture<'a, Vec<u8>> {
    Box::pin(async move {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let (bytes,): (Vec<u8>,) = sqlx::query_as(
            "SELECT tokens FROM grantkit_tokens WHERE provider = $1 AND client_id = $2 AND subject = $3",
        )
        .bind(key.provider())
        .bind(key.client())
        .bind(key.subject())
        .fetch_one(&pool)
        .await
        .unwrap();
        bytes
    })
}

#[tokio::test]
async fn migration_is_idempotent_and_concurrent_safe() {
    let Some(url) = Postgres::location("postgres_migration_is_idempotent") else {
        return;
    };
    let stores = PostgresTokenStores::connect(&url).await.unwrap();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let stores = stores.clone();
            tokio::spawn(async move { stores.migrate().await })
        })
        .collect();
    for r in runs {
        r.await.unwrap().unwrap();
    }
    stores.migrate().await.unwrap();
}

/// A refresh uses one connection: `load` and `save` under the lock run on the lock's own
/// connection, so even a pool of one connection refreshes (with separate connections the
/// holder would wait for a connection its own lock holds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_needs_only_one_pooled_connection() {
    let Some(url) = Postgres::location("a_refresh_needs_only_one_pooled_connection") else {
        return;
    };
    let fake = FakeTokenEndpoint::start().await;
    fake.set_live_refresh_token(Some("rt-0"));
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&url)
        .await
        .unwrap();
    let stores = PostgresTokenStores::new(pool).lock_wait(Duration::from_secs(5));
    stores.migrate().await.unwrap();
    let key = StoreKey::for_client(&fake.client(), unique_subject("one-connection"));
    let source = grantkit::TokenSource::builder(fake.client())
        .store(stores.store(key.clone()))
        .tokens(expired("at-0", Some("rt-0")))
        .build()
        .await
        .unwrap();
    let tokens = concurrent_calls(&source, 20).await;
    assert!(tokens
        .iter()
        .all(|t| t.as_ref().unwrap().expose() == "at-1"));
    assert_eq!(fake.token_requests(), 1);
    stores.store(key).delete().await.unwrap();
}

/// Two replicas' pools share one memory of logout tokens' `jti`s (schema 2), and expired rows
/// can be removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_guard_admits_each_id_once_across_pools() {
    let test = "replay_guard_admits_each_id_once_across_pools";
    let Some(url) = Postgres::location(test) else {
        return;
    };
    let a = PostgresTokenStores::connect(&url).await.unwrap();
    a.migrate().await.unwrap();
    let b = PostgresTokenStores::connect(&url).await.unwrap();
    let scope = grantkit_testkit::store_contract::unique_subject(test);
    grantkit_testkit::store_contract::replay_guard_admits_each_id_once(
        [Arc::new(a.clone()), Arc::new(b)],
        &scope,
    )
    .await;
    let past = std::time::SystemTime::now() - Duration::from_secs(3600);
    sqlx::query("UPDATE grantkit_seen SET expires_at = to_timestamp($1) WHERE scope = $2")
        .bind(
            past.duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64(),
        )
        .bind(&scope)
        .execute(a.pool())
        .await
        .unwrap();
    use grantkit::store::ReplayGuard;
    let later = std::time::SystemTime::now() + Duration::from_secs(60);
    assert!(
        a.first_use(&scope, "jti-1", later).await.unwrap(),
        "an expired id is new again"
    );
    assert!(
        a.forget_expired_ids().await.unwrap() >= 1,
        "jti-2 expired and goes"
    );
}
