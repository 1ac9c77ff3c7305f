//! `RedisTokenStore` against a real Redis (`GRANTKIT_TEST_REDIS_URL`, started by
//! `scripts/start-services`): the store contract, one refresh per expiry for 4 processes × 50
//! tasks, a SIGKILLed lock holder (its lease runs out), and sealed tokens. The proofs are
//! shared with the PostgreSQL store (`grantkit/tests/support/replicas.rs`).
#![cfg(unix)]

#[path = "../../grantkit/tests/support/replicas.rs"]
mod replicas;
#[path = "../../grantkit/tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use grantkit::{BoxFuture, StoreKey, TokenStore};
use grantkit_store_redis::RedisTokenStores;
use replicas::{Backend, Settings};

struct Redis;

impl Backend for Redis {
    const NAME: &'static str = "Redis";
    const URL_VAR: &'static str = "GRANTKIT_TEST_REDIS_URL";
    const CHILD_TEST: &'static str = "child_replica";

    fn store(
        url: String,
        key: StoreKey,
        settings: Settings,
    ) -> BoxFuture<'static, Arc<dyn TokenStore>> {
        Box::pin(async move {
            let mut stores = RedisTokenStores::connect(&url)
                .await
                .unwrap()
                .lock_wait(settings.lock_wait)
                .lock_lease(settings.lease);
            if let Some(keys) = settings.keys {
                stores = stores.sealing(keys);
            }
            Arc::new(stores.store(key)) as Arc<dyn TokenStore>
        })
    }
}

#[test]
fn child_replica() {
    replicas::child_main::<Redis>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_contract() {
    replicas::store_contract::<Redis>("redis_store_contract").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_four_processes_refresh_once_per_expiry() {
    replicas::one_refresh_per_expiry_across_processes::<Redis>(
        "redis_four_processes_refresh_once_per_expiry",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_lock_holder_does_not_block_the_others() {
    // The killed holder's watchdog stops renewing; its 3 s lease runs out.
    replicas::a_killed_lock_holder_does_not_block_the_others::<Redis>(
        "redis_killed_lock_holder_does_not_block_the_others",
        Duration::from_secs(3),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sealed_tokens_round_trip_and_refuse_a_wrong_key() {
    replicas::sealed_tokens_round_trip_and_refuse_a_wrong_key::<Redis, _>(
        "redis_sealed_tokens_round_trip_and_refuse_a_wrong_key",
        |url, key| {
            Box::pin(async move {
                let stores = RedisTokenStores::connect(url).await.unwrap();
                let token_key = stores.store(key.clone()).token_key().to_owned();
                let mut conn = redis::Client::open(url)
                    .unwrap()
                    .get_multiplexed_async_connection()
                    .await
                    .unwrap();
                redis::cmd("GET")
                    .arg(token_key)
                    .query_async::<Vec<u8>>(&mut conn)
                    .await
                    .unwrap()
            })
        },
    )
    .await;
}

/// A live holder whose refresh outlasts the lease keeps the lock: the watchdog renews it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_lease_is_renewed_while_the_holder_lives() {
    let Some(url) = replicas::url_or_skip::<Redis>("redis_lease_is_renewed") else {
        return;
    };
    let key = StoreKey::new("lease", "client", replicas::unique_subject("lease"));
    let stores = RedisTokenStores::connect(&url)
        .await
        .unwrap()
        .lock_lease(Duration::from_millis(600))
        .lock_wait(Duration::from_millis(200));
    let (a, b) = (stores.store(key.clone()), stores.store(key));
    let held = a.lock().await.unwrap();
    tokio::time::sleep(Duration::from_millis(2000)).await; // > 3 leases
    let e = b.lock().await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    held.release().await.unwrap();
    b.lock().await.unwrap().release().await.unwrap();
    // Released: the key is gone, and a stale holder cannot delete a newer holder's lock.
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let exists: bool = redis::cmd("EXISTS")
        .arg(a.lock_key())
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!exists);
}
