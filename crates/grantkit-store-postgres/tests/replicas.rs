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

// The killed process's connection closes and PostgreSQL ends its session at once; the
// keepalive bound (3 s here) is for a holder whose host vanished without a FIN.
replicas::store_proofs!(Postgres, Duration::from_secs(3), raw_row);

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
