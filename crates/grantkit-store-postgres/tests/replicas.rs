//! `PostgresTokenStore` against a real PostgreSQL (`GRANTKIT_TEST_POSTGRES_URL`, started by
//! `scripts/start-services`): the store contract, one refresh per expiry for 4 processes × 50
//! tasks, a SIGKILLed lock holder, and sealed tokens. The proofs are shared with the Redis
//! store (`grantkit/tests/support/replicas.rs`).
#![cfg(unix)]

#[path = "../../grantkit/tests/support/replicas.rs"]
mod replicas;
#[path = "../../grantkit/tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use grantkit::{BoxFuture, StoreKey, TokenStore};
use grantkit_store_postgres::PostgresTokenStores;
use replicas::{Backend, Settings};

struct Postgres;

impl Backend for Postgres {
    const NAME: &'static str = "PostgreSQL";
    const URL_VAR: &'static str = "GRANTKIT_TEST_POSTGRES_URL";
    const CHILD_TEST: &'static str = "child_replica";

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

#[test]
fn child_replica() {
    replicas::child_main::<Postgres>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_contract() {
    replicas::store_contract::<Postgres>("postgres_store_contract").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_four_processes_refresh_once_per_expiry() {
    replicas::one_refresh_per_expiry_across_processes::<Postgres>(
        "postgres_four_processes_refresh_once_per_expiry",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_lock_holder_does_not_block_the_others() {
    // The killed process's connection closes and PostgreSQL ends its session at once; the
    // keepalive bound (3 s here) is for a holder whose host vanished without a FIN.
    replicas::a_killed_lock_holder_does_not_block_the_others::<Postgres>(
        "postgres_killed_lock_holder_does_not_block_the_others",
        Duration::from_secs(3),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sealed_tokens_round_trip_and_refuse_a_wrong_key() {
    replicas::sealed_tokens_round_trip_and_refuse_a_wrong_key::<Postgres, _>(
        "postgres_sealed_tokens_round_trip_and_refuse_a_wrong_key",
        |url, key| {
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
        },
    )
    .await;
}

#[tokio::test]
async fn postgres_migration_is_idempotent_and_concurrent_safe() {
    let Some(url) = replicas::url_or_skip::<Postgres>("postgres_migration_is_idempotent") else {
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
